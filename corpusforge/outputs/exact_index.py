"""The `exact_index` Delta table: the cross-run memory of exact dedup.

One row per document a finished run kept that has a `text_hash` (the `exact_dedup` stage ran):
`text_hash`, `doc_id`, `key_version` (the dedup key recipe it was hashed with, so an index of
another recipe is refused instead of silently compared) and `run_id`. The pipeline writes it
after `documents` and `dropped`, by run_id; the `exact_dedup` stage reads it when
`dedup.scope = "index"`.

Example::

    write_exact_index(ctx, kept)                 # kept: the run's final kept frame
    index = load_exact_index(spark, output)      # None when there is none yet
"""
from __future__ import annotations

from corpusforge.errors import ConfigError
from corpusforge.text.dedup_key import DEDUP_KEY_VERSION

INDEX_TABLE = "exact_index"


def write_exact_index(ctx, kept) -> None:
    """Append the run's kept documents that have a `text_hash`; nothing without exact dedup."""
    from pyspark.sql import functions as F

    from corpusforge.tables.delta import write_run_rows

    if "text_hash" not in kept.columns:
        return
    rows = kept.where("text_hash IS NOT NULL").select(
        "text_hash", "doc_id", "source_uri", F.lit(DEDUP_KEY_VERSION).alias("key_version"), "run_id")
    # The index rows of superseded files (modified inputs) go in the same commit.
    write_run_rows(ctx.spark, rows, ctx.output, INDEX_TABLE, ctx.run_id, supersede=ctx.superseded)


def load_exact_index(spark, output: str):
    """The exact_index of earlier finished runs, or None; refuses another key version."""
    from corpusforge.tables.delta import read_table, table_exists

    if not table_exists(spark, output, INDEX_TABLE):
        return None
    index = read_table(spark, output, INDEX_TABLE)
    versions = {r.key_version for r in index.select("key_version").distinct().collect()}
    if versions - {DEDUP_KEY_VERSION}:
        raise ConfigError(
            f"exact_index was built with dedup key version {sorted(versions)}, this run uses "
            f"{DEDUP_KEY_VERSION}: rebuild the index or run with dedup.scope=run"
        )
    return index
