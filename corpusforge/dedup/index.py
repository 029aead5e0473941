"""The `minhash_index` Delta table: the cross-run memory of MinHash dedup.

One row per document a finished run kept: its band hashes, its signature (so cross-run
candidates are verified, not just bucketed) and `params`, the JSON fingerprint of the MinHash
parameters it was built with (`MinHashParams.fingerprint`, dedup key version included). One row
per document rather than per (document, band): the signature is stored once instead of once per
band (14× less), and `read_minhash_index` explodes the bands when a run compares against it.

Rows are written by run_id (`tables.delta.write_run_rows`), as the `minhash_index` output of
the pipeline (`pipeline.outputs`), after the documents; the lead's recovery deletes the rows of
a run that never finished, like those of every table under the output root.

Example::

    index = load_minhash_index(spark, output, MinHashParams())  # None when there is none yet
    seen = against_index(sigs, index, MinHashParams())
"""
from __future__ import annotations

import json
import logging

from corpusforge.dedup.lsh import check_index_params
from corpusforge.dedup.minhash import MinHashParams
from corpusforge.errors import ConfigError

log = logging.getLogger(__name__)

INDEX_TABLE = "minhash_index"
SIGNATURE_COLUMN = "minhash_signature"  # frame column the stage adds for the index writer
BAND_HASHES_COLUMN = "minhash_band_hashes"  # idem; both null for documents too short for LSH


def params_json(params: MinHashParams) -> str:
    """The `params` value of index rows: the fingerprint as canonical JSON.

    >>> json.loads(params_json(MinHashParams()))["bands"]
    14
    """
    return json.dumps(params.fingerprint(), sort_keys=True, separators=(",", ":"))


def check_index_fingerprints(stored: list[str], params: MinHashParams, where: str) -> None:
    """Raise ConfigError naming the differing parameters when any stored fingerprint differs.

    >>> check_index_fingerprints([params_json(MinHashParams())], MinHashParams(), "out/minhash_index")
    >>> check_index_fingerprints([params_json(MinHashParams(bands=7))], MinHashParams(), "x")
    Traceback (most recent call last):
    ...
    corpusforge.errors.ConfigError: x: minhash_index was built with other parameters: bands: index 7, run 14; rebuild the index or run with its parameters
    """
    for text in sorted(stored):
        try:
            fingerprint = json.loads(text)
        except json.JSONDecodeError:
            raise ConfigError(f"{where}: unreadable parameters {text[:80]!r}; rebuild the index") from None
        try:
            check_index_params(fingerprint, params)
        except ConfigError as err:
            raise ConfigError(f"{where}: {err}") from None


def load_minhash_index(spark, output: str, params: MinHashParams, *, exclude_run: str | None = None):
    """The index of earlier runs, exploded to (doc_id, band, band_hash, signature), or None.

    Refuses (ConfigError, before any work) an index built with other parameters. The check
    reads only the distinct `params` values (one per parameter set ever used: metadata, not data).
    """
    from pyspark.sql import functions as F

    from corpusforge.tables.delta import read_table, table_exists, table_path

    if not table_exists(spark, output, INDEX_TABLE):
        return None
    table = read_table(spark, output, INDEX_TABLE)
    if exclude_run is not None:
        table = table.where(F.col("run_id") != exclude_run)
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
        F.col(BAND_HASHES_COLUMN).alias("band_hashes"),
        F.col(SIGNATURE_COLUMN).alias("signature"),
        F.lit(params_json(params)).alias("params"),
        F.lit(ctx.run_id).alias("run_id"),
    )
    write_run_rows(ctx.spark, rows, ctx.output, INDEX_TABLE, ctx.run_id)
