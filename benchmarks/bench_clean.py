"""Cleaning throughput: normalize + langid + quality filters + PII, through Spark and in a plain loop.

    SPARK_LOCAL_IP=127.0.0.1 .venv/bin/python benchmarks/bench_clean.py [--docs 600] [--cores 2]

The documents are the real pages ingest extracts from every WARC under ../shared/data/warc
(the same reader the pipeline uses), replicated to `--docs`. For each langid backend
(langdetect, fasttext) the same documents go through

- the pure functions in one Python loop (one core): normalize_text → detect_language →
  the five filter families in pipeline order (C4's cleaned text feeds FineWeb) → mask_pii;
- the Spark stages (NormalizeStage, LangIdStage, five QualityFilterStages, PiiStage, fused
  into one mapInArrow as the pipeline runs them) on `local[cores]`, from a Parquet copy of the documents to the `noop`
  sink, after one untimed warm-up run (Python worker start, jieba dictionary, langid models).

Spark's docs/s is divided by the cores it ran on ("per core"), so the two paths compare the
cost of the wrapping (JVM ↔ Arrow transfer, Python workers) with the rules
themselves. Also printed: how often the two backends agree on the distinct pages. The numbers
and the command go to benchmarks/RESULTS.md (`--write`).
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from corpusforge.config import RunConfig  # noqa: E402
from corpusforge.filters.families import FAMILIES  # noqa: E402
from corpusforge.ingest.files import read_file  # noqa: E402
from corpusforge.stages.filters import QualityFilterStage  # noqa: E402
from corpusforge.stages.langid import LangIdStage  # noqa: E402
from corpusforge.text.langid import LangIdParams, detect_language, langid_reason  # noqa: E402
from corpusforge.text.normalize import normalize_text  # noqa: E402
from corpusforge.text.pii import mask_pii  # noqa: E402
from corpusforge.stages.base import run_batch_stages  # noqa: E402
from corpusforge.stages.normalize import NormalizeStage  # noqa: E402
from corpusforge.stages.pii import PiiStage  # noqa: E402

DATA_DIR = REPO.parent / "shared" / "data" / "warc"
FAMILY_ORDER = ("gopher_quality", "gopher_repetition", "cjk", "c4", "fineweb")
RESULTS = REPO / "benchmarks" / "RESULTS.md"


def load_pages() -> list[tuple[str, str]]:
    """(url, raw extracted text) of every non-empty candidate page of the shared WARC files."""
    options = RunConfig().input
    pages = []
    for path in sorted(DATA_DIR.rglob("*.warc.gz")):
        for record in read_file(path.as_uri(), "warc", options):
            if record.candidate and record.drop_reason is None and record.text and record.text.strip():
                pages.append((record.url or "", record.text))
    return pages


def pure_clean(text: str, cfg: RunConfig, langid: LangIdParams, families: dict) -> str | None:
    """The cleaning path in plain Python; returns the drop reason or None (kept)."""
    text = normalize_text(text, cfg.normalize)
    if not text:
        return "normalize.empty_text"
    lang, score = detect_language(text, langid)
    reason = langid_reason(lang, score, langid)
    if reason:
        return reason
    for key in FAMILY_ORDER:
        cleaned, reason, _signals = FAMILIES[key].rule(text, families[key].for_lang(lang), lang)
        if reason:
            return reason
        text = cleaned
    mask_pii(text)
    return None


def bench_pure(texts: list[str], cfg: RunConfig, langid: LangIdParams) -> tuple[float, int]:
    families = {key: cfg.filters.params_for(key) for key in FAMILY_ORDER}  # resolved once, as the stages do
    pure_clean(texts[0], cfg, langid, families)  # warm-up, as for Spark: jieba dictionary, langid model
    started = time.perf_counter()
    kept = sum(1 for text in texts if pure_clean(text, cfg, langid, families) is None)
    return time.perf_counter() - started, kept


def spark_stages(cfg: RunConfig, langid: LangIdParams) -> list:
    stages = [NormalizeStage(cfg.normalize), LangIdStage(langid)]
    stages += [QualityFilterStage(FAMILIES[key], cfg.filters.params_for(key)) for key in FAMILY_ORDER]
    return stages + [PiiStage()]


def bench_spark(spark, input_path: str, cfg: RunConfig, langid: LangIdParams) -> tuple[float, int]:
    def run():
        # As the pipeline runs them: the row-local stages fused into one mapInArrow.
        return run_batch_stages(spark.read.parquet(input_path), spark_stages(cfg, langid))

    run().write.format("noop").mode("overwrite").save()  # warm-up: workers, jieba, models
    started = time.perf_counter()
    run().write.format("noop").mode("overwrite").save()
    seconds = time.perf_counter() - started
    kept = run().where("drop_reason IS NULL").count()  # untimed: the kept count to compare
    return seconds, kept


def agreement(pages: list[str]) -> tuple[int, int]:
    ld, ft = LangIdParams(backend="langdetect"), LangIdParams(backend="fasttext")
    texts = [normalize_text(t) for t in pages]
    same = sum(1 for t in texts if detect_language(t, ld)[0] == detect_language(t, ft)[0])
    return same, len(texts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=600, help="documents (real pages, replicated)")
    parser.add_argument("--cores", type=int, default=2, help="Spark local[N]")
    parser.add_argument("--write", action="store_true", help=f"append the results to {RESULTS.name}")
    args = parser.parse_args()

    from corpusforge.session import get_session

    pages = load_pages()
    texts = [pages[i % len(pages)][1] for i in range(args.docs)]
    mean_chars = sum(len(t) for t in texts) / len(texts)
    cfg = RunConfig()
    same, distinct = agreement([text for _, text in pages])

    with tempfile.TemporaryDirectory(prefix="bench_clean_") as tmp:
        os.environ.setdefault("CORPUSFORGE_JIEBA_CACHE", str(Path(tmp) / "jieba"))
        spark = get_session("bench-clean", profile="local", overrides={
            "spark.master": f"local[{args.cores}]", "spark.driver.memory": "2g",
            "spark.sql.shuffle.partitions": str(args.cores), "spark.ui.enabled": "false",
            "spark.executorEnv.CORPUSFORGE_JIEBA_CACHE": str(Path(tmp) / "jieba")})
        rows = [{"doc_id": f"{i:08d}", "text": t, "url": pages[i % len(pages)][0], "split": None,
                 "drop_stage": None, "drop_reason": None, "detail": None} for i, t in enumerate(texts)]
        schema = "doc_id string, text string, url string, split string, drop_stage string, drop_reason string, detail string"
        input_path = str(Path(tmp) / "docs.parquet")
        # Several files so every core gets tasks; Parquet, as the pipeline reads staged records.
        spark.createDataFrame(rows, schema).repartition(args.cores * 2).write.parquet(input_path)
        lines = []
        for backend in ("langdetect", "fasttext"):
            langid = LangIdParams(backend=backend)
            pure_s, pure_kept = bench_pure(texts, cfg, langid)
            spark_s, spark_kept = bench_spark(spark, input_path, cfg, langid)
            lines.append(
                f"| {backend} | {args.docs / pure_s:,.0f} | {args.docs / spark_s / args.cores:,.0f} "
                f"| {args.docs / spark_s:,.0f} | {pure_kept} / {spark_kept} |")
            print(lines[-1], flush=True)
        spark.stop()

    header = [
        f"## {datetime.date.today().isoformat()}: `SPARK_LOCAL_IP=127.0.0.1 .venv/bin/python benchmarks/bench_clean.py "
        f"--docs {args.docs} --cores {args.cores}`",
        "",
        f"{args.docs} documents: {len(pages)} distinct real pages of ../shared/data/warc (ingest's extraction), "
        f"replicated; mean {mean_chars:,.0f} characters. Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs (shared with other work). normalize + langid + 5 filter families + PII.",
        "",
        "| langid backend | pure loop docs/s (1 core) | Spark docs/s per core | Spark docs/s total "
        f"(local[{args.cores}]) | kept: pure / Spark |",
        "|---|---|---|---|---|",
        *lines,
        "",
        f"langdetect and fasttext agree on {same} of {distinct} distinct pages ({same / distinct:.0%}).",
        "",
    ]
    print("\n".join(header))
    if args.write:
        if not RESULTS.exists():
            RESULTS.write_text("# Cleaning benchmark (bench_clean.py)\n\n", encoding="utf-8")
        with RESULTS.open("a", encoding="utf-8") as handle:
            handle.write("\n".join(header) + "\n")


if __name__ == "__main__":
    main()
