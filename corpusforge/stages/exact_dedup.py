"""The `exact_dedup` stage (`dedup.exact`): the hash of the dedup key, within the run and
against earlier runs.

Within a run, a group of documents with the same `text_hash` keeps one: the copy in the
preferred split (`corpusforge.dedup.exact.split_rank`: test, then validation, then train, then
none), then the smallest `doc_id` (DESIGN.md, "Determinism"). Against earlier runs, a document
whose hash is in `exact_index` (`corpusforge.outputs.exact_index`) is dropped whatever its
split, with the earlier `doc_id` as detail.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import pyarrow as pa

from corpusforge.dedup.exact import split_rank, text_hashes
from corpusforge.stages.base import Stage, set_column

_SPLIT_RANK_COLUMN = "_split_rank"  # the copy's preference (dedup.exact.split_rank), for the window


def add_text_hash(df, *, with_split_rank: bool = False):
    """`df` plus `text_hash` (and `_split_rank` when asked), computed over Arrow batches."""
    from pyspark.sql.types import IntegerType, StringType, StructField, StructType

    added = [StructField("text_hash", StringType())]
    if with_split_rank:
        added.append(StructField(_SPLIT_RANK_COLUMN, IntegerType()))
    schema = StructType([f for f in df.schema.fields if f.name not in {a.name for a in added}] + added)

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            hashes = text_hashes(batch.column("text").to_pylist())
            batch = set_column(batch, "text_hash", pa.array(hashes, pa.string()))
            if with_split_rank:
                ranks = [split_rank(s) for s in batch.column("split").to_pylist()]
                batch = set_column(batch, _SPLIT_RANK_COLUMN, pa.array(ranks, pa.int32()))
            yield batch.select(schema.names)

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
        live = add_text_hash(df.where("drop_reason IS NULL"), with_split_rank=True)
        dead = df.where("drop_reason IS NOT NULL")
        for column, ddl in self.provides:
            if column not in dead.columns:
                dead = dead.withColumn(column, F.lit(None).cast(ddl))
        group = Window.partitionBy("text_hash").orderBy(F.col(_SPLIT_RANK_COLUMN), F.col("doc_id"))
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


def exact_dedup_stage(ctx) -> ExactDedupStage:
    """The `exact_dedup` stage of a run; `dedup.scope` says whether it also reads `exact_index`."""
    from corpusforge.outputs.exact_index import load_exact_index
    from corpusforge.tables.delta import without_files

    index = load_exact_index(ctx.spark, ctx.output) if ctx.cfg.dedup.scope == "index" else None
    if index is not None:  # a modified file's new version is not a duplicate of its old one
        index = without_files(index, ctx.superseded)
    return ExactDedupStage(index)
