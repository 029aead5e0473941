"""Tokenizer throughput (raw Rust batch call vs the Arrow function through Spark) and reader throughput.

    .venv/bin/python benchmarks/bench_tokenize.py                      # bert-base-chinese, 4000 documents
    .venv/bin/python benchmarks/bench_tokenize.py --tokenizer bpe/llama-test-tokenizer.json --docs 2000

Fairness: both tokenizer sides run on one core (`local[1]` for Spark), with the same texts, the
same batch size (`spark.sql.execution.arrow.maxRecordsPerBatch` = `--batch-size`) and the same
`TOKENIZERS_PARALLELISM=false` (set before tokenizers is imported, inherited by Spark's Python
workers). The Spark side is the `tokens` output's own path (`outputs.tokens.tokens_frame`, the
mapInArrow that `write_tokens` runs: split assignment + Rust batch encoding + identity column)
over a cached DataFrame, written to the `noop` sink, so it times JVM → Arrow → Python → Arrow →
JVM plus the encoding; the Delta write of the same rows (`write_run_rows`, schema-checked,
replaceWhere by run_id, as `write_tokens` does it) is timed on its own.
Each timing is the best of `--repeats` after one warm-up (Python workers started, tokenizer
loaded). Documents are real text: Financial PhraseBank sentences and the Chinese pages of
the resiliparse WARC sample, grouped into documents of about 16 sentences or paragraphs.

The reader part writes a `tokens` Delta table of ≥ 8 files and measures real (non-pad) tokens/s
into torch tensors with shuffling on, padding to `--seq-length`, 2 DataLoader workers, beside a
plain pyarrow scan of the same files.
"""
from __future__ import annotations

import os

os.environ["TOKENIZERS_PARALLELISM"] = "false"  # before tokenizers loads: one core per side

import argparse
import csv
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import deltalake
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO))

from corpusforge.tokenize.hf import EncodeParams, encode_arrow_batch, load_tokenizer, tokenizer_identity  # noqa: E402


def _documents(count: int) -> list[str]:
    pieces: list[str] = []
    for name in ("Train_Data.csv", "Test_Data.csv"):
        with open(SHARED / "finsent" / name, encoding="utf-8", newline="") as handle:
            pieces += [row[-1] for row in list(csv.reader(handle))[1:] if row]
    from fastwarc.warc import ArchiveIterator, WarcRecordType
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding

    with open(SHARED / "warc" / "resiliparse" / "warcfile.warc.gz", "rb") as handle:
        for record in ArchiveIterator(handle, record_types=WarcRecordType.response, parse_http=True):
            body = record.reader.read()
            text = extract_plain_text(bytes_to_str(body, detect_encoding(body)), main_content=False)
            pieces += [line for line in text.splitlines() if len(line) > 20]
    groups = [" ".join(pieces[i : i + 16]) for i in range(0, len(pieces), 16)]
    # Repeat the real documents to the requested count (tokenizers keep no cache between calls).
    return [groups[i % len(groups)] for i in range(count)]


def _best(repeats: int, run) -> float:
    run()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_tokenize(args, texts: list[str], out_dir: Path) -> dict:
    path = str(SHARED / "vocab" / args.tokenizer)
    tokenizer = load_tokenizer(path)
    batches = [texts[i : i + args.batch_size] for i in range(0, len(texts), args.batch_size)]
    tokens = sum(len(e.ids) for e in tokenizer.encode_batch(texts))
    raw = _best(args.repeats, lambda: [tokenizer.encode_batch(batch) for batch in batches])
    # encode_batch_fast (no character offsets) is what encode_arrow_batch calls: the tighter baseline.
    raw_fast = _best(args.repeats, lambda: [[e.ids for e in tokenizer.encode_batch_fast(batch)] for batch in batches])
    params = EncodeParams(tokenizer_identity=tokenizer_identity(path))
    arrow_batches = [pa.record_batch({"doc_id": [f"{i}" for i in range(len(b))], "text": b}) for b in batches]
    pure = _best(args.repeats, lambda: [encode_arrow_batch(b, tokenizer, params) for b in arrow_batches])

    from corpusforge.session import get_session

    spark = get_session(
        "bench_tokenize",
        profile="local",
        overrides={
            "spark.master": "local[1]",
            "spark.sql.execution.arrow.maxRecordsPerBatch": str(args.batch_size),
            "spark.sql.shuffle.partitions": "1",
            "spark.driver.memory": "2g",
            "spark.executorEnv.TOKENIZERS_PARALLELISM": "false",
        },
    )
    rows = pa.table({"doc_id": [f"{i:032x}" for i in range(len(texts))], "text": texts})
    frame = spark.createDataFrame(rows.to_pandas()).repartition(4).cache()
    frame.count()  # cache: the tokenizer timing must not include building the input
    from pyspark.sql import functions as F

    from corpusforge.tables.delta import write_run_rows
    from corpusforge.outputs.tokens import tokens_frame
    from corpusforge.tokenize.tokens import TokenizeConfig, resolve_config

    tcfg = TokenizeConfig(tokenizer=path)
    encoded = tokens_frame(frame, tcfg, resolve_config(tcfg))
    through_spark = _best(args.repeats, lambda: encoded.write.format("noop").mode("overwrite").save())
    # cache: the Delta write is timed alone, on tokens already computed.
    materialized = encoded.withColumn("run_id", F.lit("bench")).cache()
    materialized.count()
    start = time.perf_counter()
    write_run_rows(spark, materialized, str(out_dir), "tokens", "bench", fill=("words",))
    delta_write = time.perf_counter() - start
    spark.stop()
    return {
        "tokenizer": args.tokenizer,
        "documents": len(texts),
        "tokens": tokens,
        "batch_size": args.batch_size,
        "raw_encode_batch_s": round(raw, 3),
        "raw_tokens_per_s_per_core": round(tokens / raw),
        "raw_encode_batch_fast_ids_s": round(raw_fast, 3),
        "arrow_fn_no_spark_s": round(pure, 3),
        "spark_mapInArrow_s": round(through_spark, 3),
        "spark_tokens_per_s_per_core": round(tokens / through_spark),
        "framework_overhead_vs_raw_encode_batch": round(through_spark / raw - 1, 3),
        "framework_overhead_vs_raw_encode_batch_fast": round(through_spark / raw_fast - 1, 3),
        "spark_path": "corpusforge.outputs.tokens.tokens_frame (write_tokens' mapInArrow)",
        "delta_write_s": round(delta_write, 3),
    }


def bench_reader(args, texts: list[str], out_dir: Path) -> dict:
    import torch
    from torch.utils.data import DataLoader

    from corpusforge.train.data import WORKER_KEY, DeltaTokenDataset, ReaderParams

    torch.set_num_threads(1)
    tokenizer = load_tokenizer(str(SHARED / "vocab" / args.tokenizer))
    table_path = out_dir / "tokens_reader"
    batch = pa.record_batch({"doc_id": [f"{i:032x}" for i in range(len(texts))], "text": texts})
    tokens_table = pa.Table.from_batches([encode_arrow_batch(batch, tokenizer, EncodeParams())])
    tokens_table = pa.concat_tables([tokens_table] * args.reader_repeat)
    per_file = -(-tokens_table.num_rows // args.files)
    for start in range(0, tokens_table.num_rows, per_file):
        deltalake.write_deltalake(str(table_path), tokens_table.slice(start, per_file), mode="append")
    version = deltalake.DeltaTable(str(table_path)).version()
    files = deltalake.DeltaTable(str(table_path)).file_uris()

    def scan() -> int:
        table = pads.dataset(files, format="parquet").to_table(columns=["input_ids"])
        return int(pc.sum(pc.list_value_length(table.column("input_ids"))).as_py())

    start = time.perf_counter()
    scanned = scan()
    scan_s = time.perf_counter() - start

    dataset = DeltaTokenDataset(
        str(table_path), version=version, params=ReaderParams(seq_length=args.seq_length, shuffle=True, seed=1)
    )
    loader = DataLoader(dataset, batch_size=32, num_workers=2, persistent_workers=False)
    start = time.perf_counter()
    real_tokens = samples = 0
    for step in loader:
        step.pop(WORKER_KEY)
        real_tokens += int(step["attention_mask"].sum())
        samples += step["input_ids"].shape[0]
    read_s = time.perf_counter() - start
    return {
        "files": len(files),
        "rows": tokens_table.num_rows,
        "seq_length": args.seq_length,
        "pyarrow_scan_tokens": scanned,
        "pyarrow_scan_s": round(scan_s, 3),
        "pyarrow_scan_tokens_per_s": round(scanned / scan_s),
        "reader_samples": samples,
        "reader_real_tokens": real_tokens,
        "reader_padded_tokens": samples * args.seq_length,
        "reader_s_including_worker_start": round(read_s, 3),
        "reader_real_tokens_per_s_total": round(real_tokens / read_s),
        "reader_real_tokens_per_s_per_worker": round(real_tokens / read_s / 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokenizer", default="bert-base-chinese")
    parser.add_argument("--docs", type=int, default=4000)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seq-length", type=int, default=512)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--reader-repeat", type=int, default=20, help="copies of the tokenized docs in the reader table")
    parser.add_argument("--skip-spark", action="store_true")
    args = parser.parse_args()
    texts = _documents(args.docs)
    out_dir = Path(tempfile.mkdtemp(prefix="bench_tokenize_"))
    try:
        results = {}
        if not args.skip_spark:
            results["tokenize"] = bench_tokenize(args, texts, out_dir)
        results["reader"] = bench_reader(args, texts, out_dir)
        print(json.dumps(results, indent=1))
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
