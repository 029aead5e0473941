"""The command line of `jobs/crawl.py`: check everything, then crawl.

The output may be any filesystem build_corpus writes to (`file://`, `s3a://`, `hdfs://`); it is
held by the same lease lock (tables/lock.py) for the whole run.

Exit codes (DESIGN.md): 0 done, 1 run failed, 2 usage or config error (before any work),
3 the output is busy (another run holds its lock; nothing was done).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from corpusforge.errors import ConfigError, InputError

EPILOG = """\
Spark settings come from a spark-conf profile, as for build_corpus:
  SPARK_CONF_DIR=spark-conf/local spark-submit jobs/crawl.py --seeds seeds.txt --output crawl/ \\
      --config configs/crawl.toml --set crawl.user_agent="mybot/1.0 (+https://example.org/bot)"
  spark-submit jobs/build_corpus.py --input crawl/warc --output corpus/
Exit codes: 0 done, 1 run failed, 2 usage or config error (nothing was done),
3 the output is busy (another run holds its lock; nothing was done).
"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="crawl.py", description="Crawl from seed URLs into a Delta crawldb and WARC files.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", required=True, metavar="FILE",
                   help="seed URLs, one per line ('#' comments and blank lines ignored)")
    p.add_argument("--output", required=True, metavar="DIR",
                   help="crawl root (a path, file://, s3a:// or hdfs:// URI): DIR/crawldb, DIR/robots, "
                        "DIR/warc/, DIR/stats, DIR/ledger")
    p.add_argument("--rounds", type=int, default=1, help="rounds to run (default 1)")
    p.add_argument("--config", metavar="crawl.toml", help="config file with a [crawl] section")
    p.add_argument("--set", action="append", default=[], dest="overrides", metavar="crawl.KEY=VALUE",
                   help="override one config value (repeatable); beats --config")
    p.add_argument("--run-id", help="id of this run (default: from the current time)")
    p.add_argument("--break-lock", action="store_true",
                   help="take over the output's lock when its holder's lease has expired "
                        "(refused while the lease is live)")
    p.add_argument("--lock-lease", type=float, default=300.0, metavar="SECONDS",
                   help="lease of this run's output lock, renewed every third of it (default 300)")
    p.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    return p


def read_seeds(path: str, tracking_params: tuple[str, ...] = ()) -> list[str]:
    """The normalized seed URLs of a seeds file; a line that is not an http(s) URL is a
    ConfigError naming the file and line."""
    from corpusforge.crawl.urls import normalize_url

    file = Path(path)
    if not file.is_file():
        raise InputError(f"seeds file not found: {path}")
    seeds = []
    for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        url = normalize_url(line, tracking_params=tracking_params)
        if url is None or not url.startswith(("http://", "https://")):
            raise ConfigError(f"{path}:{number}: not an http(s) URL: {line!r}")
        seeds.append(url)
    if not seeds:
        raise ConfigError(f"{path}: no seed URLs")
    return seeds


def main(argv: list[str] | None = None) -> int:
    from corpusforge.pipeline.cli import run_command

    return run_command("crawl", parser(), _main, argv)


def _main(args) -> int:
    from corpusforge.crawl.config import load_crawl_config
    from corpusforge.pipeline.cli import default_run_id
    from corpusforge.tables.lock import LockOptions, check_filesystem, preflight

    cfg = load_crawl_config(args.config, args.overrides)
    if args.rounds < 1:
        raise ConfigError(f"--rounds must be >= 1, got {args.rounds}")
    lock_options = LockOptions(lease_seconds=args.lock_lease, break_lock=args.break_lock)
    preflight(args.output, lock_options)  # unknown scheme, missing jars: 2; a held local lock: 3
    seeds = read_seeds(args.seeds, cfg.crawl.tracking_params)

    from corpusforge.crawl.round import run_crawl, write_run_manifest
    from corpusforge.session import get_session

    run_id = args.run_id or default_run_id().replace("run-", "crawl-")
    spark = get_session("crawl")
    check_filesystem(spark, args.output)
    summary = run_crawl(spark, cfg, seeds, args.output, rounds=args.rounds, run_id=run_id,
                        lock_options=lock_options)
    write_run_manifest(spark, args.output, run_id, cfg, summary)
    print("\n".join(summary.lines()))
    return 0
