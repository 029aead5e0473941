"""The ledger (one row per run and input file) and the output lock.

A run writes its ledger rows twice: `started` with the readers' record counts before any
stage, and `done` as the very last commit. Only `done` rows mark inputs as processed, and
only runs with `done` rows count; rows of any other run are leftovers of a killed run and
are deleted before the next run starts (`recover`).

The lock is a file `<output>/_lock` created with O_EXCL; it names the run holding it and
its pid. A lock whose pid is gone on this host is stale and taken over.

Example::

    with OutputLock(out_dir, run_id):
        done = done_inputs(spark, out_dir)    # {(uri, size, mtime_ms), ...}
"""
from __future__ import annotations

import json
import logging
import os
import socket
from datetime import datetime, timezone

from pyspark.sql import functions as F

from corpusforge.errors import CorpusforgeError, RunLockedError
from corpusforge.tables.delta import (
    delete_runs,
    local_path,
    read_table,
    table_exists,
    write_run_rows,
)

log = logging.getLogger(__name__)


class OutputLock:
    """Exclusive hold of an output directory for one run (a context manager)."""

    def __init__(self, output: str, run_id: str):
        root = local_path(output)
        if root is None:
            raise CorpusforgeError(f"--output must be a local path or file:// URI, got {output!r}")
        self.path = root / "_lock"
        self.run_id = run_id

    def __enter__(self) -> "OutputLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        holder = {"run_id": self.run_id, "pid": os.getpid(), "host": socket.gethostname(),
                  "since": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        for _attempt in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                other = self._holder()
                if other and _alive(other):
                    raise RunLockedError(
                        f"run {other.get('run_id')!r} is running on this output "
                        f"(pid {other.get('pid')} on {other.get('host')}, since {other.get('since')})"
                    ) from None
                log.warning("removing stale lock of run %s", (other or {}).get("run_id"))
                self.path.unlink(missing_ok=True)
                continue
            with os.fdopen(fd, "w") as handle:
                json.dump(holder, handle)
            return self
        raise RunLockedError(f"could not take the lock {self.path}")

    def __exit__(self, *exc) -> None:
        holder = self._holder()
        if holder and holder.get("run_id") == self.run_id and holder.get("pid") == os.getpid():
            self.path.unlink(missing_ok=True)

    def _holder(self) -> dict | None:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None


def _alive(holder: dict) -> bool:
    if holder.get("host") != socket.gethostname():
        return True  # cannot check another host's process: assume it runs
    try:
        os.kill(int(holder["pid"]), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, KeyError, ValueError):
        return True
    return True


def done_inputs(spark, output: str) -> set[tuple[str, int, int]]:
    """(input_uri, size, mtime in ms) of every input a finished run processed."""
    if not table_exists(spark, output, "ledger"):
        return set()
    rows = (read_table(spark, output, "ledger").where("status = 'done'")
            .selectExpr("input_uri", "size", "unix_millis(mtime) AS mtime_ms").distinct().collect())
    return {(r.input_uri, r.size, r.mtime_ms) for r in rows}


def recover(spark, output: str) -> list[str]:
    """Delete the rows of runs the ledger never marked done; return those run ids.

    Every run writes its `started` ledger rows before any data row, so the unfinished runs
    are the ledger's runs without `done` rows: one small read, not a scan of every table.
    """
    if not table_exists(spark, output, "ledger"):
        return []
    rows = read_table(spark, output, "ledger").groupBy("run_id").agg(
        F.max(F.when(F.col("status") == "done", 1).otherwise(0)).alias("done")).collect()
    unfinished = sorted(r.run_id for r in rows if not r.done)
    if unfinished:
        log.warning("removing rows of unfinished runs %s", ", ".join(unfinished))
        delete_runs(spark, output, unfinished)
    return unfinished


def write_ledger(spark, output: str, run_id: str, rows: list[dict]) -> None:
    """Replace this run's ledger rows (started or done) in one commit."""
    from corpusforge.schemas import table_schema

    df = spark.createDataFrame(rows, schema=table_schema("ledger"))
    write_run_rows(spark, df, output, "ledger", run_id)


def millis(ts: datetime) -> int:
    """Milliseconds since the epoch of a (naive = UTC) timestamp."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=timezone.utc)
    return int(ts.timestamp() * 1000)

