"""The `tokens` output: the run's kept documents → token ids, one row per document, in Delta.

Configured by `[tokenize]` (`corpusforge.tokenize.tokens.TokenizeConfig`) and turned on by
`pipeline.outputs = ["tokens"]`. `check_config` runs before the run starts
(pipeline.run.check_pipeline), so a missing tokenizer, bad split fractions or an unknown
separator stop the run before any work with exit code 2.

* `tokens` — one row per document (`tokenize.tokens.tokens_batch` over `mapInArrow`), plus
  `run_id`.
* The tokenizer identity also goes into the Delta commit that writes the run's rows, as
  `userMetadata` JSON (`{"table", "run_id", "tokenizer", ...}`); delta-rs reads it from the
  table's history (`train.data.table_tokenizer`), so a trainer learns the tokenizer of a pinned
  version without scanning a column.
* `packed` (when `tokenize.pack = true`) — written next from the `tokens` rows just written
  (`corpusforge.outputs.packed`).
"""
from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from corpusforge.tokenize.tokens import (
    INPUT_SCHEMA,
    METADATA_FORMAT,
    ResolvedTokenize,
    TokenizeConfig,
    resolve_config,
    tokens_arrow_schema,
    tokens_function,
)

if TYPE_CHECKING:
    from corpusforge.config import RunConfig
    from corpusforge.pipeline.registry import StageContext

log = logging.getLogger(__name__)

USER_METADATA_CONF = "spark.databricks.delta.commitInfo.userMetadata"  # Delta's per-commit note


def check_config(cfg: RunConfig) -> None:
    """Fail with ConfigError before any work when `[tokenize]` cannot produce the `tokens` output.

    Loads the tokenizer once (cheap, local files only), so a corrupt file fails here too.

    >>> from corpusforge.config import load_config
    >>> check_config(load_config(overrides=["pipeline.outputs=['tokens']"]))
    Traceback (most recent call last):
    ...
    corpusforge.errors.ConfigError: tokenize.tokenizer: the 'tokens' output needs a tokenizer directory or tokenizer.json; none is set
    """
    resolve_config(cfg.tokenize)


def tokens_frame(kept_df, tcfg: TokenizeConfig, resolved: ResolvedTokenize, jieba_cache: str | None = None):
    """The `tokens` rows (without `run_id`) of a frame of documents, via `mapInArrow`."""
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import from_arrow_schema

    def column(name: str):
        # split and label are absent when no reader filled them; null means "none given".
        return F.col(name).cast("string") if name in kept_df.columns else F.lit(None).cast("string")

    documents = kept_df.select(*(column(name).alias(name) for name in INPUT_SCHEMA.names))
    return documents.mapInArrow(tokens_function(tcfg, resolved, jieba_cache),
                                from_arrow_schema(tokens_arrow_schema(tcfg.words)))


@contextlib.contextmanager
def commit_metadata(spark, payload: Mapping[str, object]) -> Iterator[None]:
    """Attach `payload` (JSON) as userMetadata to the Delta commits made inside the block."""
    previous = spark.conf.get(USER_METADATA_CONF, None)
    spark.conf.set(USER_METADATA_CONF, json.dumps({"format": METADATA_FORMAT, **payload}, sort_keys=True))
    try:
        yield
    finally:
        if previous is None:
            spark.conf.unset(USER_METADATA_CONF)
        else:
            spark.conf.set(USER_METADATA_CONF, previous)


def _jieba_cache(output: str) -> str | None:
    from corpusforge.tables.delta import local_path

    root = local_path(output)
    # A directory of the output, never the shared temp dir; remote outputs use the env default.
    return str(root / "_cache" / "jieba") if root is not None else None


def write_tokens(ctx: StageContext, kept_df) -> None:
    """Write the run's `tokens` rows (and `packed`, when configured) by run_id; see the module doc.

    Example::

        write_tokens(StageContext(spark=spark, cfg=cfg, output="out", run_id="r1"), kept)
        read_table(spark, "out", "tokens").where("run_id = 'r1'").count()  # = kept documents
    """
    from pyspark.sql import functions as F

    from corpusforge.outputs.packed import write_packed
    from corpusforge.tables.delta import read_table, write_run_rows

    tcfg = ctx.cfg.tokenize
    resolved = resolve_config(tcfg)
    tokens = tokens_frame(kept_df, tcfg, resolved, _jieba_cache(ctx.output)).withColumn("run_id", F.lit(ctx.run_id))
    metadata = {"table": "tokens", "run_id": ctx.run_id, "tokenizer": resolved.identity,
                "add_special_tokens": tcfg.add_special_tokens, "max_length": tcfg.max_length}
    with commit_metadata(ctx.spark, metadata):
        write_run_rows(ctx.spark, tokens, ctx.output, "tokens", ctx.run_id, fill=("words",))
    # Later steps read what was written: tokenization never runs twice, and counts are exact.
    written = read_table(ctx.spark, ctx.output, "tokens").where(F.col("run_id") == ctx.run_id)
    totals = written.agg(F.count("*").alias("documents"), F.sum("n_tokens").alias("tokens")).first()
    log.info("tokens: %d documents, %d tokens, tokenizer %s", totals.documents, totals.tokens or 0, resolved.identity)
    if tcfg.pack:
        write_packed(ctx, written, resolved, totals.documents, metadata)
