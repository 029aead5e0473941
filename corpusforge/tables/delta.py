"""Delta table helpers: every write of a run is idempotent by `run_id` (DESIGN.md, commit protocol).

A run's rows are written with `replaceWhere run_id = '<run>'`: writing them again (a retried
run) replaces them in one atomic commit instead of adding a second copy. Rows of runs the
ledger never marked done are removed by `delete_runs` before the next run starts.

Example::

    write_run_rows(spark, documents_df, out_dir, "documents", run_id)
    read_table(spark, out_dir, "documents").where("run_id = 'r1'").count()
"""
from __future__ import annotations

from pathlib import Path

from corpusforge.schemas import assert_schema, conform

TABLES = ("documents", "dropped", "stats", "ledger", "exact_index")  # every run writes these


def table_path(output: str, name: str) -> str:
    """The location of table `name` under the run's output root."""
    return f"{output.rstrip('/')}/{name}"


def table_exists(spark, output: str, name: str) -> bool:
    from delta.tables import DeltaTable

    return DeltaTable.isDeltaTable(spark, table_path(output, name))


def read_table(spark, output: str, name: str, version: int | None = None):
    """Read table `name` through the Delta reader (never as plain Parquet: stale files)."""
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return reader.load(table_path(output, name))


def write_run_rows(spark, df, output: str, name: str, run_id: str) -> None:
    """Replace the rows of `run_id` in table `name` with `df` (schema-checked), atomically."""
    from corpusforge.tables.lock import ensure_lease

    ensure_lease(output)  # a run that lost its output lock must not start another write
    df = conform(df, name)
    assert_schema(df, name)
    (
        df.write.format("delta")
        .mode("overwrite")
        .option("replaceWhere", f"run_id = '{_quoted(run_id)}'")
        # New columns added to schemas/<name>.json evolve existing tables.
        .option("mergeSchema", "true")
        .save(table_path(output, name))
    )


def delete_runs(spark, output: str, run_ids: list[str]) -> None:
    """Delete every row of `run_ids` from every table of the output, ledger included."""
    from delta.tables import DeltaTable

    if not run_ids:
        return
    listed = ", ".join(f"'{_quoted(r)}'" for r in run_ids)
    for name in run_tables(output, spark):
        if table_exists(spark, output, name):
            DeltaTable.forPath(spark, table_path(output, name)).delete(f"run_id IN ({listed})")


def run_tables(output: str, spark=None) -> list[str]:
    """Every Delta table under the output root: the standard ones and any a stage added."""
    from corpusforge.tables import fs

    found = set(TABLES)
    for name in fs.list_dirs(spark, output):
        if not name.startswith("_") and fs.exists(spark, fs.join(output, name, "_delta_log")):
            found.add(name)
    return sorted(found)


def _quoted(value: str) -> str:
    return value.replace("'", "''")


def local_path(uri: str) -> Path | None:
    """The local filesystem path of a `file://` URI or plain path, else None (see tables/fs.py)."""
    from corpusforge.tables import fs

    return fs.local_path(uri)
