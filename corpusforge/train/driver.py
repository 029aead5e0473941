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
evaluation), `tensorboard/` (event files: `tensorboard --logdir OUT_DIR/tensorboard`), `checkpoints/step_N/` (the newest `run.keep_checkpoints`), `best/` (the model
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no hub is reachable: never try it
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import torch
from torch.utils.data import DataLoader

from corpusforge import failpoints
from corpusforge.errors import ConfigError, CorpusforgeError, InputError
from corpusforge.tables.pins import pin_for_run
from corpusforge.train import checkpoint as ckpt
from corpusforge.train.config import TrainConfig, load_train_config, train_config_dict, train_config_from_dict
from corpusforge.train.data import WORKER_KEY, DeltaTokenDataset
from corpusforge.train.metrics import is_better
from corpusforge.train.monitor import RunLog
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


def evaluate_model_dir(cfg: TrainConfig, model_dir: str | os.PathLike[str], *, split: str, version: int) -> dict[str, Any]:
    """Metrics of the saved model in `model_dir` on `split` of `cfg.data.table` at `version`.

    The sweep's one look at the test split: the chosen trial's best model, read from its
    safetensors (no unpickling), on rows the trials never saw.
    """
    info = inspect_table(cfg, version=version)
    model = make_task(cfg, info).build_model()
    ckpt.load_model_weights(model, model_dir)
    return evaluate_split(cfg, model, split=split, version=version)


def evaluate_split(cfg: TrainConfig, model: torch.nn.Module, *, split: str, version: int) -> dict[str, Any]:
    """Metrics of `model` (any module with the task's forward, e.g. an int8 export) on `split` at `version`."""
    runtime = setup_runtime(cfg)
    if cfg.run.threads:
        torch.set_num_threads(cfg.run.threads)
    info = inspect_table(cfg, version=version)
    if info.split_rows.get(split, 0) == 0:
        raise InputError(f"Delta table {info.source_uri!r} v{info.version} has no rows of split {split!r}")
    task = make_task(cfg, info)
    dataset = DeltaTokenDataset(info.uri, version=info.version, params=task.reader_params(split, shuffle=False))
    return evaluate(model.to(runtime.device), task, dataset, cfg, runtime)


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


# -- the run, in named steps: setup, data, model, position, loop (step, validate, checkpoint), results


@dataclass(kw_only=True)
class RunSetup:
    """Step 1: the resolved config, the checkpoint resumed from (if any), the device."""

    cfg: TrainConfig
    runtime: Runtime
    out_dir: Path
    checkpoint: Path | None  # the checkpoint directory resumed from; None for a fresh run
    state: dict[str, Any] | None  # its state.pt (optimizer, scheduler, trainer counters)
    config_data: dict[str, Any]  # the resolved config as saved into checkpoints and results.json


@dataclass(kw_only=True)
class RunData:
    """Step 2: the pinned table, the task it implies and the datasets of each split."""

    info: TableInfo
    task: Any  # ClassificationTask | CausalLMTask
    train_data: DeltaTokenDataset
    eval_data: dict[str, DeltaTokenDataset]  # "validation" / "test" → dataset, for the splits the table has
    train_rows: int


@dataclass(kw_only=True)
class RunModel:
    """Step 3: the model (DDP-wrapped when distributed), its optimizer and learning-rate schedule."""

    model: torch.nn.Module  # what the forward pass calls (DDP wrapper under torchrun)
    raw_model: torch.nn.Module  # the Hugging Face model itself: saved, evaluated
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    per_epoch: int  # optimizer steps per epoch
    total_steps: int


@dataclass(kw_only=True)
class Position:
    """Where the run is; saved in every checkpoint so that a resume continues exactly."""

    step: int = 0
    epoch: int = 0
    best_value: float | None = None
    best_step: int | None = None
    last_eval_step: int = -1
    last_checkpoint_step: int = -1
    totals: dict[str, float] = field(default_factory=lambda: {"samples": 0, "tokens": 0, "train_time_s": 0.0, "data_wait_s": 0.0})


def setup_run(cfg: TrainConfig | None, resume: str | None) -> RunSetup:
    """Resolve the config (the checkpoint's on a bare --resume), find the device, make the run directory."""
    cfg, checkpoint, saved_config = _resolve_config(cfg, resume)
    state = ckpt.load_checkpoint_state(checkpoint) if checkpoint is not None else None
    runtime = setup_runtime(cfg)
    if cfg.run.threads:
        torch.set_num_threads(cfg.run.threads)  # on a busy CPU, fewer threads than cores avoids spin-wait stalls
    import transformers

    transformers.utils.logging.disable_progress_bar()  # ours is the one bar
    out_dir = Path(cfg.run.out_dir)
    if runtime.master_process:
        out_dir.mkdir(parents=True, exist_ok=True)
        if saved_config is not None:
            for line in _config_differences(saved_config, train_config_dict(cfg)):
                print(f"finetune: resume with a changed config: {line}", file=sys.stderr)
    return RunSetup(cfg=cfg, runtime=runtime, out_dir=out_dir, checkpoint=checkpoint, state=state,
                    config_data=train_config_dict(cfg))


def open_data(run: RunSetup) -> RunData:
    """The pinned version (the checkpoint's on resume), validation carved if the table has none, one reader per split."""
    cfg, runtime = run.cfg, run.runtime
    pinned = run.state["trainer"]["source_version"] if run.state is not None else None
    if pinned is not None and cfg.data.version >= 0 and cfg.data.version != pinned:
        raise ConfigError(f"--resume: the checkpoint trained on v{pinned} of {cfg.data.table!r}, the config says v{cfg.data.version}")
    info = inspect_table(cfg, version=pinned)
    if runtime.master_process:  # register the version read, so VACUUM (jobs/maintain.py) keeps its files
        pin_for_run(info.source_uri, info.source_version, run.out_dir)
    if needs_carve(cfg, info):
        if runtime.master_process:
            info = carve_validation(cfg, info, run.out_dir)
        _barrier(runtime)
        if not runtime.master_process:
            info = carve_validation(cfg, info, run.out_dir)  # reuses the view the master wrote
    task = make_task(cfg, info)
    has_split = bool(info.split_rows)
    eval_splits = {name: split for name, split in (("validation", cfg.data.validation_split), ("test", cfg.data.test_split))
                   if has_split and split and info.split_rows.get(split, 0) > 0}

    def reader(split: str | None, shuffle: bool) -> DeltaTokenDataset:
        return DeltaTokenDataset(info.uri, version=info.version, params=task.reader_params(split, shuffle=shuffle),
                                 rank=runtime.rank, world_size=runtime.world_size)

    return RunData(
        info=info, task=task,
        train_data=reader(cfg.data.train_split if has_split else None, shuffle=True),
        eval_data={name: reader(split, shuffle=False) for name, split in eval_splits.items()},
        train_rows=info.split_rows.get(cfg.data.train_split, 0) if has_split else _row_count(info),
    )


def build_training(run: RunSetup, data: RunData) -> RunModel:
    """The model (the checkpoint's weights on resume), AdamW and the warmup + decay schedule."""
    cfg, runtime = run.cfg, run.runtime
    seed_everything(cfg.run.seed + runtime.rank)
    model = raw_model = data.task.build_model().to(runtime.device)
    if run.checkpoint is not None:
        ckpt.load_model_weights(raw_model, run.checkpoint / "model")
    per_epoch = steps_per_epoch(data.train_rows, runtime.world_size, cfg.optim.batch_size, cfg.optim.grad_accum)
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
    return RunModel(model=model, raw_model=raw_model, optimizer=optimizer, scheduler=scheduler, per_epoch=per_epoch,
                    total_steps=total_steps)


def restore_position(run: RunSetup, data: RunData, built: RunModel) -> Position:
    """A fresh start, or the checkpoint's step, optimizer, schedule, reader position and RNG states."""
    data.train_data.set_epoch(0)
    if run.state is None:
        return Position()
    built.optimizer.load_state_dict(run.state["optimizer"])
    built.scheduler.load_state_dict(run.state["scheduler"])
    trainer = run.state["trainer"]
    position = Position(step=trainer["step"], epoch=trainer["epoch"], best_value=trainer["best_value"],
                        best_step=trainer["best_step"], last_eval_step=trainer["last_eval_step"],
                        last_checkpoint_step=trainer["step"], totals=dict(trainer["totals"]))
    rank_state = ckpt.load_rank_state(run.checkpoint, run.runtime.rank)
    reader_state = dict(rank_state["reader"])
    if data.info.carved and Path(reader_state["table"]).parts[-2:] == Path(data.info.uri).parts[-2:]:
        reader_state["table"] = data.info.uri  # the run directory (and its split view) was moved or copied
    data.train_data.load_state_dict(reader_state)
    ckpt.restore_rng_state(rank_state["rng"])
    return position


def open_run_log(run: RunSetup, data: RunData, built: RunModel, position: Position) -> RunLog | None:
    """metrics.jsonl and TensorBoard events (master only), cut back to the checkpoint's step on resume; announce the run."""
    log = None
    if run.runtime.master_process:
        log = RunLog(run.out_dir, tensorboard=run.cfg.run.tensorboard, resume_step=position.step if run.state is not None else None)
        info, runtime = data.info, run.runtime
        print(f"finetune: {data.task.name} on {info.source_uri} v{info.source_version} ({data.train_rows} train rows"
              f"{', validation carved' if info.carved else ''}); device {runtime.kind} x{runtime.world_size}, "
              f"{'bf16' if runtime.autocast_dtype else 'fp32'}; {built.total_steps} steps from step {position.step}",
              file=sys.stderr)
    return log


def validate(run: RunSetup, data: RunData, built: RunModel, position: Position, log: RunLog | None) -> None:
    """Evaluate on validation; keep the model in best/ when the best metric improved."""
    position.last_eval_step = position.step
    if "validation" not in data.eval_data:
        return
    metrics = evaluate(built.raw_model, data.task, data.eval_data["validation"], run.cfg, run.runtime)
    improved = is_better(metrics[data.task.best_metric], position.best_value, data.task.higher_is_better)
    if improved:
        position.best_value, position.best_step = metrics[data.task.best_metric], position.step
    if run.runtime.master_process:
        log.evaluation(position.step, position.epoch, "validation", metrics)
        if improved:
            _save_best(built.raw_model, run.out_dir, position.step, metrics)


def save_checkpoint(run: RunSetup, data: RunData, built: RunModel, position: Position) -> None:
    """Write checkpoint step_N: model + shared state on the master, reader position + RNG on every rank."""
    runtime = run.runtime
    position.last_checkpoint_step = position.step
    tmp, final = ckpt.checkpoint_paths(run.out_dir, position.step)
    if runtime.master_process:
        trainer_state = {"step": position.step, "epoch": position.epoch, "best_value": position.best_value,
                         "best_step": position.best_step, "last_eval_step": position.last_eval_step,
                         "totals": dict(position.totals), "source_version": data.info.source_version,
                         "world_size": runtime.world_size}
        shared = {"optimizer": built.optimizer.state_dict(), "scheduler": built.scheduler.state_dict(), "trainer": trainer_state}
        ckpt.write_shared(tmp, model=built.raw_model, state=shared, config=run.config_data)
    _barrier(runtime)
    ckpt.write_rank_state(tmp, runtime.rank, {"reader": data.train_data.state_dict(), "rng": ckpt.capture_rng_state()})
    _barrier(runtime)
    if runtime.master_process:
        ckpt.commit_checkpoint(tmp, final, run.out_dir, keep=run.cfg.run.keep_checkpoints)
    _barrier(runtime)
    failpoints.hit(FAILPOINT_AFTER_CHECKPOINT)


def train_step(run: RunSetup, data: RunData, built: RunModel, batches: Any) -> dict[str, Any] | None:
    """One optimizer step over up to grad_accum micro-batches; None when the epoch had none left.

    Returns the step's record (loss, lr, grad norm, counts, times) and `micro_steps`, the
    micro-batches it took (fewer than grad_accum: the epoch ended inside this step).
    """
    cfg, runtime, model = run.cfg, run.runtime, built.model
    t0 = time.perf_counter()
    group = [batch for _, batch in zip(range(cfg.optim.grad_accum), batches)]
    data_wait = time.perf_counter() - t0
    micro_steps = _all_reduce_min(len(group), runtime)  # every rank takes the same number of steps
    if micro_steps == 0:
        return None
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
    grad_norm = (torch.nn.utils.clip_grad_norm_(built.raw_model.parameters(), cfg.optim.grad_clip)
                 if cfg.optim.grad_clip > 0 else None)
    lr = built.scheduler.get_last_lr()[0]
    built.optimizer.step()
    built.scheduler.step()
    built.optimizer.zero_grad(set_to_none=True)
    _mark_step(runtime)
    for position in positions:
        data.train_data.mark_consumed(position)
    step_loss = float(loss_sum)  # syncs with the device: the step is done when this returns
    step_time = time.perf_counter() - t0
    world = runtime.world_size
    return {"loss": step_loss, "lr": lr, "grad_norm": None if grad_norm is None else float(grad_norm),
            "samples": samples * world, "tokens": tokens * world, "step_s": step_time, "data_wait_s": data_wait,
            "samples_per_s": samples * world / step_time, "tokens_per_s": tokens * world / step_time,
            "micro_steps": micro_steps}


def train_loop(run: RunSetup, data: RunData, built: RunModel, position: Position, log: RunLog | None) -> None:
    """Epochs of steps until the step budget or the epoch count is reached; validate and checkpoint on schedule."""
    from tqdm import tqdm

    cfg, master_process = run.cfg, run.runtime.master_process
    progress = tqdm(total=built.total_steps, initial=position.step, disable=not (master_process and cfg.run.progress),
                    desc="finetune", dynamic_ncols=True, file=sys.stderr)
    built.model.train()
    while position.step < built.total_steps and (cfg.optim.epochs == 0 or position.epoch < cfg.optim.epochs):
        batches = iter(_loader(data.train_data, cfg.optim.batch_size, cfg, run.runtime,
                               seed=cfg.run.seed * 1000 + position.epoch))
        epoch_done = False
        while position.step < built.total_steps:
            record = train_step(run, data, built, batches)
            if record is None:
                epoch_done = True
                break
            micro_steps = record.pop("micro_steps")
            position.step += 1
            for key in ("samples", "tokens"):
                position.totals[key] += record[key]
            position.totals["train_time_s"] += record["step_s"]
            position.totals["data_wait_s"] += record["data_wait_s"]
            if master_process:
                progress.update(1)
                progress.set_postfix(loss=f"{record['loss']:.4f}", samples_s=f"{record['samples_per_s']:.1f}", refresh=False)
                if position.step % cfg.run.log_every == 0:
                    log.step(position.step, position.epoch, record)
            if cfg.run.eval_every and position.step % cfg.run.eval_every == 0:
                validate(run, data, built, position, log)
            if cfg.run.checkpoint_every and position.step % cfg.run.checkpoint_every == 0:
                save_checkpoint(run, data, built, position)
            if micro_steps < cfg.optim.grad_accum:  # a short last group: the epoch is over
                epoch_done = True
                break
        if not epoch_done:
            break  # total_steps reached inside the epoch
        position.epoch += 1
        data.train_data.set_epoch(position.epoch)
        if position.last_eval_step != position.step:
            validate(run, data, built, position, log)
        if not cfg.run.checkpoint_every and position.last_checkpoint_step != position.step:
            save_checkpoint(run, data, built, position)
    progress.close()
    if position.last_eval_step != position.step:
        validate(run, data, built, position, log)
    if position.last_checkpoint_step != position.step:
        save_checkpoint(run, data, built, position)


def final_results(run: RunSetup, data: RunData, built: RunModel, position: Position, wall_start: float) -> dict[str, Any]:
    """Evaluate the best model (by validation) on every evaluation split; the results.json record."""
    best_dir = run.out_dir / "best"
    known: dict[str, Any] = {}
    if position.best_step is not None and (best_dir / "model").is_dir():
        ckpt.load_model_weights(built.raw_model, best_dir / "model")
        saved = json.loads((best_dir / "metrics.json").read_text(encoding="utf-8"))
        if saved.get("step") == position.best_step and not run.runtime.ddp:
            # best/ was validated when it was saved: the same weights on the same rows give the
            # same numbers, so validation is not read a second time (under DDP every rank must
            # take part in each evaluation, and only the master wrote best/).
            known["validation"] = saved["validation"]
    final = {name: known[name] if name in known else evaluate(built.raw_model, data.task, dataset, run.cfg, run.runtime)
             for name, dataset in data.eval_data.items()}
    info, totals, runtime = data.info, position.totals, run.runtime
    per_second = (lambda amount: amount / totals["train_time_s"]) if totals["train_time_s"] else (lambda amount: None)
    return {
        "task": data.task.name,
        "table": {"uri": info.source_uri, "version": info.source_version,
                  "read_from": info.uri, "read_version": info.version, "validation_carved": info.carved},
        "label_map": data.task.label_map,
        # Whole passes over the train split: a step budget that ends exactly on an epoch's last
        # step leaves the loop before its epoch counter moves on.
        "steps": position.step,
        "epochs_completed": position.step // built.per_epoch if built.per_epoch else position.epoch,
        "total_steps": built.total_steps,
        "best": {"metric": data.task.best_metric, "value": position.best_value, "step": position.best_step},
        "metrics": final,
        "train": {**totals, "samples_per_s": per_second(totals["samples"]), "tokens_per_s": per_second(totals["tokens"]),
                  "data_wait_share": per_second(totals["data_wait_s"])},
        "device": {"kind": runtime.kind, "world_size": runtime.world_size,
                   "precision": "bf16" if runtime.autocast_dtype else "fp32"},
        "resumed_from": str(run.checkpoint) if run.checkpoint is not None else None,
        "config": run.config_data,
        "wall_time_s": time.time() - wall_start,
    }


def write_results(run: RunSetup, results: dict[str, Any]) -> None:
    """results.json (atomically) and a one-line summary on stderr."""
    tmp = run.out_dir / "results.json.tmp"
    tmp.write_text(json.dumps(results, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, run.out_dir / "results.json")
    metric = results["best"]["metric"]
    summary = ", ".join(f"{name} {metric}={metrics[metric]:.4f}" for name, metrics in results["metrics"].items())
    print(f"finetune: done in {results['wall_time_s']:.0f}s, {results['steps']} steps; {summary or 'no evaluation split'}; "
          f"results in {run.out_dir / 'results.json'}", file=sys.stderr)


def train(cfg: TrainConfig | None = None, *, resume: str | None = None) -> dict[str, Any]:
    """Run (or resume) a fine-tuning run; return the results (also written to results.json)."""
    wall_start = time.time()
    run = setup_run(cfg, resume)
    data = open_data(run)
    built = build_training(run, data)
    position = restore_position(run, data, built)
    log = open_run_log(run, data, built, position)
    train_loop(run, data, built, position, log)
    results = final_results(run, data, built, position, wall_start)
    if run.runtime.master_process:
        log.final(position.step, results["metrics"])
        log.close()
        write_results(run, results)
    if run.runtime.ddp:
        torch.distributed.destroy_process_group()
    return results


def _row_count(info: TableInfo) -> int:
    from corpusforge.tokenize.pinned import open_delta_version

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
