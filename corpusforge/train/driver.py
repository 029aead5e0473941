"""Fine-tune a Hugging Face model on a pinned version of a corpusforge Delta table.

Launch (one process, or one per GPU with torchrun; the device is found, not configured)::

    python jobs/finetune.py --config configs/train_finsent.toml
    python jobs/finetune.py --config train.toml --set optim.lr=3e-5 --set run.out_dir=out/try2
    python jobs/finetune.py --resume out/finetune            # newest complete checkpoint of a run
    torchrun --standalone --nproc_per_node=4 jobs/finetune.py --config train.toml   # DDP, 4 GPUs
    torchrun --nnodes=2 --node_rank=0 --master_addr=HOST --nproc_per_node=8 jobs/finetune.py ...

Devices: CUDA when available (bf16 autocast, NCCL DDP under torchrun, one process per GPU),
else an XLA device when `torch_xla` is installed (TPU), else the CPU (gloo DDP under torchrun).
Under DDP every rank reads its own share of the table; an epoch ends when any rank runs out,
so all ranks take the same number of steps. Checkpoints need a filesystem every rank sees.

The run directory (`run.out_dir`) holds `metrics.jsonl` (one line per step and per
evaluation), `checkpoints/step_N/` (the newest `run.keep_checkpoints`), `best/` (the model
with the best validation metric, evaluated on the test split at the end) and `results.json`.
`--resume` continues a run exactly: on CPU with a fixed seed, the resumed run logs the same
losses as one that was never interrupted.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no hub is reachable: never try it
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import torch
from torch.utils.data import DataLoader

from corpusforge import failpoints
from corpusforge.errors import ConfigError, CorpusforgeError
from corpusforge.tables.pins import pin_for_run
from corpusforge.train import checkpoint as ckpt
from corpusforge.train.config import TrainConfig, load_train_config, train_config_dict, train_config_from_dict
from corpusforge.train.data import WORKER_KEY, DeltaTokenDataset
from corpusforge.train.metrics import MetricsLog, is_better
from corpusforge.train.tasks import TableInfo, carve_validation, inspect_table, make_task, needs_carve, steps_per_epoch

FAILPOINT_AFTER_CHECKPOINT = "train_after_checkpoint"  # tests: SIGKILL right after the first checkpoint


@dataclass(frozen=True, kw_only=True)
class Runtime:
    """Where this process runs: device, DDP rank and the autocast dtype."""

    kind: str  # cpu | cuda | xla
    device: torch.device
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    ddp: bool = False
    autocast_dtype: torch.dtype | None = None  # None: full fp32

    @property
    def master_process(self) -> bool:
        return self.rank == 0


def find_device(requested: str) -> str:
    """The device kind to use: `requested`, or for 'auto' CUDA > XLA (torch_xla installed) > CPU.

    >>> find_device("cpu")
    'cpu'
    """
    if requested != "auto":
        return requested
    if torch.cuda.is_available():
        return "cuda"
    import importlib.util

    if importlib.util.find_spec("torch_xla") is not None:
        return "xla"
    return "cpu"


def setup_runtime(cfg: TrainConfig) -> Runtime:
    """Find the device, join the torchrun process group when there is one, pick the precision."""
    kind = find_device(cfg.run.device)
    if kind == "cuda" and not torch.cuda.is_available():
        raise ConfigError("config: run.device = 'cuda' but torch sees no CUDA device")
    ddp = "RANK" in os.environ and int(os.environ.get("WORLD_SIZE", "1")) > 1
    rank = int(os.environ.get("RANK", "0")) if ddp else 0
    local_rank = int(os.environ.get("LOCAL_RANK", "0")) if ddp else 0
    world_size = int(os.environ.get("WORLD_SIZE", "1")) if ddp else 1
    if kind == "cuda":
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    elif kind == "xla":
        import torch_xla.core.xla_model as xm

        device = xm.xla_device()
    else:
        device = torch.device("cpu")
    if ddp:
        backend = {"cuda": "nccl", "xla": "xla", "cpu": "gloo"}[kind]
        if kind == "xla":
            import torch_xla.distributed.xla_backend  # noqa: F401  registers the "xla" backend
        torch.distributed.init_process_group(backend=backend, init_method="xla://" if kind == "xla" else "env://")
    precision = cfg.run.precision
    if precision == "auto":
        bf16_ok = kind == "xla" or (kind == "cuda" and torch.cuda.is_bf16_supported())
        precision = "bf16" if bf16_ok else "fp32"
    autocast_dtype = torch.bfloat16 if precision == "bf16" else None
    if kind == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True  # fp32 matmuls outside autocast
        torch.backends.cudnn.allow_tf32 = True
    return Runtime(kind=kind, device=device, rank=rank, local_rank=local_rank, world_size=world_size, ddp=ddp,
                   autocast_dtype=autocast_dtype)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices) with `seed`."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def lr_schedule(step: int, *, total_steps: int, warmup_steps: int, schedule: str, min_ratio: float) -> float:
    """The learning-rate factor after `step` optimizer steps: linear warmup, then cosine/linear decay.

    >>> [round(lr_schedule(s, total_steps=10, warmup_steps=2, schedule="linear", min_ratio=0.0), 3) for s in (0, 1, 2, 6, 10)]
    [0.5, 1.0, 1.0, 0.5, 0.0]
    """
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    if schedule == "cosine":
        return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))
    return min_ratio + (1.0 - min_ratio) * (1.0 - progress)


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig, runtime: Runtime) -> torch.optim.Optimizer:
    """AdamW; weight decay on matrices only (not biases, LayerNorm weights)."""
    parameters = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in parameters if p.dim() >= 2], "weight_decay": cfg.optim.weight_decay},
        {"params": [p for p in parameters if p.dim() < 2], "weight_decay": 0.0},
    ]
    extra = {"fused": True} if runtime.kind == "cuda" else {}
    return torch.optim.AdamW(groups, lr=cfg.optim.lr, betas=(cfg.optim.beta1, cfg.optim.beta2), eps=cfg.optim.eps, **extra)


def _barrier(runtime: Runtime) -> None:
    if runtime.ddp:
        torch.distributed.barrier()


def _all_reduce_min(value: int, runtime: Runtime) -> int:
    if not runtime.ddp:
        return value
    tensor = torch.tensor([value], dtype=torch.int64, device=runtime.device)
    torch.distributed.all_reduce(tensor, op=torch.distributed.ReduceOp.MIN)
    return int(tensor.item())


def _autocast(runtime: Runtime):
    if runtime.autocast_dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=runtime.kind, dtype=runtime.autocast_dtype)


def _mark_step(runtime: Runtime) -> None:
    if runtime.kind == "xla":
        import torch_xla.core.xla_model as xm

        xm.mark_step()  # cut and run the lazy graph of this step


def _to_device(batch: dict[str, torch.Tensor], runtime: Runtime) -> dict[str, torch.Tensor]:
    return {name: tensor.to(runtime.device, non_blocking=True) for name, tensor in batch.items()}


def _loader(dataset: DeltaTokenDataset, batch_size: int, cfg: TrainConfig, runtime: Runtime, seed: int) -> DataLoader:
    # A DataLoader draws its base seed from the global torch RNG unless given a generator;
    # its own generator keeps dropout's RNG stream identical between a run and its resume.
    return DataLoader(dataset, batch_size=batch_size, num_workers=cfg.data.num_workers,
                      generator=torch.Generator().manual_seed(seed), pin_memory=runtime.kind == "cuda",
                      persistent_workers=False)


def evaluate(model: torch.nn.Module, task: Any, dataset: DeltaTokenDataset, cfg: TrainConfig, runtime: Runtime) -> dict[str, Any]:
    """Metrics of `model` on `dataset` (this rank's share; shares are summed across ranks)."""
    was_training = model.training
    model.eval()
    state = task.new_eval_state(runtime.device)
    with torch.no_grad():
        for batch in _loader(dataset, cfg.run.eval_batch_size, cfg, runtime, seed=cfg.run.seed):
            batch.pop(WORKER_KEY)
            with _autocast(runtime):
                task.update_eval(state, model, _to_device(batch, runtime))
            _mark_step(runtime)
    if runtime.ddp:
        torch.distributed.all_reduce(state, op=torch.distributed.ReduceOp.SUM)
    model.train(was_training)
    return task.finish_eval(state)


def _resolve_config(cfg: TrainConfig | None, resume: str | None) -> tuple[TrainConfig, Path | None, dict | None]:
    if resume is None:
        if cfg is None:
            raise ConfigError("give --config (a train.toml) or --resume (a run or checkpoint directory)")
        return cfg, None, None
    checkpoint = ckpt.resolve_checkpoint(resume)
    saved = train_config_from_dict(ckpt.load_checkpoint_config(checkpoint))
    return (cfg if cfg is not None else saved), checkpoint, train_config_dict(saved)


def _config_differences(saved: dict, current: dict, prefix: str = "") -> list[str]:
    keys = sorted(set(saved) | set(current))
    found = []
    for key in keys:
        a, b = saved.get(key), current.get(key)
        if isinstance(a, dict) and isinstance(b, dict) and key != "config":
            found += _config_differences(a, b, f"{prefix}{key}.")
        elif a != b:
            found.append(f"{prefix}{key}: {a!r} -> {b!r}")
    return found


def train(cfg: TrainConfig | None = None, *, resume: str | None = None) -> dict[str, Any]:
    """Run (or resume) a fine-tuning run; return the results (also written to results.json)."""
    wall_start = time.time()
    cfg, checkpoint, saved_config = _resolve_config(cfg, resume)
    state = ckpt.load_checkpoint_state(checkpoint) if checkpoint is not None else None
    runtime = setup_runtime(cfg)
    master_process = runtime.master_process
    out_dir = Path(cfg.run.out_dir)
    if cfg.run.threads:
        torch.set_num_threads(cfg.run.threads)  # on a busy CPU, fewer threads than cores avoids spin-wait stalls
    import transformers

    transformers.utils.logging.disable_progress_bar()  # ours is the one bar
    if master_process:
        out_dir.mkdir(parents=True, exist_ok=True)
        if saved_config is not None:
            for line in _config_differences(saved_config, train_config_dict(cfg)):
                print(f"finetune: resume with a changed config: {line}", file=sys.stderr)

    # -- data: the pinned version (from the checkpoint on resume), validation carved if needed
    pinned = state["trainer"]["source_version"] if state is not None else None
    if pinned is not None and cfg.data.version >= 0 and cfg.data.version != pinned:
        raise ConfigError(f"--resume: the checkpoint trained on v{pinned} of {cfg.data.table!r}, the config says v{cfg.data.version}")
    info = inspect_table(cfg, version=pinned)
    if master_process:  # register the version read, so VACUUM (jobs/maintain.py) keeps its files
        pin_for_run(info.source_uri, info.source_version, out_dir)
    if needs_carve(cfg, info):
        if master_process:
            info = carve_validation(cfg, info, out_dir)
        _barrier(runtime)
        if not master_process:
            info = carve_validation(cfg, info, out_dir)  # reuses the view the master wrote
    task = make_task(cfg, info)
    has_split = bool(info.split_rows)
    train_split = cfg.data.train_split if has_split else None
    eval_splits = {name: split for name, split in (("validation", cfg.data.validation_split), ("test", cfg.data.test_split))
                   if has_split and split and info.split_rows.get(split, 0) > 0}

    def reader(split: str | None, shuffle: bool) -> DeltaTokenDataset:
        return DeltaTokenDataset(info.uri, version=info.version, params=task.reader_params(split, shuffle=shuffle),
                                 rank=runtime.rank, world_size=runtime.world_size)

    train_data = reader(train_split, shuffle=True)
    eval_data = {name: reader(split, shuffle=False) for name, split in eval_splits.items()}
    train_rows = info.split_rows.get(cfg.data.train_split, 0) if has_split else _row_count(info)

    # -- model, optimizer, schedule
    seed_everything(cfg.run.seed + runtime.rank)
    model = task.build_model().to(runtime.device)
    raw_model = model
    if state is not None:
        ckpt.load_model_weights(raw_model, checkpoint / "model")
    per_epoch = steps_per_epoch(train_rows, runtime.world_size, cfg.optim.batch_size, cfg.optim.grad_accum)
    total_steps = cfg.optim.epochs * per_epoch if cfg.optim.epochs else cfg.optim.max_steps
    if cfg.optim.max_steps:
        total_steps = min(total_steps, cfg.optim.max_steps)
    warmup_steps = cfg.optim.warmup_steps or int(cfg.optim.warmup_ratio * total_steps)
    optimizer = make_optimizer(raw_model, cfg, runtime)

    def lr_lambda(step: int) -> float:
        return lr_schedule(step, total_steps=total_steps, warmup_steps=warmup_steps, schedule=cfg.optim.schedule,
                           min_ratio=cfg.optim.min_lr_ratio)

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)
    if runtime.ddp:
        ids = [runtime.local_rank] if runtime.kind == "cuda" else None
        model = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)

    # -- where we are: a fresh start or the checkpoint's position
    step, epoch, best_value, best_step = 0, 0, None, None
    totals = {"samples": 0, "tokens": 0, "train_time_s": 0.0, "data_wait_s": 0.0}
    train_data.set_epoch(0)
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        trainer = state["trainer"]
        step, epoch, best_value, best_step = trainer["step"], trainer["epoch"], trainer["best_value"], trainer["best_step"]
        totals = dict(trainer["totals"])
        rank_state = ckpt.load_rank_state(checkpoint, runtime.rank)
        reader_state = dict(rank_state["reader"])
        if info.carved and Path(reader_state["table"]).parts[-2:] == Path(info.uri).parts[-2:]:
            reader_state["table"] = info.uri  # the run directory (and its split view) was moved or copied
        train_data.load_state_dict(reader_state)
        ckpt.restore_rng_state(rank_state["rng"])
    log = MetricsLog(out_dir / "metrics.jsonl")
    if master_process:
        if state is not None:
            log.truncate_after(step)  # lines a killed run wrote after its last checkpoint
        else:
            log.path.unlink(missing_ok=True)
        print(f"finetune: {task.name} on {info.source_uri} v{info.source_version} ({train_rows} train rows"
              f"{', validation carved' if info.carved else ''}); device {runtime.kind} x{runtime.world_size}, "
              f"{'bf16' if runtime.autocast_dtype else 'fp32'}; {total_steps} steps from step {step}", file=sys.stderr)

    config_data = train_config_dict(cfg)
    last_eval_step = state["trainer"]["last_eval_step"] if state is not None else -1
    last_checkpoint_step = step if state is not None else -1

    def validate() -> None:
        nonlocal best_value, best_step, last_eval_step
        last_eval_step = step
        if "validation" not in eval_data:
            return
        metrics = evaluate(raw_model, task, eval_data["validation"], cfg, runtime)
        value = metrics[task.best_metric]
        improved = is_better(value, best_value, task.higher_is_better)
        if improved:
            best_value, best_step = value, step
        if master_process:
            log.write({"step": step, "epoch": epoch, "eval": "validation",
                       **{k: v for k, v in metrics.items() if k not in ("per_class", "labels")}})
            if improved:
                _save_best(raw_model, out_dir, step, metrics)

    def save_checkpoint() -> None:
        nonlocal last_checkpoint_step
        last_checkpoint_step = step
        tmp, final = ckpt.checkpoint_paths(out_dir, step)
        if master_process:
            trainer_state = {"step": step, "epoch": epoch, "best_value": best_value, "best_step": best_step,
                             "last_eval_step": last_eval_step, "totals": dict(totals), "source_version": info.source_version, "world_size": runtime.world_size}
            shared = {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "trainer": trainer_state}
            ckpt.write_shared(tmp, model=raw_model, state=shared, config=config_data)
        _barrier(runtime)
        ckpt.write_rank_state(tmp, runtime.rank, {"reader": train_data.state_dict(), "rng": ckpt.capture_rng_state()})
        _barrier(runtime)
        if master_process:
            ckpt.commit_checkpoint(tmp, final, out_dir, keep=cfg.run.keep_checkpoints)
        _barrier(runtime)
        failpoints.hit(FAILPOINT_AFTER_CHECKPOINT)

    # -- the loop: one iteration = one optimizer step over grad_accum micro-batches
    from tqdm import tqdm

    progress = tqdm(total=total_steps, initial=step, disable=not (master_process and cfg.run.progress),
                    desc="finetune", dynamic_ncols=True, file=sys.stderr)
    model.train()
    while step < total_steps and (cfg.optim.epochs == 0 or epoch < cfg.optim.epochs):
        batches = iter(_loader(train_data, cfg.optim.batch_size, cfg, runtime, seed=cfg.run.seed * 1000 + epoch))
        epoch_done = False
        while step < total_steps:
            t0 = time.perf_counter()
            group = [batch for _, batch in zip(range(cfg.optim.grad_accum), batches)]
            data_wait = time.perf_counter() - t0
            micro_steps = _all_reduce_min(len(group), runtime)  # every rank takes the same number of steps
            if micro_steps == 0:
                epoch_done = True
                break
            positions, loss_sum, samples, tokens = [], 0.0, 0, 0
            for index, batch in enumerate(group[:micro_steps]):
                positions.append(batch.pop(WORKER_KEY))
                samples += batch["input_ids"].shape[0]
                tokens += int(batch["attention_mask"].sum())
                batch = _to_device(batch, runtime)
                # gradients are all-reduced only on the last micro-batch of the step
                sync = model.no_sync() if runtime.ddp and index < micro_steps - 1 else contextlib.nullcontext()
                with sync:
                    with _autocast(runtime):
                        loss = model(**batch).loss / micro_steps
                    loss.backward()
                loss_sum += loss.detach()
            grad_norm = torch.nn.utils.clip_grad_norm_(raw_model.parameters(), cfg.optim.grad_clip) if cfg.optim.grad_clip > 0 else None
            lr = scheduler.get_last_lr()[0]
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            _mark_step(runtime)
            for position in positions:
                train_data.mark_consumed(position)
            step += 1
            step_loss = float(loss_sum)  # syncs with the device: the step is done when this returns
            step_time = time.perf_counter() - t0
            totals["samples"] += samples * runtime.world_size
            totals["tokens"] += tokens * runtime.world_size
            totals["train_time_s"] += step_time
            totals["data_wait_s"] += data_wait
            if master_process:
                samples_per_s = samples * runtime.world_size / step_time
                progress.update(1)
                progress.set_postfix(loss=f"{step_loss:.4f}", samples_s=f"{samples_per_s:.1f}", refresh=False)
                if step % cfg.run.log_every == 0:
                    log.write({"step": step, "epoch": epoch, "loss": step_loss, "lr": lr,
                               "grad_norm": None if grad_norm is None else float(grad_norm),
                               "samples": samples * runtime.world_size, "tokens": tokens * runtime.world_size,
                               "step_s": step_time, "data_wait_s": data_wait, "samples_per_s": samples_per_s,
                               "tokens_per_s": tokens * runtime.world_size / step_time})
            if cfg.run.eval_every and step % cfg.run.eval_every == 0:
                validate()
            if cfg.run.checkpoint_every and step % cfg.run.checkpoint_every == 0:
                save_checkpoint()
            if micro_steps < cfg.optim.grad_accum:  # a short last group: the epoch is over
                epoch_done = True
                break
        if not epoch_done:
            break  # total_steps reached inside the epoch
        epoch += 1
        train_data.set_epoch(epoch)
        if last_eval_step != step:
            validate()
        if not cfg.run.checkpoint_every and last_checkpoint_step != step:
            save_checkpoint()
    progress.close()
    if last_eval_step != step:
        validate()
    if last_checkpoint_step != step:
        save_checkpoint()

    # -- final evaluation with the best model (by validation), written to results.json
    if best_step is not None and (out_dir / "best" / "model").is_dir():
        ckpt.load_model_weights(raw_model, out_dir / "best" / "model")
    final = {name: evaluate(raw_model, task, dataset, cfg, runtime) for name, dataset in eval_data.items()}
    results = {
        "task": task.name,
        "table": {"uri": info.source_uri, "version": info.source_version,
                  "read_from": info.uri, "read_version": info.version, "validation_carved": info.carved},
        "label_map": task.label_map,
        # Whole passes over the train split: a step budget that ends exactly on an epoch's last
        # step leaves the loop before its epoch counter moves on.
        "steps": step, "epochs_completed": step // per_epoch if per_epoch else epoch, "total_steps": total_steps,
        "best": {"metric": task.best_metric, "value": best_value, "step": best_step},
        "metrics": final,
        "train": {**totals,
                  "samples_per_s": totals["samples"] / totals["train_time_s"] if totals["train_time_s"] else None,
                  "tokens_per_s": totals["tokens"] / totals["train_time_s"] if totals["train_time_s"] else None,
                  "data_wait_share": totals["data_wait_s"] / totals["train_time_s"] if totals["train_time_s"] else None},
        "device": {"kind": runtime.kind, "world_size": runtime.world_size,
                   "precision": "bf16" if runtime.autocast_dtype else "fp32"},
        "resumed_from": str(checkpoint) if checkpoint is not None else None,
        "config": config_data,
        "wall_time_s": time.time() - wall_start,
    }
    if master_process:
        tmp = out_dir / "results.json.tmp"
        tmp.write_text(json.dumps(results, indent=2, sort_keys=True), encoding="utf-8")
        os.replace(tmp, out_dir / "results.json")
        summary = ", ".join(f"{name} {task.best_metric}={metrics[task.best_metric]:.4f}" for name, metrics in final.items())
        print(f"finetune: done in {results['wall_time_s']:.0f}s, {step} steps; {summary or 'no evaluation split'}; "
              f"results in {out_dir / 'results.json'}", file=sys.stderr)
    if runtime.ddp:
        torch.distributed.destroy_process_group()
    return results


def _row_count(info: TableInfo) -> int:
    from corpusforge.train.data import open_delta_version

    import pyarrow as pa

    actions = pa.table(open_delta_version(info.uri, info.version).get_add_actions(flatten=True))
    return sum(int(n) for n in actions.column("num_records").to_pylist())


def _save_best(model: torch.nn.Module, out_dir: Path, step: int, metrics: dict[str, Any]) -> None:
    best, tmp = out_dir / "best", out_dir / ".tmp-best"
    shutil.rmtree(tmp, ignore_errors=True)
    ckpt.save_model(model, tmp / "model")
    (tmp / "metrics.json").write_text(json.dumps({"step": step, "validation": metrics}, indent=2, sort_keys=True), encoding="utf-8")
    shutil.rmtree(best, ignore_errors=True)
    os.replace(tmp, best)


def build_parser() -> argparse.ArgumentParser:
    """The command line of `jobs/finetune.py` (its --help shows the launch commands)."""
    parser = argparse.ArgumentParser(prog="finetune", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", help="train.toml (TrainConfig: task, [data], [model], [optim], [run])")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override one config key (repeatable), e.g. --set optim.lr=3e-5")
    parser.add_argument("--resume", metavar="DIR", help="a run directory (its newest complete checkpoint) or a checkpoint directory")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse, train, print one line per error; the exit code is the error's."""
    args = build_parser().parse_args(argv)
    try:
        if args.config is None and args.resume is not None:
            # resume with the checkpoint's own config, changed only by --set
            saved = ckpt.load_checkpoint_config(ckpt.resolve_checkpoint(args.resume))
            cfg = train_config_from_dict(saved, args.overrides)
        else:
            cfg = load_train_config(args.config, args.overrides) if args.config is not None else None
        train(cfg, resume=args.resume)
    except CorpusforgeError as error:
        print(f"finetune: error: {error}", file=sys.stderr)
        return error.exit_code
    return 0
