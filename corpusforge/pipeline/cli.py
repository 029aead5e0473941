"""The command line of `jobs/build_corpus.py`: parse, check, plan, run, summarize.

Run it as `spark-submit jobs/build_corpus.py ...`, or `python -m corpusforge ...` (also
`python -m corpusforge.pipeline.cli`, `python -m corpusforge.cli`) where pyspark is installed.

Exit codes (DESIGN.md): 0 done, 1 run failed, 2 usage or config error (before any work),
3 the output is busy (before any work).
"""
from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from datetime import datetime, timezone

from corpusforge.errors import CorpusforgeError
from corpusforge.progress import Phase, RunClock

log = logging.getLogger("corpusforge")

EPILOG = """\
Spark settings (master, driver memory, jars) come from a spark-conf profile, the way
spark-submit reads them:
  SPARK_CONF_DIR=spark-conf/local spark-submit jobs/build_corpus.py --input data/ --output out/
  spark-submit --properties-file spark-conf/standalone/spark-defaults.conf jobs/build_corpus.py ...
Exit codes: 0 done, 1 run failed, 2 usage or config error (nothing was done),
3 the output is busy (another run holds its lock; nothing was done).
"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="build_corpus.py",
        description="Build a clean, deduplicated corpus as Delta tables from raw inputs.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--input", action="append", default=[], metavar="URI|GLOB",
                   help="input file, directory or glob (file://, s3a://, hdfs://); repeatable")
    p.add_argument("--manifest", metavar="FILE",
                   help="file listing input paths, one per line (plain or .gz); relative "
                        "lines are relative to the manifest")
    p.add_argument("--output", required=True, metavar="DIR",
                   help="output root: the Delta tables are written to DIR/<table>")
    p.add_argument("--format", choices=["auto", "warc", "wet", "arc", "jsonl", "parquet", "csv", "tsv", "text"],
                   help="input format; 'auto' (default) picks it per file by extension and "
                        "skips (and counts) files of unknown extension")
    p.add_argument("--config", metavar="run.toml", help="run config file (TOML)")
    p.add_argument("--set", action="append", default=[], dest="overrides", metavar="SECTION.KEY=VALUE",
                   help="override one config value (repeatable); beats --config")
    p.add_argument("--run-id", help="id of this run (default: from the current time); "
                                    "re-using the id of an unfinished run retries it")
    p.add_argument("--reprocess", action="store_true",
                   help="also process inputs the ledger marks done by an earlier run")
    p.add_argument("--dry-run", action="store_true",
                   help="check inputs and config, print the plan, do no work")
    p.add_argument("--break-lock", action="store_true",
                   help="take over the output's lock when its holder's lease has expired "
                        "(refused while the lease is live)")
    p.add_argument("--lock-lease", type=float, default=300.0, metavar="SECONDS",
                   help="lease of this run's output lock, renewed every third of it (default 300)")
    p.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    return p


def default_run_id() -> str:
    """A run id from the current UTC time, e.g. 'run-20261201T081600123Z'."""
    now = datetime.now(timezone.utc)
    return now.strftime("run-%Y%m%dT%H%M%S") + f"{now.microsecond // 1000:03d}Z"


def run_command(prog: str, arg_parser: argparse.ArgumentParser, body: Callable[[argparse.Namespace], int],
                argv: list[str] | None = None) -> int:
    """The shared frame of every job's `main`: parse `argv`, set up logging (`-v`: DEBUG), run
    `body(args)`; a CorpusforgeError becomes one line `<prog>: error: <message>` on stderr and
    its exit code (2 config, 3 busy, 1 failed).

    >>> p = argparse.ArgumentParser()
    >>> _ = p.add_argument("-v", "--verbose", action="store_true")
    >>> def body(args):
    ...     raise CorpusforgeError("the input is empty")
    >>> import contextlib, io
    >>> with contextlib.redirect_stderr(io.StringIO()) as err:
    ...     code = run_command("demo", p, body, [])
    >>> code, err.getvalue().splitlines()
    (1, ['demo: error: the input is empty'])
    """
    args = arg_parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if getattr(args, "verbose", False) else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return body(args)
    except CorpusforgeError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return err.exit_code


def main(argv: list[str] | None = None) -> int:
    clock = RunClock()  # from the process start: the spark-submit JVM's, when it launched us
    clock.add("startup", clock.wall())  # JVM, Python and imports, until here
    return run_command("build_corpus", parser(), lambda args: _main(args, clock), argv)


def _main(args, clock: RunClock) -> int:
    from corpusforge.config import config_hash, load_config
    from corpusforge.ingest.plan import plan_inputs
    from corpusforge.ingest.remote import s3_options
    from corpusforge.pipeline.run import check_pipeline
    from corpusforge.session import launch_conf
    from corpusforge.tables.lock import LockOptions, check_filesystem, preflight

    with clock.collecting(), Phase("plan"):
        overrides = list(args.overrides)
        if args.format:
            overrides.insert(0, f"input.format={args.format}")
        cfg = load_config(args.config, overrides)
        check_pipeline(cfg)
        spark_conf = launch_conf()  # the profile and any --conf: s3a keys for inputs, lock and jars
        lock_options = LockOptions(lease_seconds=args.lock_lease, break_lock=args.break_lock)
        preflight(args.output, lock_options, spark_conf)  # unknown scheme, missing jars: 2; a held lock: 3
        plan = plan_inputs(args.input, args.manifest, cfg.input, s3=s3_options(spark_conf))
    run_id = args.run_id or default_run_id()
    if args.dry_run:
        print(f"dry run {run_id}: config {config_hash(cfg)}, stages {list(cfg.pipeline.stages)}")
        for f in plan.files:
            print(f"  {f.format:8} {f.size:>12,} B  {f.source_key}")
        for uri in plan.skipped_unknown_format:
            print(f"  skipped (unknown format)  {uri}")
        print(f"{len(plan.files)} files, {plan.total_bytes:,} bytes; output {args.output}")
        return 0

    from corpusforge.pipeline.run import run_pipeline
    from corpusforge.session import get_session

    with clock.collecting(), Phase("session"):
        spark = get_session("build_corpus")
        check_filesystem(spark, args.output)
    summary = run_pipeline(spark, cfg, plan, args.output, run_id, reprocess=args.reprocess,
                           lock_options=lock_options, clock=clock)
    print("\n".join(summary.lines()))
    with clock.collecting(), Phase("stop"):
        spark.stop()
    print(clock.summary_line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
