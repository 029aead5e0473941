"""WARC → documents: the Spark ingest stage beside the same reader + extractor as a plain loop.

Run (≈ 5–8 min on a busy 2-core machine; the temp copies are removed at the end):

    SPARK_LOCAL_IP=127.0.0.1 .venv/bin/python benchmarks/bench_ingest.py --mb 200 --cores 1

The sample WARCs of ../shared/data/warc (real crawls, per-record gzip) are replicated into
`--files` files of a temp dir until they hold `--mb` MB; both sides then read exactly those
files with the same reader (FastWARC) and extractor (resiliparse), and both either write the
records to Parquet (`--sink parquet`) or throw them away (`--sink noop`):

- plain: `for file: for record in read_warc(open(file)): ...` in this process, one core;
  with the Parquet sink it writes the same columns with pyarrow, 1000 records per batch;
- spark: `read_records(spark, plan, cfg)` (one task per file, mapInArrow) on `local[N]`,
  then `.write.format("noop")` or `.write.parquet(...)`; the session is started and warmed
  up (one small job per core) before the clock starts, as it is once per run in production.

"Per core" figures: MB/s divided by the cores used, and MB per CPU-second (CPU time of this
process, of the JVM and of every Python worker, read from /proc), which does not depend on
what the other users of the machine are doing. Overhead = spark / plain - 1 of CPU seconds
(and of wall seconds with `--cores 1`).
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WARC_DIR = ROOT.parent / "shared" / "data" / "warc"
# Real crawls, per-record gzip: concatenating them gives valid multi-record WARC files.
SAMPLES = (
    "resiliparse/warcfile.warc.gz",
    "resiliparse/clueweb-quirk.warc.gz",
    "dolma/sample-0000.warc.gz",
    "dolma/sample-0001.warc.gz",
    "whirlwind/whirlwind.warc.gz",
    "jwarc/cc.warc.gz",
)
ROWS_PER_PARQUET_BATCH = 1000  # the plain loop's batch size, as the Spark stage's
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(kw_only=True)
class Measure:
    side: str
    sink: str
    cores: int
    megabytes: float
    records: int
    documents: int
    wall_s: float
    cpu_s: float

    def line(self) -> str:
        per_core_wall = self.megabytes / self.wall_s / self.cores
        return (f"{self.side:6} {self.sink:8} local[{self.cores}]  {self.megabytes:7.1f} MB  "
                f"{self.records:>8} records ({self.documents} docs)  wall {self.wall_s:7.1f} s  "
                f"cpu {self.cpu_s:7.1f} s  | per core: {per_core_wall:5.2f} MB/s wall, "
                f"{self.megabytes / self.cpu_s:5.2f} MB/cpu-s, "
                f"{self.records / self.wall_s / self.cores:6.0f} rec/s wall, "
                f"{self.records / self.cpu_s:6.0f} rec/cpu-s")


def overhead(framework_s: float, plain_s: float) -> float:
    """The framework's extra time as a fraction of the plain loop's.

    >>> round(overhead(12.0, 10.0), 3)
    0.2
    """
    return framework_s / plain_s - 1.0


def replicate(target_bytes: int, n_files: int, workdir: Path) -> list[Path]:
    """`n_files` WARC files made of whole copies of SAMPLES, `target_bytes` in total at least."""
    blobs = [(WARC_DIR / name).read_bytes() for name in SAMPLES]
    round_bytes = sum(len(b) for b in blobs)
    rounds_per_file = -(-target_bytes // (round_bytes * n_files))  # ceil
    workdir.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(n_files):
        path = workdir / f"replica-{index:03d}.warc.gz"
        with open(path, "wb") as handle:
            for _ in range(rounds_per_file):
                for blob in blobs:
                    handle.write(blob)
        paths.append(path)
    return paths


def _tree_cpu_seconds(root_pid: int) -> float:
    """CPU seconds of `root_pid` and all its descendants (reaped children included)."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue  # gone meanwhile
        # The command name is in parentheses and may hold spaces: split after it.
        fields = stat[stat.rindex(")") + 2:].split()
        parents[int(entry)] = int(fields[1])
        times[int(entry)] = sum(int(v) for v in fields[11:15]) / _CLOCK_TICKS  # utime stime cutime cstime
    tree, frontier = {root_pid}, [root_pid]
    while frontier:
        pid = frontier.pop()
        children = [child for child, parent in parents.items() if parent == pid]
        tree.update(children)
        frontier.extend(children)
    return sum(times.get(pid, 0.0) for pid in tree)


def run_plain(paths: list[Path], sink: str, out_dir: Path) -> tuple[int, int, float, float]:
    """(records, documents, wall s, cpu s) of the plain loop over `paths`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from corpusforge.ingest.base import IngestOptions
    from corpusforge.ingest.warc import read_warc

    opts = IngestOptions()
    records = documents = 0
    wall, cpu = time.perf_counter(), time.process_time()
    for path in paths:
        writer = None
        rows: list[dict] = []
        with open(path, "rb") as stream:
            for record in read_warc(stream, opts):
                records += 1
                documents += record.candidate and record.drop_reason is None
                if sink != "parquet":
                    continue
                rows.append({"locator": record.locator, "text": record.text, "url": record.url,
                             "source_id": record.source_id, "source_offset": record.source_offset,
                             "crawl_ts": record.crawl_ts, "content_type": record.content_type,
                             "metadata": record.metadata or None, "candidate": record.candidate,
                             "record_type": record.record_type, "drop_reason": record.drop_reason,
                             "detail": record.detail, "source_uri": str(path)})
                if len(rows) >= ROWS_PER_PARQUET_BATCH:
                    writer = _write_rows(pa, pq, writer, rows, out_dir / f"{path.stem}.parquet")
                    rows = []
        if rows:
            writer = _write_rows(pa, pq, writer, rows, out_dir / f"{path.stem}.parquet")
        if writer is not None:
            writer.close()
    return records, documents, time.perf_counter() - wall, time.process_time() - cpu


def _plain_schema(pa):
    """The plain loop's Parquet columns: the Record's own, with explicit types (a batch whose
    drop reasons are all null must not fix that column's type to null)."""
    text = pa.string()
    return pa.schema([("locator", text), ("text", text), ("url", text), ("source_id", text),
                      ("source_offset", pa.int64()), ("crawl_ts", pa.timestamp("us", tz="UTC")),
                      ("content_type", text), ("metadata", pa.map_(text, text)),
                      ("candidate", pa.bool_()), ("record_type", text), ("drop_reason", text),
                      ("detail", text), ("source_uri", text)])


def _write_rows(pa, pq, writer, rows: list[dict], path: Path):
    table = pa.Table.from_pylist(rows, schema=_plain_schema(pa))
    if writer is None:
        writer = pq.ParquetWriter(path, table.schema, compression="snappy")  # Spark's default codec
    writer.write_table(table)
    return writer


def run_spark(spark, paths: list[Path], sink: str, out_dir: Path) -> tuple[int, int, float, float]:
    """(records, documents, wall s, cpu s) of read_records + the sink over `paths`."""
    from corpusforge.ingest.base import IngestOptions
    from corpusforge.ingest.plan import plan_inputs
    from corpusforge.stages.ingest import read_records

    cfg = IngestOptions()
    plan = plan_inputs([str(p) for p in paths], None, cfg)
    frame = read_records(spark, plan, cfg)
    wall, cpu = time.perf_counter(), _tree_cpu_seconds(os.getpid())
    if sink == "parquet":
        frame.write.mode("overwrite").parquet(str(out_dir / "spark"))
    else:
        frame.write.format("noop").mode("overwrite").save()
    wall, cpu = time.perf_counter() - wall, _tree_cpu_seconds(os.getpid()) - cpu
    if sink == "parquet":
        # Counted from what was written, outside the clock.
        written = spark.read.parquet(str(out_dir / "spark"))
        records = written.count()
        documents = written.where("candidate AND drop_reason IS NULL").count()
    else:
        records = documents = -1  # noop keeps nothing to count; the plain side's counts stand
    return records, documents, wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200, help="MB of replicated WARC to read")
    parser.add_argument("--files", type=int, default=8, help="files (= Spark tasks) to spread them over")
    parser.add_argument("--cores", type=int, default=1, help="Spark runs on local[CORES]")
    parser.add_argument("--sink", choices=("parquet", "noop", "both"), default="both")
    parser.add_argument("--workdir", help="where the copies go (default: a temp dir, removed after)")
    args = parser.parse_args()

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="bench_ingest_"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        paths = replicate(args.mb * 1_000_000, args.files, workdir / "in")
        megabytes = sum(p.stat().st_size for p in paths) / 1e6
        print(f"{dt.date.today()}: {len(paths)} files, {megabytes:.1f} MB under {workdir}")
        from corpusforge.session import get_session

        spark = get_session("bench_ingest", profile="local", overrides={
            "spark.master": f"local[{args.cores}]", "spark.driver.memory": "2g",
            "spark.ui.enabled": "false"})
        # Warm-up: start one Python worker per core and JIT the JVM paths.
        warm = replicate(1, args.cores, workdir / "warm")
        run_spark(spark, warm, "noop", workdir)
        results = []
        sinks = ("noop", "parquet") if args.sink == "both" else (args.sink,)
        for sink in sinks:
            out_dir = workdir / f"out-{sink}"
            out_dir.mkdir(exist_ok=True)
            records, documents, wall_s, cpu_s = run_plain(paths, sink, out_dir)
            plain = Measure(side="plain", sink=sink, cores=1, megabytes=megabytes, records=records,
                            documents=documents, wall_s=wall_s, cpu_s=cpu_s)
            s_records, s_documents, s_wall, s_cpu = run_spark(spark, paths, sink, out_dir)
            if s_records >= 0 and (s_records, s_documents) != (records, documents):
                raise SystemExit(f"sides disagree: spark {s_records}/{s_documents}, plain {records}/{documents}")
            framework = Measure(side="spark", sink=sink, cores=args.cores, megabytes=megabytes,
                                records=records, documents=documents, wall_s=s_wall, cpu_s=s_cpu)
            results.append((plain, framework))
            print(plain.line())
            print(framework.line())
            print(f"  overhead ({sink}): cpu {overhead(s_cpu, cpu_s):+.1%}, "
                  f"wall×cores {overhead(s_wall * args.cores, wall_s):+.1%}")
        spark.stop()
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
