"""MinHash LSH near-duplicate detection in Spark.

    signatures (mapInArrow over Arrow batches, corpusforge.dedup.minhash)
      → (band, band_hash, node) rows; documents without a full shingle skip LSH
      → per bucket: star edges node → the bucket's minimum node (n − 1 edges, never n²)
      → optional verification of each edge (estimated or exact Jaccard ≥ threshold)
      → connected components (large-star / small-star, corpusforge.stages.components)
      → one row (doc_id, duplicate_of) per document that is not its cluster's representative.

A node is `corpusforge.dedup.lsh.node_key(doc_id, preference)`, so plain string order is
"lower preference first, then smaller doc_id", and the minimum of a cluster is its
representative (DESIGN.md, "Determinism"). Nothing depends on partitioning or on the order rows
arrive in.

Cross-run: `against_index` finds documents of a new run whose bands hit the `minhash_index`
rows of earlier runs and whose signatures agree, i.e. documents seen in an earlier run.

The LSH math, the node order and the single-process reference (`near_duplicates_local`, which
the Spark path is tested against) are pure, in `corpusforge.dedup.lsh`.
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
from pyspark import StorageLevel
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from corpusforge.dedup import minhash
from corpusforge.dedup.components import DEFAULT_MAX_ITERATIONS
from corpusforge.dedup.lsh import (
    DEFAULT_PREFERENCE_COL,
    NODE_PREFERENCE_DIGITS,
    NULL_PREFERENCE,
    PREFERENCE_OFFSET,
    Verify,
    lsh_threshold,
)
from corpusforge.dedup.minhash import MinHashParams
from corpusforge.errors import ConfigError, SchemaError
from corpusforge.progress import Phase
from corpusforge.stages.base import broadcast_if_small
from corpusforge.stages.components import connected_components


SIGNATURE_SCHEMA = T.StructType(
    [
        T.StructField("doc_id", T.StringType(), False),
        T.StructField("node", T.StringType(), False),
        T.StructField("n_shingles", T.IntegerType(), False),
        T.StructField("signature", T.ArrayType(T.LongType(), False), False),
        T.StructField("band_hashes", T.ArrayType(T.LongType(), False), False),
    ]
)



def node_column(doc_id: F.Column, preference: F.Column) -> F.Column:
    rank = F.coalesce(preference.cast("long"), F.lit(NULL_PREFERENCE).cast("long")) + F.lit(PREFERENCE_OFFSET)
    return F.concat(F.lpad(rank.cast("string"), NODE_PREFERENCE_DIGITS, "0"), doc_id)


def _doc_of(node: F.Column) -> F.Column:
    return F.substring(node, NODE_PREFERENCE_DIGITS + 1, 1 << 20)


def check_input(df: DataFrame, preference_col: str | None) -> None:
    """Fail before any work when `df` lacks doc_id/dedup_key strings or has a wrong lang/preference type.

    Example::

        >>> check_input(spark.createDataFrame([("a", "b")], "doc_id string, dedup_key string"), None)  # doctest: +SKIP
    """
    fields = {field.name: field.dataType for field in df.schema.fields}
    for name in ("doc_id", "dedup_key"):
        if name not in fields:
            raise SchemaError(f"near-duplicate dedup: column {name!r} missing; the input has {sorted(fields)}")
        if not isinstance(fields[name], T.StringType):
            raise SchemaError(f"near-duplicate dedup: column {name!r} must be a string, got {fields[name].simpleString()}")
    if "lang" in fields and not isinstance(fields["lang"], T.StringType):
        raise SchemaError(f"near-duplicate dedup: column 'lang' must be a string, got {fields['lang'].simpleString()}")
    if preference_col is not None and preference_col in fields:
        if not isinstance(fields[preference_col], (T.IntegerType, T.ShortType, T.ByteType, T.LongType)):
            raise SchemaError(
                f"near-duplicate dedup: preference column {preference_col!r} must be an integer, "
                f"got {fields[preference_col].simpleString()}"
            )


def _list_array(matrix: np.ndarray) -> pa.ListArray:
    n_rows, width = matrix.shape
    offsets = pa.array(np.arange(0, n_rows * width + 1, width, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, pa.array(np.ascontiguousarray(matrix).reshape(-1).view(np.int64)))


_SIGNATURE_ARROW_SCHEMA = pa.schema(
    [
        pa.field("doc_id", pa.string(), False),
        pa.field("node", pa.string(), False),
        pa.field("n_shingles", pa.int32(), False),
        pa.field("signature", pa.list_(pa.field("element", pa.int64(), False)), False),
        pa.field("band_hashes", pa.list_(pa.field("element", pa.int64(), False)), False),
    ]
)


def signature_batch(doc_id: pa.Array, node: pa.Array, dedup_key: pa.Array, lang: pa.Array,
                    params: MinHashParams) -> pa.RecordBatch:
    """One Arrow batch of `SIGNATURE_SCHEMA` rows: the signatures and band hashes of the keys.

    >>> b = signature_batch(pa.array(["d"]), pa.array(["n"]), pa.array(["a b c d e f"]), pa.nulls(1, pa.string()),
    ...                     MinHashParams())
    >>> b.column("n_shingles").to_pylist(), len(b.column("signature")[0]), len(b.column("band_hashes")[0])
    ([2], 112, 14)
    """
    hashes, counts = minhash.batch_shingle_hashes(dedup_key, lang, ngram=params.ngram, cjk_mode=params.cjk_shingles)
    signature_matrix = minhash.signatures_from_hashes(hashes, counts, params)
    bands = minhash.band_hashes(signature_matrix, params.bands, params.rows)
    # signature values are < 2^61, so their int64 view is the same number (Arrow in mapInArrow
    # must be signed)
    return pa.RecordBatch.from_arrays(
        [doc_id, node, pa.array(counts.astype(np.int32)), _list_array(signature_matrix), _list_array(bands)],
        schema=_SIGNATURE_ARROW_SCHEMA,
    )


def _signature_batches(params: MinHashParams):
    def compute(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            yield signature_batch(batch.column("doc_id"), batch.column("node"), batch.column("dedup_key"),
                                  batch.column("lang"), params)

    return compute


def minhash_signatures(
    df: DataFrame, params: MinHashParams | None = None, *, preference_col: str | None = DEFAULT_PREFERENCE_COL
) -> DataFrame:
    """Signatures and band hashes of every document, computed per Arrow batch.

    Returns (doc_id, node, n_shingles, signature array<bigint>, band_hashes array<bigint>);
    `n_shingles == 0` marks a document too short for one full n-gram (it skips LSH).
    A missing preference column counts as no preference.

    Example::

        >>> sigs = minhash_signatures(docs, MinHashParams())  # doctest: +SKIP
        >>> sigs.select("doc_id", "n_shingles").show()  # doctest: +SKIP
    """
    params = params or MinHashParams()
    check_input(df, preference_col)
    preference = F.col(preference_col) if preference_col is not None and preference_col in df.columns else F.lit(None)
    lang = F.col("lang") if "lang" in df.columns else F.lit(None).cast("string")
    prepared = df.select(
        F.col("doc_id"),
        node_column(F.col("doc_id"), preference).alias("node"),
        F.col("dedup_key"),
        lang.alias("lang"),
    )
    return prepared.mapInArrow(_signature_batches(params), SIGNATURE_SCHEMA)


def _buckets(sigs: DataFrame) -> DataFrame:
    return sigs.filter(F.col("n_shingles") > 0).select(
        "node", F.posexplode("band_hashes").alias("band", "band_hash")
    )


# Shared buckets joined back by broadcast up to this many (12 bytes of key each), and the nodes
# of the candidate edges up to this many (a 42-character string each); beyond, the planner
# picks the join.
BROADCAST_BUCKETS_MAX = 2_000_000
BROADCAST_NODES_MAX = 1_000_000


def star_edges(sigs: DataFrame) -> DataFrame:
    """Candidate edges (src, dst): every bucket member to its bucket's minimum node.

    A bucket of n documents gives n − 1 edges, so a boilerplate page copied thousands of times
    costs thousands of edges, not millions. Most buckets hold one document: a count over the
    bucket keys alone (fixed-width, hashed, not sorted) finds the shared ones first, so only
    their members' node strings are shuffled and sorted. Example::

        >>> star_edges(minhash_signatures(docs)).show()  # doctest: +SKIP
    """
    buckets = _buckets(sigs)
    shared = (buckets.groupBy("band", "band_hash").count().where("count > 1").drop("count")
              .localCheckpoint(eager=True))
    bucket = Window.partitionBy("band", "band_hash")
    return (
        buckets.join(broadcast_if_small(shared, BROADCAST_BUCKETS_MAX), ["band", "band_hash"], "left_semi")
        .withColumn("dst", F.min("node").over(bucket))
        .filter(F.col("node") != F.col("dst"))
        .select(F.col("node").alias("src"), "dst")
        .distinct()
    )


def _estimated_jaccard(left: F.Column, right: F.Column, num_perm: int) -> F.Column:
    equal = F.zip_with(left, right, lambda a, b: F.when(a == b, 1).otherwise(0))
    return F.aggregate(equal, F.lit(0), lambda total, value: total + value) / F.lit(float(num_perm))


def _exact_jaccard_batches(params: MinHashParams):
    def compute(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            columns = {name: batch.column(name).to_pylist() for name in batch.schema.names}
            similarity = np.zeros(batch.num_rows, dtype=np.float64)
            sides = []
            for side in ("src", "dst"):
                hashes, counts = minhash.batch_shingle_hashes(
                    [key or "" for key in columns[f"{side}_key"]],
                    columns[f"{side}_lang"],
                    ngram=params.ngram,
                    cjk_mode=params.cjk_shingles,
                )
                sides.append((hashes, np.concatenate(([0], np.cumsum(counts)))))
            (src_hashes, src_offsets), (dst_hashes, dst_offsets) = sides
            for row in range(batch.num_rows):
                left = np.unique(src_hashes[src_offsets[row] : src_offsets[row + 1]])
                right = np.unique(dst_hashes[dst_offsets[row] : dst_offsets[row + 1]])
                union = len(np.union1d(left, right))
                if union:
                    similarity[row] = len(np.intersect1d(left, right, assume_unique=True)) / union
            yield pa.RecordBatch.from_arrays(
                [batch.column("src"), batch.column("dst"), pa.array(similarity)],
                names=["src", "dst", "similarity"],
            )

    return compute


def _signatures_of_edge_nodes(edges: DataFrame, sigs: DataFrame) -> DataFrame:
    """(node, signature) of the nodes that have a candidate edge, stored once: the two joins of
    the verification then shuffle these few signatures, not every document's. The nodes are
    broadcast when they are few enough, so every document's signature is read but not shuffled."""
    nodes = (edges.select(F.col("src").alias("node")).unionByName(edges.select(F.col("dst").alias("node")))
             .distinct().localCheckpoint(eager=True))
    return (sigs.select("node", "signature").join(broadcast_if_small(nodes, BROADCAST_NODES_MAX), "node", "left_semi")
            .localCheckpoint(eager=True))


def verify_edges(
    edges: DataFrame,
    sigs: DataFrame,
    params: MinHashParams,
    *,
    verify: Verify,
    threshold: float,
    documents: DataFrame | None = None,
) -> DataFrame:
    """Keep the candidate edges whose Jaccard (estimated from signatures, or exact on the
    shingles of the dedup keys in `documents`) is at least `threshold`. `edges` is read for its
    nodes and again in the joins: pass it materialized.

    Example::

        >>> verify_edges(edges, sigs, MinHashParams(), verify="signature", threshold=0.7)  # doctest: +SKIP
    """
    if verify == "none":
        return edges
    if verify == "signature":
        signature_of = _signatures_of_edge_nodes(edges, sigs)
        joined = edges.join(
            signature_of.withColumnRenamed("node", "src").withColumnRenamed("signature", "src_signature"), "src"
        ).join(signature_of.withColumnRenamed("node", "dst").withColumnRenamed("signature", "dst_signature"), "dst")
        return joined.filter(
            _estimated_jaccard(F.col("src_signature"), F.col("dst_signature"), params.num_perm) >= F.lit(threshold)
        ).select("src", "dst")
    if verify == "exact":
        if documents is None:
            raise ConfigError("verify='exact' needs the documents (dedup_key, lang) to shingle")
        lang = F.col("lang") if "lang" in documents.columns else F.lit(None).cast("string")
        keys = documents.select(F.col("doc_id"), F.col("dedup_key"), lang.alias("lang"))
        node_doc = sigs.select("node", "doc_id")
        src_keys = node_doc.join(keys, "doc_id").select(
            F.col("node").alias("src"), F.col("dedup_key").alias("src_key"), F.col("lang").alias("src_lang")
        )
        dst_keys = node_doc.join(keys, "doc_id").select(
            F.col("node").alias("dst"), F.col("dedup_key").alias("dst_key"), F.col("lang").alias("dst_lang")
        )
        joined = edges.join(src_keys, "src").join(dst_keys, "dst").select(
            "src", "dst", "src_key", "src_lang", "dst_key", "dst_lang"
        )
        scored = joined.mapInArrow(
            _exact_jaccard_batches(params), "src string, dst string, similarity double"
        )
        return scored.filter(F.col("similarity") >= F.lit(threshold)).select("src", "dst")
    raise ConfigError(f"near_duplicates: verify must be 'none', 'signature' or 'exact', got {verify!r}")


def near_duplicates(
    df: DataFrame,
    params: MinHashParams | None = None,
    *,
    verify: Verify = "none",
    threshold: float | None = None,
    preference_col: str | None = DEFAULT_PREFERENCE_COL,
    max_iterations: int = DEFAULT_MAX_ITERATIONS,
) -> DataFrame:
    """Near-duplicates within `df`: one row (doc_id, duplicate_of) per document to drop.

    `df` has doc_id (string), dedup_key (string), lang (string, nullable, optional) and
    optionally an integer `preference_col` (lower is kept first). `duplicate_of` is the cluster's
    representative: its minimum (preference, doc_id). `threshold` (for verification) defaults
    to the S-curve's threshold of (bands, rows).

    Example::

        >>> dupes = near_duplicates(docs, MinHashParams(), verify="signature")  # doctest: +SKIP
        >>> kept = docs.join(dupes, "doc_id", "left_anti")  # doctest: +SKIP
    """
    params = params or MinHashParams()
    if verify not in ("none", "signature", "exact"):
        raise ConfigError(f"near_duplicates: verify must be 'none', 'signature' or 'exact', got {verify!r}")
    sigs = minhash_signatures(df, params, preference_col=preference_col)
    if verify != "none":
        # persist: the signatures feed the banding and the verification joins; computing them
        # (hashing every shingle) is the expensive step and must run once. Filled eagerly:
        # adaptive execution starts the banding and both join sides as concurrent jobs, and
        # before the cache is filled each of them would hash every document again (3× the work)
        sigs = sigs.persist(StorageLevel.MEMORY_AND_DISK)
        sigs.count()
    try:
        return near_duplicates_from_signatures(
            sigs, params, verify=verify, threshold=threshold, max_iterations=max_iterations, documents=df
        )
    finally:
        if verify != "none":
            sigs.unpersist()


def near_duplicates_from_signatures(
    sigs: DataFrame,
    params: MinHashParams,
    *,
    verify: Verify = "none",
    threshold: float | None = None,
    max_iterations: int = DEFAULT_MAX_ITERATIONS,
    documents: DataFrame | None = None,
) -> DataFrame:
    """`near_duplicates` on signatures already computed (`minhash_signatures`), so a caller
    that needs them again (the dedup stage: index check, index rows) hashes once.

    The components are computed eagerly (checkpointed rounds); the result is a small frame
    (doc_id, duplicate_of). `documents` (doc_id, dedup_key, lang) is needed by verify='exact'.

    Example::

        >>> dupes = near_duplicates_from_signatures(sigs, MinHashParams(), verify="signature")  # doctest: +SKIP
    """
    threshold = lsh_threshold(params) if threshold is None else threshold
    with Phase("candidates"):  # the bucket shuffle: every document once per band
        edges = star_edges(sigs).localCheckpoint(eager=True)
    with Phase("verify"):
        edges = verify_edges(edges, sigs, params, verify=verify, threshold=threshold,
                             documents=documents).localCheckpoint(eager=True)
    with Phase("rounds"):
        components = connected_components(edges, max_iterations=max_iterations)
    return components.filter(F.col("node") != F.col("component")).select(
        _doc_of(F.col("node")).alias("doc_id"), _doc_of(F.col("component")).alias("duplicate_of")
    )


def against_index(
    sigs: DataFrame,
    index_df: DataFrame,
    params: MinHashParams | None = None,
    *,
    threshold: float | None = None,
) -> DataFrame:
    """Documents of this run seen in an earlier run: (doc_id, duplicate_of) where duplicate_of
    is the smallest indexed doc_id that shares a bucket and whose signature agrees
    (estimated Jaccard ≥ threshold). A document matching only its own indexed id (the same
    input read again) is not reported.

    Example::

        >>> seen = against_index(minhash_signatures(docs), spark.read.format("delta").load(index_path))  # doctest: +SKIP
    """
    params = params or MinHashParams()
    threshold = lsh_threshold(params) if threshold is None else threshold
    for name in ("doc_id", "band", "band_hash", "signature"):
        if name not in index_df.columns:
            raise SchemaError(f"against_index: index column {name!r} missing; the index has {index_df.columns}")
    new_bands = sigs.filter(F.col("n_shingles") > 0).select(
        "doc_id", "signature", F.posexplode("band_hashes").alias("band", "band_hash")
    )
    earlier = index_df.select(
        F.col("band").cast("int").alias("band"),
        F.col("band_hash"),
        F.col("doc_id").alias("earlier_id"),
        F.col("signature").alias("earlier_signature"),
    )
    candidates = (
        new_bands.join(earlier, ["band", "band_hash"])
        .filter(F.col("doc_id") != F.col("earlier_id"))
        .select("doc_id", "signature", "earlier_id", "earlier_signature")
        .dropDuplicates(["doc_id", "earlier_id"])
    )
    verified = candidates.filter(
        _estimated_jaccard(F.col("signature"), F.col("earlier_signature"), params.num_perm) >= F.lit(threshold)
    )
    return verified.groupBy("doc_id").agg(F.min("earlier_id").alias("duplicate_of"))


