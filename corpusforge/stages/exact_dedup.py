"""The `exact_dedup` stage (`dedup.exact`): the hash of the dedup key, within the run and
against earlier runs.

Within a run, a group of documents with the same `text_hash` keeps one: the copy in the
preferred split (`corpusforge.dedup.exact.split_rank`: test, then validation, then train, then
none), then the smallest `doc_id` (DESIGN.md, "Determinism"). Against earlier runs, a document
whose hash is in `exact_index` (`corpusforge.outputs.exact_index`) is dropped whatever its
split, with the earlier `doc_id` as detail.

The hash is row-local, so the pipeline computes it in the pass before the stage (`prelude`:
with normalize and the filters when they come first), where the text is already in Python.
The stage itself then shuffles only (hash, split, doc_id) to find each group's keeper, and
joins the few groups that have copies back to the documents.
"""
from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from corpusforge.dedup.exact import NO_SPLIT_RANK, SPLIT_RANK, text_hashes
from corpusforge.stages.base import BatchStage, Stage, run_batch_stages, set_column


class TextHashStage(BatchStage):
    """`text_hash` of each live row: the hash of its dedup key. It drops nothing."""

    name = "text_hash"
    requires = ("text",)
    provides = (("text_hash", "string"),)

    def transform(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        return set_column(batch, "text_hash", pa.array(text_hashes(batch.column("text").to_pylist()), pa.string()))


def split_rank_column():
    """`corpusforge.dedup.exact.split_rank` of the `split` column, as a Spark expression."""
    from pyspark.sql import functions as F

    ranks = F.create_map(*[F.lit(v) for pair in SPLIT_RANK.items() for v in pair])
    return F.coalesce(ranks[F.col("split")], F.lit(NO_SPLIT_RANK))


@dataclass(frozen=True)
class ExactDedupStage(Stage):
    """Drop exact duplicates (`dedup.exact_duplicate`, `dedup.exact_seen_in_earlier_run`)."""

    index_df: object = None  # exact_index rows of finished runs, or None (scope 'run')
    workdir: str | None = None  # where the groups with copies are written (the run's staging dir)
    name = "dedup.exact"
    requires = ("doc_id", "text", "split")
    provides = (("text_hash", "string"),)
    needs_materialized_input = True  # live rows are read for the groups and again for the result

    def prelude(self) -> BatchStage:
        return TextHashStage()

    def flag(self, df):
        from pyspark.sql import functions as F

        self.check_schema(df)
        if "text_hash" not in df.columns:  # a stage run by hand, not after its prelude
            df = run_batch_stages(df, [TextHashStage()])
        live = df.where("drop_reason IS NULL")
        dead = df.where("drop_reason IS NOT NULL")
        keeper = F.min(F.struct(split_rank_column().alias("rank"), F.col("doc_id"))).alias("_first")
        groups = (live.groupBy(F.col("text_hash").alias("_hash"))
                  .agg(F.count(F.lit(1)).alias("_copies"), keeper)
                  .where("_copies > 1")
                  .select("_hash", F.col("_first.doc_id").alias("_keeper")))
        live = live.join(self._materialize(groups), F.col("text_hash").eqNullSafe(F.col("_hash")), "left")
        duplicate = F.col("_keeper").isNotNull() & (F.col("_keeper") != F.col("doc_id"))
        reason = F.when(duplicate, F.lit("dedup.exact_duplicate"))
        detail = F.when(duplicate, F.col("_keeper"))
        if self.index_df is not None:
            seen = self.index_df.groupBy("text_hash").agg(F.min("doc_id").alias("_seen_doc_id"))
            live = live.join(seen, "text_hash", "left")
            reason = F.when(F.col("_seen_doc_id").isNotNull(), F.lit("dedup.exact_seen_in_earlier_run")).otherwise(reason)
            detail = F.when(F.col("_seen_doc_id").isNotNull(), F.col("_seen_doc_id")).otherwise(detail)
        live = (live.withColumn("drop_reason", reason).withColumn("detail", detail)
                .withColumn("drop_stage", F.when(reason.isNotNull(), F.lit(self.name))))
        return live.select(dead.columns).unionByName(dead)

    def _materialize(self, groups):
        """The groups with copies, written once: a few percent of the documents, so the join
        back broadcasts them (the planner sees their real size) instead of shuffling every text."""
        if self.workdir is None:  # a stage built by hand: the planner decides from its estimate
            return groups
        path = f"{self.workdir.rstrip('/')}/exact-copies"
        groups.write.mode("overwrite").parquet(path)
        return groups.sparkSession.read.parquet(path)


def exact_dedup_stage(ctx) -> ExactDedupStage:
    """The `exact_dedup` stage of a run; `dedup.scope` says whether it also reads `exact_index`."""
    from corpusforge.outputs.exact_index import load_exact_index
    from corpusforge.tables.delta import without_files

    index = load_exact_index(ctx.spark, ctx.output) if ctx.cfg.dedup.scope == "index" else None
    if index is not None:  # a modified file's new version is not a duplicate of its old one
        index = without_files(index, ctx.superseded)
    return ExactDedupStage(index, ctx.staging)
