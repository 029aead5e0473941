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

from corpusforge.errors import SchemaError
from corpusforge.schemas import conform, schema_version
from corpusforge.tables import fs

TABLES = ("documents", "dropped", "stats", "ledger", "exact_index")  # every run writes these
SCHEMA_VERSION_PROPERTY = "corpusforge.schemaVersion"  # table property: schemas/<table>.json's version


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


def write_run_rows(spark, df, output: str, name: str, run_id: str, *, fill: tuple[str, ...] = (),
                   supersede: tuple[str, ...] = ()) -> None:
    """Replace the rows of `run_id` in table `name` with `df`, atomically.

    `supersede` lists input URIs read again as new versions (a modified file): the rows earlier
    runs wrote from those files go in the same commit (the table must have `source_uri`).

    `df` is checked against `schemas/<name>.json` before it is conformed (schemas.check_columns:
    a missing, renamed or undeclared column is a SchemaError naming it; `fill` names the
    nullable columns the writer may leave out). A table written by a newer schema version is
    refused; the table records the version it is written with.
    """
    from corpusforge.tables.lock import ensure_lease

    ensure_lease(output)  # a run that lost its output lock must not start another write
    version = schema_version(name)
    stored = table_schema_version(spark, output, name)
    if stored is not None and stored > version:
        raise SchemaError(f"table {name!r} at {table_path(output, name)} has schema version {stored}, newer "
                          f"than this corpusforge's {version}; write it with a newer corpusforge")
    df = conform(df, name, fill)
    (
        df.write.format("delta")
        .mode("overwrite")
        .option("replaceWhere", replace_predicate(run_id, supersede))
        # New columns added to schemas/<name>.json evolve existing tables.
        .option("mergeSchema", "true")
        .save(table_path(output, name))
    )
    if stored != version:  # first write, or a table of an older version: one metadata commit
        # Delta takes delta.`path` as a path only when it is absolute: a relative output
        # (`--output out`, as `make demo` runs) would be looked up as a catalog table.
        local = fs.local_path(table_path(output, name))
        location = str(local.absolute()) if local is not None else table_path(output, name)
        spark.sql(f"ALTER TABLE delta.`{location}` "
                  f"SET TBLPROPERTIES ('{SCHEMA_VERSION_PROPERTY}' = '{version}')")


def replace_predicate(run_id: str, supersede: tuple[str, ...] = ()) -> str:
    """The replaceWhere of a run's write: its own rows, and those of the superseded files.

    >>> replace_predicate("r1"), replace_predicate("r'2", ("file:/a.jsonl",))
    ("run_id = 'r1'", "run_id = 'r''2' OR source_uri IN ('file:/a.jsonl')")
    """
    predicate = f"run_id = '{_quoted(run_id)}'"
    if supersede:
        predicate += " OR source_uri IN (" + ", ".join(f"'{_quoted(u)}'" for u in sorted(supersede)) + ")"
    return predicate


def without_files(df, uris: tuple[str, ...]):
    """`df` (an index table) without the rows of input files `uris`: a modified file's new
    version is not a duplicate of its old one. Rows without `source_uri` (written before the
    column existed) are kept."""
    from pyspark.sql import functions as F

    if not uris or "source_uri" not in df.columns:
        return df
    return df.where(F.col("source_uri").isNull() | ~F.col("source_uri").isin(list(uris)))


def table_schema_version(spark, output: str, name: str) -> int | None:
    """The schema version table `name` was last written with, or None (no table, or written
    before versions were recorded)."""
    if not table_exists(spark, output, name):
        return None
    from delta.tables import DeltaTable

    properties = DeltaTable.forPath(spark, table_path(output, name)).detail().select("properties").first()[0]
    value = (properties or {}).get(SCHEMA_VERSION_PROPERTY)
    return int(value) if value is not None else None


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
