"""Pruned and int8 exports of a fine-tuned classifier against the fp32 model: accuracy on a split,
file size, and CPU latency per batch.

    python benchmarks/bench_compress.py --run out/sweep_finsent/trials/<trial_id> --out out/compress
    python benchmarks/bench_compress.py --run RUN --out OUT --variants int8          # one variant per process
    python benchmarks/bench_compress.py --run RUN --out OUT --latency                # time all three round-robin
    python benchmarks/bench_compress.py --run RUN --out OUT --report                 # merge the variants' JSON

`--run` is a finished run directory (results.json + best/model). The split (default `test`) is
read from the run's own table and version. The prune amount is fixed up front (`--prune`), not
chosen on the split, so the deltas are measurements, not a second selection on test. The fp32
row takes the metrics a sweep already wrote (`--fp32-metrics sweep.json`) so the fp32 model is
not read on test again; without it, fp32 is evaluated here too.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from corpusforge.train import compress  # noqa: E402
from corpusforge.train.config import train_config_from_dict  # noqa: E402
from corpusforge.train.data import WORKER_KEY, DeltaTokenDataset, ReaderParams  # noqa: E402
from corpusforge.train.driver import evaluate_split  # noqa: E402


def _latency_batch(cfg, results: dict, split: str, batch_size: int) -> dict[str, torch.Tensor]:
    dataset = DeltaTokenDataset(results["table"]["uri"], version=results["table"]["version"], params=ReaderParams(
        seq_length=cfg.data.seq_length, pad_id=cfg.data.pad_id, split=split, label_column=cfg.data.label_column,
        label_map=results["label_map"], shuffle=False))
    batch = next(iter(DataLoader(dataset, batch_size=batch_size)))
    batch.pop(WORKER_KEY)
    return batch


def measure(run: Path, out: Path, variant: str, *, split: str, prune_amount: float, batch_size: int, repeats: int,
            fp32_metrics: dict | None) -> dict:
    """One variant (fp32, int8 or pruned): export it, load the export, evaluate on `split`, time it."""
    results = json.loads((run / "results.json").read_text(encoding="utf-8"))
    cfg = train_config_from_dict(results["config"], ["run.threads=1"])
    fp32_dir = run / "best" / "model"
    model = compress.load_classifier(fp32_dir)
    row: dict = {"variant": variant, "split": split}
    started = time.time()
    if variant == "fp32":
        loaded, row["file"], row["bytes"] = model, str(fp32_dir / "model.safetensors"), compress.file_size(fp32_dir / "model.safetensors")
    elif variant == "int8":
        weights = compress.save_int8(model, out / "int8")
        loaded = compress.load_int8(out / "int8")
        row["runtime"] = "dynamic" if not any(isinstance(m, compress.Int8Linear) for m in loaded.modules()) else "weight_only"
        row["file"], row["bytes"] = str(weights), weights.stat().st_size
    elif variant == "pruned":
        row["pruning"] = compress.magnitude_prune(model, prune_amount)
        weights = compress.save_sparse(model, out / f"pruned{int(prune_amount * 100)}")
        loaded = compress.load_sparse(weights.parent)
        row["file"], row["bytes"] = str(weights), weights.stat().st_size
    else:
        raise SystemExit(f"bench_compress: unknown variant {variant!r}; expected fp32, int8 or pruned")
    torch.set_num_threads(1)
    if variant == "fp32" and fp32_metrics is not None:
        row["metrics"], row["metrics_from"] = fp32_metrics, "sweep.json (the sweep's one test evaluation)"
    else:
        row["metrics"] = evaluate_split(cfg, loaded, split=split, version=results["table"]["version"])
    batch = _latency_batch(cfg, results, split, batch_size)
    row["latency"] = {**compress.cpu_latency_ms(loaded, batch, repeats=repeats), "batch_size": batch_size,
                      "seq_length": cfg.data.seq_length, "threads": 1}
    row["wall_s"] = time.time() - started
    return row


def interleaved_latency(run: Path, out: Path, *, split: str, prune_amount: float, batch_size: int, repeats: int) -> None:
    """Time fp32, int8 and pruned on the same batch in one process, round-robin, so that a busy
    machine slows them alike; overwrite each variant's `latency` with these numbers."""
    results = json.loads((run / "results.json").read_text(encoding="utf-8"))
    cfg = train_config_from_dict(results["config"], ["run.threads=1"])
    torch.set_num_threads(1)
    models = {"fp32": compress.load_classifier(run / "best" / "model"), "int8": compress.load_int8(out / "int8"),
              "pruned": compress.load_sparse(out / f"pruned{int(prune_amount * 100)}")}
    batch = _latency_batch(cfg, results, split, batch_size)
    times: dict[str, list[float]] = {name: [] for name in models}
    for name, model in models.items():
        compress.cpu_latency_ms(model, batch, repeats=1, warmup=2)
    for _ in range(repeats):
        for name, model in models.items():
            times[name].append(compress.cpu_latency_ms(model, batch, repeats=1, warmup=0)["median_ms"])
    for name, values in times.items():
        path = out / f"variant_{name}.json"
        row = json.loads(path.read_text())
        row["latency"] = {"median_ms": float(sorted(values)[len(values) // 2]), "min_ms": min(values), "repeats": repeats,
                          "batch_size": batch_size, "seq_length": cfg.data.seq_length, "threads": 1, "interleaved": True}
        path.write_text(json.dumps(row, indent=2, sort_keys=True), encoding="utf-8")


def report(out: Path) -> dict:
    """Merge the per-variant JSON files into one table with deltas against fp32."""
    rows = {path.stem.removeprefix("variant_"): json.loads(path.read_text()) for path in sorted(out.glob("variant_*.json"))}
    base = rows.get("fp32")
    for row in rows.values():
        if base is not None:
            row["accuracy_delta"] = row["metrics"]["accuracy"] - base["metrics"]["accuracy"]
            row["size_ratio"] = row["bytes"] / base["bytes"]
            row["latency_ratio"] = row["latency"]["median_ms"] / base["latency"]["median_ms"]
        print(f"{row['variant']:>7}: {row['split']} accuracy {row['metrics']['accuracy']:.4f} "
              f"(delta {row.get('accuracy_delta', 0):+.4f}), {row['bytes'] / 1e6:.1f} MB, "
              f"{row['latency']['median_ms']:.0f} ms/batch median")
    (out / "compress.json").write_text(json.dumps(rows, indent=2, sort_keys=True), encoding="utf-8")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="a finished run directory (results.json, best/model)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--variants", default="fp32,int8,pruned")
    parser.add_argument("--split", default="test")
    parser.add_argument("--prune", type=float, default=0.5, help="share of linear weights zeroed (fixed, not tuned)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--fp32-metrics", type=Path, help="sweep.json whose 'test' metrics are the fp32 row's")
    parser.add_argument("--report", action="store_true", help="only merge the variants' JSON in --out")
    parser.add_argument("--latency", action="store_true",
                        help="after the variants exist in --out: time all three round-robin in this process, then report")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.latency:
        interleaved_latency(args.run, args.out, split=args.split, prune_amount=args.prune, batch_size=args.batch_size,
                            repeats=args.repeats)
    elif not args.report:
        fp32_metrics = json.loads(args.fp32_metrics.read_text())["test"] if args.fp32_metrics else None
        for variant in args.variants.split(","):
            row = measure(args.run, args.out, variant, split=args.split, prune_amount=args.prune,
                          batch_size=args.batch_size, repeats=args.repeats, fp32_metrics=fp32_metrics)
            (args.out / f"variant_{variant}.json").write_text(json.dumps(row, indent=2, sort_keys=True), encoding="utf-8")
            print(json.dumps({k: v for k, v in row.items() if k != "metrics"} | {"accuracy": row["metrics"]["accuracy"]}))
    report(args.out)


if __name__ == "__main__":
    main()
