"""Tokenizer throughput (raw Rust batch call vs the Arrow function through Spark) and reader throughput.

    .venv/bin/python benchmarks/bench_tokenize.py                      # bert-base-chinese, 4000 documents
    .venv/bin/python benchmarks/bench_tokenize.py --tokenizer bpe/llama-test-tokenizer.json --docs 2000
    .venv/bin/python benchmarks/bench_tokenize.py --data tests/data     # the repository's own copies

Fairness: both tokenizer sides run on one core (`local[1]` for Spark), with the same texts, the
same batch size (`spark.sql.execution.arrow.maxRecordsPerBatch` = `--batch-size`) and the same
`TOKENIZERS_PARALLELISM=false` (set before tokenizers is imported, inherited by Spark's Python
workers). The baseline is the exact Rust call the stage makes per batch (`encode_batch_fast` with
the stage's special-token and truncation settings, then the ids); `encode_batch`, which also
computes character offsets, is printed for reference only. The Spark side is the `tokens` output's own path (`outputs.tokens.tokens_frame`, the
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
    # The PhraseBank under ../shared/data, or the repository's own labelled set (tests/data).
    sentences = SHARED / "finsent" if (SHARED / "finsent").is_dir() else SHARED / "fin-sentences"
    for name in ("Train_Data.csv", "Test_Data.csv"):
        with open(sentences / name, encoding="utf-8", newline="") as handle:
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
    from corpusforge.tokenize.hf import _Truncated
    from corpusforge.outputs.tokens import tokens_frame
    from corpusforge.tokenize.tokens import INPUT_SCHEMA as _INPUT_SCHEMA, TokenizeConfig, resolve_config, tokens_batch

    path = str(SHARED / "vocab" / args.tokenizer)
    tokenizer = load_tokenizer(path)
    tcfg = TokenizeConfig(tokenizer=path)  # the stage's defaults, as a `tokens` run without settings has them
    batches = [texts[i : i + args.batch_size] for i in range(0, len(texts), args.batch_size)]

    def stage_call(batch: list[str]) -> list[list[int]]:
        # Exactly the Rust call the stage makes (tokens_batch → encode_arrow_batch → hf._encode_flat):
        # encode_batch_fast with the stage's add_special_tokens, under its truncation setting.
        with _Truncated(tokenizer, tcfg.max_length or None) as tok:
            return [e.ids for e in tok.encode_batch_fast(batch, add_special_tokens=tcfg.add_special_tokens)]

    tokens = sum(len(ids) for batch in batches for ids in stage_call(batch))
    raw = _best(args.repeats, lambda: [tokenizer.encode_batch(batch) for batch in batches])
    raw_stage_call = _best(args.repeats, lambda: [stage_call(batch) for batch in batches])
    identity = tokenizer_identity(path)
    arrow_batches = [pa.record_batch({"doc_id": [f"{i:032x}" for i in range(len(b))], "text": b,
                                      "split": [None] * len(b), "label": [None] * len(b)}, schema=_INPUT_SCHEMA)
                     for b in batches]
    # The stage's per-batch function alone (split assignment + the call above + Arrow columns).
    pure = _best(args.repeats, lambda: [tokens_batch(b, tokenizer, tcfg, identity) for b in arrow_batches])

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
        "stage_call": f"encode_batch_fast(add_special_tokens={tcfg.add_special_tokens}), truncation {tcfg.max_length or 'off'}",
        "raw_stage_call_s": round(raw_stage_call, 3),
        "raw_stage_call_tokens_per_s_per_core": round(tokens / raw_stage_call),
        "raw_encode_batch_s (offsets too; not the stage's call)": round(raw, 3),
        "tokens_batch_no_spark_s": round(pure, 3),
        "spark_mapInArrow_s": round(through_spark, 3),
        "spark_tokens_per_s_per_core": round(tokens / through_spark),
        "framework_overhead_vs_stage_call": round(through_spark / raw_stage_call - 1, 3),
        "spark_path": "corpusforge.outputs.tokens.tokens_frame (write_tokens' mapInArrow)",
        "delta_write_s": round(delta_write, 3),
    }


def unk_share_of_cjk_tokens(tokenizer_name: str = "bert-base-chinese") -> dict:
    """[UNK] share of the CJK one-character tokens of the Chinese pages of the resiliparse WARC
    sample, as the pipeline stores them: ingest's extraction, then the normalize stage's default
    params; a page is Chinese when over 30 % of its characters are CJK ideographs (the counting
    of tests/spark/test_tokenize_stage.py, without Spark)."""
    from corpusforge.config import RunConfig
    from corpusforge.ingest.base import IngestOptions
    from corpusforge.ingest.warc import read_warc
    from corpusforge.text.normalize import normalize_text

    def is_cjk(char: str) -> bool:
        code = ord(char)
        return (0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0x20000 <= code <= 0x2A6DF
                or 0x2A700 <= code <= 0x2CEAF or 0xF900 <= code <= 0xFAFF or 0x2F800 <= code <= 0x2FA1F)

    tokenizer = load_tokenizer(str(SHARED / "vocab" / tokenizer_name))
    unk = tokenizer.token_to_id("[UNK]")
    normalize = RunConfig().normalize
    pages = cjk_tokens = cjk_unk = 0
    with open(SHARED / "warc" / "resiliparse" / "warcfile.warc.gz", "rb") as handle:
        for record in read_warc(handle, IngestOptions()):
            if not (record.candidate and record.drop_reason is None and record.text):
                continue
            text = normalize_text(record.text, normalize)
            if sum(map(is_cjk, text)) <= 0.3 * max(1, len(text.strip())):
                continue
            pages += 1
            encoding = tokenizer.encode(text)
            for token_id, (start, end) in zip(encoding.ids, encoding.offsets):
                if end - start == 1 and is_cjk(text[start]):
                    cjk_tokens += 1
                    cjk_unk += token_id == unk
    return {"tokenizer": tokenizer_name, "chinese_pages": pages, "cjk_tokens": cjk_tokens, "cjk_unk": cjk_unk,
            "unk_share_of_cjk_tokens_percent": round(100 * cjk_unk / cjk_tokens, 3)}


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
    global SHARED  # --data replaces the default the loaders read
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokenizer", default="bert-base-chinese")
    parser.add_argument("--docs", type=int, default=4000)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seq-length", type=int, default=512)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--reader-repeat", type=int, default=20, help="copies of the tokenized docs in the reader table")
    parser.add_argument("--skip-spark", action="store_true")
    parser.add_argument("--data", type=Path, default=SHARED, help="folder with finsent/, warc/ and vocab/")
    args = parser.parse_args()
    SHARED = args.data
    texts = _documents(args.docs)
    out_dir = Path(tempfile.mkdtemp(prefix="bench_tokenize_"))
    try:
        results = {"unk": unk_share_of_cjk_tokens()}
        if not args.skip_spark:
            results["tokenize"] = bench_tokenize(args, texts, out_dir)
        results["reader"] = bench_reader(args, texts, out_dir)
        print(json.dumps(results, indent=1))
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
