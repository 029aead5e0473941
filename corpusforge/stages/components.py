"""Connected components in Spark by alternating large-star / small-star (Kiveris et al., 2014).

Every node ends up linked to the smallest node of its component, so the clustering step scales
with the edges and never gathers a graph on the driver. Nodes are any orderable Spark type (the
dedup stage uses strings that sort by (preference, doc_id)).

One round is a large-star then a small-star step; both keep the connectivity of the graph and
shrink the distance of every node to its component's minimum. The graph has converged when it
is a forest of stars: every edge is (child, root), each child has one root and no root is a
child. The number of rounds grows as O(log² n) in theory and is a handful in practice; a hard
bound makes a pathological input fail with a message instead of running forever.

The single-process reference it is tested against is `corpusforge.dedup.components.union_find_roots`.
"""
from __future__ import annotations

import logging
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from corpusforge.dedup.components import DEFAULT_MAX_ITERATIONS
from corpusforge.errors import CorpusforgeError, SchemaError

log = logging.getLogger(__name__)


class ComponentsDidNotConverge(CorpusforgeError):
    """Large-star/small-star did not reach a star forest within the iteration bound."""


def _checkpoint(frame: DataFrame) -> DataFrame:
    # localCheckpoint: the star-forest check and the next round both read a round's edges;
    # materializing cuts the lineage, which would otherwise grow every round
    return frame.localCheckpoint(eager=True)


def _large_star(edges: DataFrame) -> DataFrame:
    """Link every neighbour larger than a node to the smallest of the node's neighbourhood.

    The minimum comes from a window over the node's edges: one shuffle, and no join back (a
    node with a million neighbours is one window partition, spilled, not one huge row)."""
    neighbours = edges.select(F.col("x").alias("u"), F.col("y").alias("v")).unionByName(
        edges.select(F.col("y").alias("u"), F.col("x").alias("v"))
    )
    smallest = F.least(F.col("u"), F.min("v").over(Window.partitionBy("u")))
    # no distinct here: the small-star's window is indifferent to repeated edges, its output is deduplicated
    return neighbours.select("u", "v", smallest.alias("m")).filter(F.col("v") > F.col("u")).select(
        F.col("v").alias("x"), F.col("m").alias("y")
    )


def _small_star(edges: DataFrame) -> DataFrame:
    """Link every node and its smaller neighbours to the smallest of them."""
    oriented = edges.select(
        F.greatest(F.col("x"), F.col("y")).alias("u"), F.least(F.col("x"), F.col("y")).alias("v")
    ).filter(F.col("u") != F.col("v"))
    smallest = F.min("v").over(Window.partitionBy("u"))
    linked = oriented.select("u", "v", smallest.alias("m"))
    pairs = F.array(
        F.struct(F.col("v").alias("x"), F.col("m").alias("y")), F.struct(F.col("u").alias("x"), F.col("m").alias("y"))
    )
    return linked.select(F.explode(pairs).alias("edge")).select("edge.x", "edge.y").filter(
        F.col("x") != F.col("y")
    ).distinct()


def _not_star_count(edges: DataFrame) -> int:
    """On edges oriented x > y: children with more than one root, plus roots that are also
    children. 0 means a star forest, each star's root being its component's minimum.

    One shuffle: every edge counts once for its child x and marks its root y; a node is bad
    when it has two roots, or a root while also being a root of another edge."""
    marks = edges.select(F.col("x").alias("n"), F.lit(1).alias("child")).unionByName(
        edges.select(F.col("y").alias("n"), F.lit(0).alias("child"))
    )
    per_node = marks.groupBy("n").agg(
        F.sum("child").alias("roots"), F.min("child").alias("is_root_flag")
    )
    bad = (F.col("roots") > 1) | ((F.col("roots") >= 1) & (F.col("is_root_flag") == 0))
    row = per_node.agg(F.sum(bad.cast("long")).alias("bad")).first()
    return int(row["bad"] or 0) if row is not None else 0


def connected_components(
    edges: DataFrame,
    *,
    src: str = "src",
    dst: str = "dst",
    max_iterations: int = DEFAULT_MAX_ITERATIONS,
) -> DataFrame:
    """Map every node of an undirected edge list to its component's smallest node.

    Returns a DataFrame (node, component) with one row per node that has an edge to another
    node, the component's minimum included (node == component). Self-loops are ignored.
    Raises ComponentsDidNotConverge naming `max_iterations` when the bound is hit.

    Example::

        >>> edges = spark.createDataFrame([("b", "a"), ("c", "b"), ("e", "d")], "src string, dst string")  # doctest: +SKIP
        >>> sorted(map(tuple, connected_components(edges).collect()))  # doctest: +SKIP
        [('a', 'a'), ('b', 'a'), ('c', 'a'), ('d', 'd'), ('e', 'd')]
    """
    for name in (src, dst):
        if name not in edges.columns:
            raise SchemaError(f"connected_components: column {name!r} missing; edges have {edges.columns}")
    if max_iterations < 1:
        raise CorpusforgeError(f"connected_components: max_iterations must be ≥ 1, got {max_iterations}")
    current = _checkpoint(
        # oriented child → root (x > y), the form the star-forest check reads
        edges.select(F.greatest(F.col(src), F.col(dst)).alias("x"), F.least(F.col(src), F.col(dst)).alias("y"))
        .filter(F.col("x").isNotNull() & F.col("y").isNotNull() & (F.col("x") != F.col("y")))
        .distinct()
    )
    # star edges of LSH buckets are often a star forest already: check before the first round
    remaining = _not_star_count(current)
    for iteration in range(1, max_iterations + 1):
        if remaining == 0:
            return current.select(F.col("x").alias("node"), F.col("y").alias("component")).unionByName(
                current.select(F.col("y").alias("node"), F.col("y").alias("component")).distinct()
            )
        # one checkpoint per round (three shuffles: two windows and a distinct), so the
        # lineage stays one round deep
        current = _checkpoint(_small_star(_large_star(current)))
        remaining = _not_star_count(current)
        log.info("connected_components: round %d, %d nodes not yet linked to their root", iteration, remaining)
    if remaining == 0:
        return current.select(F.col("x").alias("node"), F.col("y").alias("component")).unionByName(
            current.select(F.col("y").alias("node"), F.col("y").alias("component")).distinct()
        )
    raise ComponentsDidNotConverge(
        f"connected_components: no star forest after max_iterations={max_iterations} rounds of "
        f"large-star/small-star; raise max_iterations (the graph may have very long chains)"
    )

