"""Table maintenance: compact small files (OPTIMIZE, Z-order where it helps), then VACUUM.

Hourly runs append a few small files to every table each time; readers then open many tiny
Parquet files. OPTIMIZE rewrites them into few large ones (a new table version: readers of
older versions are unaffected), and VACUUM deletes the files no version inside the retention
window needs. The retention is the larger of the configured one and the age of the oldest
pin's commit (corpusforge.tables.pins), so a version a trainer registered stays readable.

The output lock is held throughout: VACUUM deletes files no commit references, and a run
writing at the same time has such files until it commits.

Example::

    report = maintain_output(spark, "out", MaintainParams(retention_hours=168, zorder=True))
    [(t.table, t.files_before, t.files_after) for t in report]
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from corpusforge.errors import ConfigError
from corpusforge.tables.delta import local_path
from corpusforge.tables.pins import list_pins, vacuum_retention_hours

log = logging.getLogger(__name__)

# Z-order columns per table. Readers look documents and tokens up by doc_id (the report's
# snippets, joins of tokens to documents, a trainer seeking a document): clustering by it
# lets Delta skip files by their min/max statistics. Other tables are read whole.
ZORDER_BY = {"documents": ("doc_id",), "tokens": ("doc_id",)}
DELTA_DEFAULT_RETENTION_HOURS = 168.0  # Delta's delta.deletedFileRetentionDuration default (7 days)
RETENTION_CHECK = "spark.databricks.delta.retentionDurationCheck.enabled"


@dataclass(frozen=True, kw_only=True)
class MaintainParams:
    retention_hours: float = DELTA_DEFAULT_RETENTION_HOURS  # VACUUM keeps files removed less than this ago
    # Z-order the tables in ZORDER_BY instead of plain compaction. Open-source Delta rewrites
    # every file of the table on each Z-order, so it is worth it daily or weekly, not hourly.
    zorder: bool = False
    tables: tuple[str, ...] = ()  # tables to maintain; () = every Delta table under the output


@dataclass(frozen=True, kw_only=True)
class TableMaintenance:
    table: str  # table name under the output
    files_before: int  # Parquet files on disk before
    files_live: int  # files the latest version reads, after OPTIMIZE
    files_after: int  # Parquet files on disk after VACUUM
    retention_hours: float  # what VACUUM used
    held_by_pin: str | None  # the pin that raised the retention, if one did
    seconds: float  # wall time


def data_files(table_dir: Path) -> int:
    """Parquet files under a table directory, outside `_delta_log` and other `_` folders."""
    count = 0
    for root, dirs, files in os.walk(table_dir):
        dirs[:] = [d for d in dirs if not d.startswith(("_", "."))]
        count += sum(1 for f in files if f.endswith(".parquet"))
    return count


def maintain_table(spark, table_dir: str, params: MaintainParams, *, now: datetime | None = None) -> TableMaintenance:
    """OPTIMIZE (Z-order if configured and listed in ZORDER_BY), then VACUUM one table."""
    from delta.tables import DeltaTable

    started = time.monotonic()
    path = Path(table_dir)
    name = path.name
    before = data_files(path)
    table = DeltaTable.forPath(spark, str(path))
    optimize = table.optimize()
    if params.zorder and name in ZORDER_BY:
        optimize.executeZOrderBy(*ZORDER_BY[name])
    else:
        optimize.executeCompaction()
    live = DeltaTable.forPath(spark, str(path)).detail().first()["numFiles"]
    hours, pin = vacuum_retention_hours(params.retention_hours, list_pins(str(path)), now or datetime.now(timezone.utc))
    if pin is not None:
        log.info("maintain %s: pin %r (version %d) keeps %.2f h of removed files", name, pin.name, pin.version, hours)
    _vacuum(spark, table, hours)
    result = TableMaintenance(table=name, files_before=before, files_live=int(live), files_after=data_files(path),
                              retention_hours=hours, held_by_pin=pin.name if pin else None,
                              seconds=time.monotonic() - started)
    log.info("maintain %s: %d files → %d live, %d on disk after VACUUM (retention %.2f h) in %.1f s",
             name, result.files_before, result.files_live, result.files_after, hours, result.seconds)
    return result


def _vacuum(spark, table, hours: float) -> None:
    """VACUUM with `hours`; below Delta's 7-day default its safety check is lifted for this call
    only (the configured retention asks for it, and pins protect what trainers read)."""
    if hours >= DELTA_DEFAULT_RETENTION_HOURS:
        table.vacuum(hours)
        return
    previous = spark.conf.get(RETENTION_CHECK, "true")
    spark.conf.set(RETENTION_CHECK, "false")
    try:
        table.vacuum(hours)
    finally:
        spark.conf.set(RETENTION_CHECK, previous)


def maintain_output(spark, output: str, params: MaintainParams) -> list[TableMaintenance]:
    """Maintain the tables under `output`, holding the output lock (no run writes meanwhile)."""
    from corpusforge.tables.ledger import OutputLock

    root = local_path(output)
    if root is None or not root.is_dir():
        raise ConfigError(f"--output not found or not local: {output}")
    found = sorted(p.parent.name for p in root.glob("*/_delta_log") if not p.parent.name.startswith("_"))
    names = list(params.tables) or found
    missing = [n for n in names if n not in found]
    if missing:
        raise ConfigError(f"maintain: no Delta table {missing[0]!r} under {output}; found {found}")
    if params.retention_hours < 0:
        raise ConfigError(f"maintain: retention_hours must be >= 0, got {params.retention_hours}")
    run_id = "maintain-" + datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    with OutputLock(output, run_id):
        return [maintain_table(spark, str(root / name), params) for name in names]
