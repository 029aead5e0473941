"""The optional `packed` table: fixed-length training sequences of the run's `tokens` rows.

Written by the `tokens` output when `tokenize.pack = true`. Distributed, with no data on the
driver: the run's `tokens` rows are grouped by (split, bucket), bucket = xxhash64(doc_id) mod B,
with B = ceil(documents / pack_group_docs); each group is packed on an executor
(`applyInArrow`) by the pure `corpusforge.tokenize.tokens.pack_group`. The result depends only
on the documents and the config, never on Spark's partitioning or task order.
"""
from __future__ import annotations

import logging
import math

import pyarrow as pa

from corpusforge.tokenize.tokens import ResolvedTokenize, TokenizeConfig, pack_group

log = logging.getLogger(__name__)


def packed_frame(tokens_df, tcfg: TokenizeConfig, resolved: ResolvedTokenize, run_id: str, documents: int):
    """The `packed` rows (without `tokenizer`/`run_id`) of `tokens_df`, packed per (split, bucket)."""
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import from_arrow_schema

    from corpusforge.tokenize.pack import PACKED_SCHEMA

    buckets = max(1, math.ceil(documents / tcfg.pack_group_docs))
    seq_length, separator_id = tcfg.seq_length, resolved.separator_id
    # xxhash64 is Spark's seeded, platform-independent hash: the same doc_id → the same bucket everywhere.
    grouped = tokens_df.select("doc_id", "input_ids", "split",
                               F.pmod(F.xxhash64("doc_id"), F.lit(buckets)).alias("pack_bucket"))

    def pack(key: tuple, table: pa.Table) -> pa.Table:
        split, bucket = key[0].as_py(), key[1].as_py()
        return pack_group(table, split=split, bucket=bucket, run_id=run_id, seq_length=seq_length,
                          separator_id=separator_id)

    return grouped.groupBy("split", "pack_bucket").applyInArrow(pack, from_arrow_schema(PACKED_SCHEMA))


def write_packed(ctx, tokens_df, resolved: ResolvedTokenize, documents: int, metadata: dict) -> None:
    """Write the run's `packed` rows by run_id, from its `tokens` rows as written."""
    from pyspark.sql import functions as F

    from corpusforge.outputs.tokens import commit_metadata
    from corpusforge.tables.delta import write_run_rows

    tcfg = ctx.cfg.tokenize
    packed = packed_frame(tokens_df, tcfg, resolved, ctx.run_id, documents).select(
        "*", F.lit(resolved.identity).alias("tokenizer"), F.lit(ctx.run_id).alias("run_id"))
    with commit_metadata(ctx.spark, {**metadata, "table": "packed", "seq_length": tcfg.seq_length,
                                     "separator_id": resolved.separator_id}):
        write_run_rows(ctx.spark, packed, ctx.output, "packed", ctx.run_id)
    log.info("packed: %d-id sequences of run %s written", tcfg.seq_length, ctx.run_id)
