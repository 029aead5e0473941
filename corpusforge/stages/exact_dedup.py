"""The `exact_dedup` stage (`dedup.exact`): the hash of the dedup key, within the run and
against earlier runs.

Within a run, a group of documents with the same `text_hash` keeps one: the copy in the
preferred split (`corpusforge.dedup.exact.split_rank`: test, then validation, then train, then
none), then the smallest `doc_id` (DESIGN.md, "Determinism"). Against earlier runs, a document
whose hash is in `exact_index` (`corpusforge.outputs.exact_index`) is dropped whatever its
split, with the earlier `doc_id` as detail.

The hash is row-local, so the pipeline computes it in the pass before the stage (`prelude`:
with normalize and the filters when they come first), where the text is already in Python.
The stage itself then shuffles only (hash, split, doc_id) to find each group's keeper, stages
the rows it drops, and returns the frame joined with them (`marks_by_join`): the text is
neither shuffled nor written again.

When `minhash_dedup` comes right after it, the prelude also makes the MinHash signatures from
the same dedup key (`share_dedup_key`): the key is most of the cost of both, and nothing
between the two stages can change the text.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from corpusforge.dedup.exact import NO_SPLIT_RANK, SPLIT_RANK
from corpusforge.dedup.lsh import BAND_HASHES_COLUMN, SIGNATURE_COLUMN
from corpusforge.dedup.minhash import MinHashParams
from corpusforge.stages.base import BatchStage, Stage, join_drops, run_batch_stages, set_column, stage_frame
from corpusforge.text.dedup_key import dedup_key, text_hash

_SIGNATURE_COLUMNS = ((SIGNATURE_COLUMN, "array<bigint>"), (BAND_HASHES_COLUMN, "array<bigint>"))


@dataclass(frozen=True)
class TextHashStage(BatchStage):
    """`text_hash` of each live row: the hash of its dedup key. It drops nothing.

    With `minhash`, also the MinHash signature and band hashes of the same key (the columns of
    the MinHash stage, null for a text without one full shingle), so the key is made once.
    """

    minhash: MinHashParams | None = None
    name = "text_hash"
    requires = ("text",)

    @property
    def provides(self):
        return (("text_hash", "string"), *(_SIGNATURE_COLUMNS if self.minhash else ()))

    def transform(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        texts = batch.column("text").to_pylist()
        keys = [None if text is None else dedup_key(text) for text in texts]
        batch = set_column(batch, "text_hash", pa.array([None if k is None else text_hash(k) for k in keys], pa.string()))
        if self.minhash is None:
            return batch
        from corpusforge.stages.lsh import signature_batch

        lang = batch.column("lang") if "lang" in batch.schema.names else pa.nulls(batch.num_rows, pa.string())
        doc_id = batch.column("doc_id")
        # the node (split rank + doc_id) is the MinHash stage's to make: doc_id fills its place here
        sigs = signature_batch(doc_id, doc_id, pa.array([k or "" for k in keys], pa.string()), lang, self.minhash)
        has_shingle = pc.greater(sigs.column("n_shingles"), 0)
        for column, source in ((SIGNATURE_COLUMN, "signature"), (BAND_HASHES_COLUMN, "band_hashes")):
            values = sigs.column(source)
            batch = set_column(batch, column, pc.if_else(has_shingle, values, pa.scalar(None, values.type)))
        return batch


def split_rank_column():
    """`corpusforge.dedup.exact.split_rank` of the `split` column, as a Spark expression."""
    from pyspark.sql import functions as F

    ranks = F.create_map(*[F.lit(v) for pair in SPLIT_RANK.items() for v in pair])
    return F.coalesce(ranks[F.col("split")], F.lit(NO_SPLIT_RANK))


@dataclass(frozen=True)
class ExactDedupStage(Stage):
    """Drop exact duplicates (`dedup.exact_duplicate`, `dedup.exact_seen_in_earlier_run`)."""

    index_df: object = None  # exact_index rows of finished runs, or None (scope 'run')
    workdir: str | None = None  # where the groups with copies and the drops are staged (the run's staging dir)
    minhash: MinHashParams | None = None  # the prelude also makes these signatures (share_dedup_key)
    name = "dedup.exact"
    requires = ("doc_id", "text", "split")
    provides = (("text_hash", "string"),)
    needs_materialized_input = True  # live rows are read for the groups and again for the result
    marks_by_join = True

    def prelude(self) -> BatchStage:
        return TextHashStage(self.minhash)

    def flag(self, df):
        from pyspark.sql import functions as F

        self.check_schema(df)
        if "text_hash" not in df.columns:  # a stage run by hand, not after its prelude
            df = run_batch_stages(df, [TextHashStage()])
        live = df.where("drop_reason IS NULL").select("doc_id", "text_hash", "split")
        keeper = F.min(F.struct(split_rank_column().alias("rank"), F.col("doc_id"))).alias("_first")
        groups = (live.groupBy(F.col("text_hash").alias("_hash"))
                  .agg(F.count(F.lit(1)).alias("_copies"), keeper)
                  .where("_copies > 1")
                  .select("_hash", F.col("_first.doc_id").alias("_keeper")))
        # the groups with copies are a few percent of the documents: staged, so the join
        # broadcasts them (the planner sees their real size)
        groups = stage_frame(groups, self.workdir, "exact-copies")
        live = live.join(groups, F.col("text_hash").eqNullSafe(F.col("_hash")), "left")
        duplicate = F.col("_keeper").isNotNull() & (F.col("_keeper") != F.col("doc_id"))
        reason = F.when(duplicate, F.lit("dedup.exact_duplicate"))
        detail = F.when(duplicate, F.col("_keeper"))
        if self.index_df is not None:
            seen = self.index_df.groupBy("text_hash").agg(F.min("doc_id").alias("_seen_doc_id"))
            live = live.join(seen, "text_hash", "left")
            reason = F.when(F.col("_seen_doc_id").isNotNull(), F.lit("dedup.exact_seen_in_earlier_run")).otherwise(reason)
            detail = F.when(F.col("_seen_doc_id").isNotNull(), F.col("_seen_doc_id")).otherwise(detail)
        # a decision is a function of (doc_id, text_hash): keyed by both, two rows that share a
        # doc_id (an input whose own ids repeat) are judged apart, as row by row
        drops = (live.select("doc_id", "text_hash", reason.alias("_reason"), detail.alias("_detail"))
                 .where("_reason IS NOT NULL").distinct())
        return join_drops(df, stage_frame(drops, self.workdir, "exact-drops"), self.name, ("doc_id", "text_hash"))


def exact_dedup_stage(ctx) -> ExactDedupStage:
    """The `exact_dedup` stage of a run; `dedup.scope` says whether it also reads `exact_index`."""
    from corpusforge.outputs.exact_index import load_exact_index
    from corpusforge.tables.delta import without_files

    index = load_exact_index(ctx.spark, ctx.output) if ctx.cfg.dedup.scope == "index" else None
    if index is not None:  # a modified file's new version is not a duplicate of its old one
        index = without_files(index, ctx.superseded)
    return ExactDedupStage(index, ctx.staging)


def share_dedup_key(stages: list[Stage]) -> list[Stage]:
    """`stages` with each exact dedup stage that comes right before a MinHash stage making that
    stage's signatures in its prelude, from the one dedup key it makes anyway; the MinHash stage
    then reads them from the frame instead of making the key again.

    >>> from corpusforge.dedup.minhash import MinHashConfig
    >>> from corpusforge.stages.minhash_dedup import MinHashDedupStage
    >>> exact, near = share_dedup_key([ExactDedupStage(), MinHashDedupStage(MinHashConfig())])
    >>> exact.prelude().minhash == near.config.params(), near.signatures_on_frame
    (True, True)
    >>> share_dedup_key([MinHashDedupStage(MinHashConfig()), ExactDedupStage()])[1].minhash is None
    True
    """
    from corpusforge.stages.minhash_dedup import MinHashDedupStage

    shared = list(stages)
    for index, (first, second) in enumerate(zip(stages, stages[1:])):
        if isinstance(first, ExactDedupStage) and isinstance(second, MinHashDedupStage):
            shared[index] = dataclasses.replace(first, minhash=second.config.params())
            shared[index + 1] = dataclasses.replace(second, signatures_on_frame=True)
    return shared
