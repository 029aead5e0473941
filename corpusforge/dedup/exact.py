"""Exact dedup on the hash of the dedup key, within the run and against earlier runs.

Within a run, a group of documents with the same `text_hash` keeps one: the copy in the
preferred split (test, then validation, then train, then none), then the smallest `doc_id`
(DESIGN.md, "Determinism"). Against earlier runs, a document whose hash is in `exact_index`
is dropped whatever its split, with the earlier `doc_id` as detail.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import pyarrow as pa

from corpusforge.errors import ConfigError
from corpusforge.stage import Stage, set_column
from corpusforge.text.dedup_key import DEDUP_KEY_VERSION, dedup_key, text_hash

# Lower is preferred: dedup never shrinks an evaluation set.
SPLIT_RANK = {"test": 0, "validation": 1, "train": 2}
_NO_SPLIT_RANK = 3


def text_hashes(texts: list[str | None]) -> list[str | None]:
    """The `text_hash` of each text (None stays None).

    >>> a, b = text_hashes(["Hello, World!", "hello world"])
    >>> a == b
    True
    """
    return [None if t is None else text_hash(dedup_key(t)) for t in texts]


def add_text_hash(df):
    """`df` plus `text_hash`, computed over Arrow batches."""
    from pyspark.sql.types import StringType, StructField, StructType

    schema = StructType([f for f in df.schema.fields if f.name != "text_hash"]
                        + [StructField("text_hash", StringType())])

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            hashes = text_hashes(batch.column("text").to_pylist())
            yield set_column(batch, "text_hash", pa.array(hashes, pa.string())).select(schema.names)

    return df.mapInArrow(run, schema)


@dataclass(frozen=True)
class ExactDedupStage(Stage):
    """Drop exact duplicates (`dedup.exact_duplicate`, `dedup.exact_seen_in_earlier_run`)."""

    index_df: object = None  # exact_index rows of finished runs, or None (scope 'run')
    name = "dedup.exact"
    requires = ("doc_id", "text", "split")
    provides = (("text_hash", "string"),)
    needs_materialized_input = True  # live and dropped rows are read in two branches

    def flag(self, df):
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        self.check_schema(df)
        live = add_text_hash(df.where("drop_reason IS NULL"))
        dead = df.where("drop_reason IS NOT NULL")
        for column, ddl in self.provides:
            if column not in dead.columns:
                dead = dead.withColumn(column, F.lit(None).cast(ddl))
        rank = F.coalesce(
            F.create_map(*[x for k, v in SPLIT_RANK.items() for x in (F.lit(k), F.lit(v))])[F.col("split")],
            F.lit(_NO_SPLIT_RANK),
        )
        group = Window.partitionBy("text_hash").orderBy(rank, F.col("doc_id"))
        live = live.withColumn("_keeper", F.first("doc_id").over(group))
        reason = F.when(F.col("_keeper") != F.col("doc_id"), F.lit("dedup.exact_duplicate"))
        detail = F.when(F.col("_keeper") != F.col("doc_id"), F.col("_keeper"))
        if self.index_df is not None:
            seen = self.index_df.groupBy("text_hash").agg(F.min("doc_id").alias("_seen_doc_id"))
            live = live.join(seen, "text_hash", "left")
            reason = F.when(F.col("_seen_doc_id").isNotNull(), F.lit("dedup.exact_seen_in_earlier_run")).otherwise(reason)
            detail = F.when(F.col("_seen_doc_id").isNotNull(), F.col("_seen_doc_id")).otherwise(detail)
        live = (live.withColumn("drop_reason", reason).withColumn("detail", detail)
                .withColumn("drop_stage", F.when(reason.isNotNull(), F.lit(self.name))))
        return live.select(dead.columns).unionByName(dead)


def load_exact_index(spark, output: str):
    """The exact_index of earlier finished runs, or None; refuses another key version."""
    from corpusforge.tables.delta import read_table, table_exists

    if not table_exists(spark, output, "exact_index"):
        return None
    index = read_table(spark, output, "exact_index")
    versions = {r.key_version for r in index.select("key_version").distinct().collect()}
    if versions - {DEDUP_KEY_VERSION}:
        raise ConfigError(
            f"exact_index was built with dedup key version {sorted(versions)}, this run uses "
            f"{DEDUP_KEY_VERSION}: rebuild the index or run with dedup.scope=run"
        )
    return index


def exact_dedup_stage(ctx) -> ExactDedupStage | None:
    """The `exact_dedup` stage of a run, from the `[dedup]` config section."""
    if not ctx.cfg.dedup.exact:
        return None
    index = load_exact_index(ctx.spark, ctx.output) if ctx.cfg.dedup.scope == "index" else None
    return ExactDedupStage(index)
