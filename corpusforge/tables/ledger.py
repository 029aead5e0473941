"""The ledger (one row per run and input file) and the output lock.

A run writes its ledger rows twice: `started` with the readers' record counts before any
stage, and `done` as the very last commit. Only `done` rows mark inputs as processed, and
only runs with `done` rows count; rows of any other run are leftovers of a killed run and
are deleted before the next run starts (`recover`).

The output lock lives in `tables/lock.py` (re-exported here for existing imports).

Example::

    with OutputLock(out_dir, run_id):
        done = done_inputs(spark, out_dir)    # {(uri, size, mtime_ms), ...}
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from pyspark.sql import functions as F

from corpusforge.tables.delta import (
    delete_runs,
    read_table,
    table_exists,
    write_run_rows,
)
from corpusforge.tables.lock import OutputLock  # noqa: F401  (re-export for existing imports)

log = logging.getLogger(__name__)


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

