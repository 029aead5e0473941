"""The `minhash_index` Delta table: the cross-run memory of MinHash dedup.

One row per document a finished run kept: its band hashes, its signature (so cross-run
candidates are verified, not just bucketed) and `params`, the JSON fingerprint of the MinHash
parameters it was built with (`MinHashParams.fingerprint`, dedup key version included). One row
per document rather than per (document, band): the signature is stored once instead of once per
band (14× less), and `load_minhash_index` explodes the bands when a run compares against it.

Rows are written by run_id (`tables.delta.write_run_rows`), as the `minhash_index` output of
the pipeline (`pipeline.outputs`), after the documents; the recovery at the start of the next
run deletes the rows of a run that never finished, like those of every table under the output
root. The fingerprint check and the column names are pure, in `corpusforge.dedup.lsh`.

Example::

    index = load_minhash_index(spark, output, MinHashParams())  # None when there is none yet
    seen = against_index(sigs, index, MinHashParams())   # corpusforge.stages.lsh
"""
from __future__ import annotations

import logging

from corpusforge.dedup.lsh import BAND_HASHES_COLUMN, INDEX_TABLE, SIGNATURE_COLUMN, check_index_fingerprints, params_json
from corpusforge.dedup.minhash import MinHashParams

log = logging.getLogger(__name__)


def load_minhash_index(spark, output: str, params: MinHashParams, *, exclude_run: str | None = None,
                       exclude_uris: tuple[str, ...] = ()):
    """The index of earlier runs, exploded to (doc_id, band, band_hash, signature), or None.

    Rows of `exclude_uris` (input files this run reads again as new versions) are left out.

    Refuses (ConfigError, before any work) an index built with other parameters. The check
    reads only the distinct `params` values (one per parameter set ever used: metadata, not data).
    """
    from pyspark.sql import functions as F

    from corpusforge.tables.delta import read_table, table_exists, table_path, without_files

    if not table_exists(spark, output, INDEX_TABLE):
        return None
    table = read_table(spark, output, INDEX_TABLE)
    if exclude_run is not None:
        table = table.where(F.col("run_id") != exclude_run)
    table = without_files(table, exclude_uris)
    stored = [row.params for row in table.select("params").distinct().collect()]
    check_index_fingerprints(stored, params, table_path(output, INDEX_TABLE))
    return table.select(
        "doc_id", F.posexplode("band_hashes").alias("band", "band_hash"), "signature"
    ).select("doc_id", F.col("band").cast("int").alias("band"), "band_hash", "signature")


def write_minhash_index(ctx, kept) -> None:
    """Output writer `minhash_index`: append the run's kept documents that went through LSH.

    `kept` is the run's final kept frame; the MinHash stage left `minhash_signature` and
    `minhash_band_hashes` on it. Without them (the stage is not configured) nothing is written.
    """
    from pyspark.sql import functions as F

    from corpusforge.tables.delta import write_run_rows

    if SIGNATURE_COLUMN not in kept.columns:
        log.info("output minhash_index: no MinHash stage in this run, nothing to index")
        return
    params = ctx.cfg.minhash.params()
    rows = kept.where(F.col(SIGNATURE_COLUMN).isNotNull()).select(
        "doc_id",
        "source_uri",
        F.col(BAND_HASHES_COLUMN).alias("band_hashes"),
        F.col(SIGNATURE_COLUMN).alias("signature"),
        F.lit(params_json(params)).alias("params"),
        F.lit(ctx.run_id).alias("run_id"),
    )
    # The index rows of superseded files (modified inputs) go in the same commit.
    write_run_rows(ctx.spark, rows, ctx.output, INDEX_TABLE, ctx.run_id, supersede=ctx.superseded)
