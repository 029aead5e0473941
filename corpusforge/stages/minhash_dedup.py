"""The MinHash near-duplicate stage (`dedup.minhash`): within the run and against earlier runs.

For the live rows of the frame:

1. the dedup key of `text` (corpusforge.text.dedup_key) and the split preference
   (`corpusforge.dedup.exact.split_rank`: test < validation < train < none), per Arrow batch;
2. signatures and band hashes (corpusforge.stages.lsh.signature_batch, over the pure core of
   dedup/minhash.py), in the same Python worker as the keys; a document with fewer tokens than
   the n-gram size has no shingle and skips LSH (left to exact dedup);
3. within the run: star edges per bucket, verification, connected components; every document
   that is not its cluster's representative (the preferred split, then the smallest doc_id) is
   dropped as `dedup.near_duplicate`, `detail` = the representative's doc_id;
4. with `dedup.scope = "index"` (the one switch for exact and MinHash dedup): documents whose bands hit the `minhash_index` of earlier runs and
   whose signature agrees are dropped as `dedup.seen_in_earlier_run`, `detail` = the earlier
   doc_id (this reason wins over 3);
5. the signature and band hashes stay on the frame (`minhash_signature`,
   `minhash_band_hashes`) so the `minhash_index` output writer (outputs/minhash_index.py) appends the
   survivors after the documents are written; no table schema has these columns, so the table
   writes leave them out.

Config (`[minhash]` in the run config, `MinHashConfig` of dedup/minhash.py)::

    [dedup]
    scope = "index"        # 'run': within this run only; 'index': also against earlier runs
    [minhash]
    verify = "signature"   # check of candidate pairs: none | signature | exact
    num_perm = 112
    bands = 14
    rows = 8
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Iterator

import pyarrow as pa

from corpusforge.dedup.exact import split_rank
from corpusforge.dedup.lsh import BAND_HASHES_COLUMN, INDEX_TABLE, SIGNATURE_COLUMN, node_key
from corpusforge.dedup.minhash import MinHashConfig, MinHashParams
from corpusforge.progress import Phase
from corpusforge.stages.base import Stage, join_drops, stage_frame
from corpusforge.text.dedup_key import dedup_key

log = logging.getLogger(__name__)

NEAR_DUPLICATE = "dedup.near_duplicate"
SEEN_IN_EARLIER_RUN = "dedup.seen_in_earlier_run"


def _key_batches(has_lang: bool, has_split: bool):
    """Arrow function: (doc_id, text[, lang][, split]) → (doc_id, dedup_key, lang, split_rank)."""

    def compute(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            yield _keyed(batch, has_lang, has_split)

    return compute


def _keyed(batch: pa.RecordBatch, has_lang: bool, has_split: bool) -> pa.RecordBatch:
    texts = batch.column("text").to_pylist()
    keys = [dedup_key(text) if text is not None else "" for text in texts]
    langs = batch.column("lang") if has_lang else pa.nulls(batch.num_rows, pa.string())
    splits = batch.column("split").to_pylist() if has_split else [None] * batch.num_rows
    return pa.RecordBatch.from_arrays(
        [batch.column("doc_id"), pa.array(keys, pa.string()), langs,
         pa.array([split_rank(split) for split in splits], pa.int32())],
        names=["doc_id", "dedup_key", "lang", "split_rank"],
    )


def _signature_batches_of_text(params: MinHashParams, has_lang: bool, has_split: bool):
    """Arrow function: (doc_id, text[, lang][, split]) → `SIGNATURE_SCHEMA` rows, the dedup key
    made and hashed in one Python worker (`_key_batches` then `minhash_signatures` would send
    every key through the JVM between the two)."""

    def compute(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from corpusforge.stages.lsh import signature_batch

        for batch in batches:
            keyed = _keyed(batch, has_lang, has_split)
            nodes = [node_key(doc, rank) for doc, rank in
                     zip(keyed.column("doc_id").to_pylist(), keyed.column("split_rank").to_pylist())]
            yield signature_batch(keyed.column("doc_id"), pa.array(nodes, pa.string()), keyed.column("dedup_key"),
                                  keyed.column("lang"), params)

    return compute


@dataclass(frozen=True)
class MinHashDedupStage(Stage):
    """Drop near-duplicates (`dedup.near_duplicate`) and documents seen in earlier runs
    (`dedup.seen_in_earlier_run`); `detail` is the doc_id each one duplicates.

    Example::

        stage = MinHashDedupStage(MinHashConfig())   # index_df=None: within the frame only
        flagged = stage.flag(frame)   # frame: doc_id, text, drop_* columns (lang, split optional)
    """

    config: MinHashConfig = MinHashConfig()
    index_df: object = None  # exploded minhash_index of earlier runs (load_minhash_index), or None
    workdir: str | None = None  # where the signatures are materialized (the run's staging dir)
    # the frame already holds the signature columns, made by exact dedup's prelude from the same
    # dedup key (stages.exact_dedup.share_dedup_key)
    signatures_on_frame: bool = False

    name = "dedup.minhash"
    requires = ("doc_id", "text")
    provides = ((SIGNATURE_COLUMN, "array<bigint>"), (BAND_HASHES_COLUMN, "array<bigint>"))
    needs_materialized_input = True  # live rows are read for the keys and again for the result

    def flag(self, df):
        from pyspark.sql import functions as F
        from pyspark.sql import types as T

        from corpusforge.stages.lsh import SIGNATURE_SCHEMA, against_index, near_duplicates_from_signatures

        self.check_schema(df)
        params = self.config.params()
        live = df.where("drop_reason IS NULL")
        has_lang, has_split = "lang" in df.columns, "split" in df.columns
        source = live.select("doc_id", "text", *(["lang"] if has_lang else []), *(["split"] if has_split else []))
        if has_lang:
            source = source.withColumn("lang", F.col("lang").cast("string"))
        if has_split:
            source = source.withColumn("split", F.col("split").cast("string"))
        # the keys again, for verify='exact' only (lazy: the other modes never read them)
        keyed = source.mapInArrow(
            _key_batches(has_lang, has_split),
            "doc_id string, dedup_key string, lang string, split_rank int",
        )
        on_frame = self.signatures_on_frame and SIGNATURE_COLUMN in df.columns
        with Phase("signatures"):  # dedup keys and signatures of the live rows, written once
            if on_frame:  # the frame is staged already: a projection of it
                sigs = _signatures_on_frame(live, has_split)
            else:
                sigs = stage_frame(source.mapInArrow(_signature_batches_of_text(params, has_lang, has_split),
                                                     SIGNATURE_SCHEMA), self.workdir, "minhash-signatures")
        with Phase("components"):  # buckets, verified edges, checkpointed rounds
            dupes = near_duplicates_from_signatures(
                sigs, params, verify=self.config.verify, threshold=self.config.threshold,
                max_iterations=self.config.max_iterations, documents=keyed,
            )
        reason, detail = F.lit(NEAR_DUPLICATE), F.col("duplicate_of")
        if self.index_df is not None:
            seen = against_index(sigs, self.index_df, params, threshold=self.config.threshold)
            dupes = dupes.join(seen.withColumnRenamed("duplicate_of", "_seen_of"), "doc_id", "full")
            reason = F.when(F.col("_seen_of").isNotNull(), F.lit(SEEN_IN_EARLIER_RUN)).otherwise(reason)
            detail = F.coalesce(F.col("_seen_of"), detail)
        with Phase("drops"):
            drops = stage_frame(dupes.select("doc_id", reason.alias("_reason"), detail.alias("_detail")),
                                self.workdir, "minhash-drops")
        signature_columns = (SIGNATURE_COLUMN, BAND_HASHES_COLUMN)
        if on_frame:
            # as without the shared key: a row dropped before this stage has no signature
            df = df.select(*[F.when(F.col("drop_reason").isNull(), F.col(c)).alias(c) if c in signature_columns
                             else F.col(c) for c in df.columns])
        else:  # the signatures join the frame: a shuffle of the text, so the pipeline stages the result
            columns = sigs.select(
                "doc_id", *[F.when(F.col("n_shingles") > 0, F.col(source)).alias(column) for column, source in
                            zip(signature_columns, ("signature", "band_hashes"))])
            live = live.drop(*signature_columns).join(columns, "doc_id", "left")
            dead = df.where("drop_reason IS NOT NULL").drop(*signature_columns)
            for column in signature_columns:
                dead = dead.withColumn(column, F.lit(None).cast(T.ArrayType(T.LongType())))
            df = live.unionByName(dead)
        out_columns = [c for c in df.columns if c not in signature_columns] + list(signature_columns)
        return join_drops(df.select(out_columns), drops, self.name)

    @property
    def marks_by_join(self) -> bool:  # with the signatures on the frame, nothing else joins it
        return self.signatures_on_frame


def _signatures_on_frame(live, has_split: bool):
    """The `SIGNATURE_SCHEMA` rows of the documents with a signature on the frame; the node
    from the split as `_keyed` ranks it. Only `n_shingles > 0` is read downstream."""
    from pyspark.sql import functions as F

    from corpusforge.dedup.exact import NO_SPLIT_RANK
    from corpusforge.stages.exact_dedup import split_rank_column
    from corpusforge.stages.lsh import node_column

    rank = split_rank_column() if has_split else F.lit(NO_SPLIT_RANK)
    return live.where(F.col(SIGNATURE_COLUMN).isNotNull()).select(
        "doc_id", node_column(F.col("doc_id"), rank).alias("node"), F.lit(1).alias("n_shingles"),
        F.col(SIGNATURE_COLUMN).alias("signature"), F.col(BAND_HASHES_COLUMN).alias("band_hashes"),
    )


def minhash_dedup_stage(ctx) -> MinHashDedupStage:
    """The `minhash_dedup` stage of a run, from the `[minhash]` section and `dedup.scope`.

    Refuses, before any work, a `minhash_index` built with other parameters (even with
    scope 'run': the survivors are appended to it).
    """
    from corpusforge.outputs.minhash_index import load_minhash_index

    config = ctx.cfg.minhash
    index = load_minhash_index(ctx.spark, ctx.output, config.params(), exclude_run=ctx.run_id,
                               exclude_uris=ctx.superseded)
    if INDEX_TABLE not in ctx.cfg.pipeline.outputs:
        log.warning("stage dedup.minhash: 'minhash_index' is not in pipeline.outputs; this run's "
                    "survivors will not be remembered for later runs")
    return MinHashDedupStage(config, index if ctx.cfg.dedup.scope == "index" else None, ctx.staging)

