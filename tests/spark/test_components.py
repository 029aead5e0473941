"""Connected components by large-star/small-star, against union-find on the same edges."""
from __future__ import annotations

import random

import pytest

from corpusforge.dedup.components import union_find_roots
from corpusforge.stages.components import ComponentsDidNotConverge, connected_components
from corpusforge.errors import SchemaError

pytestmark = pytest.mark.spark


def _graph() -> list[tuple[str, str]]:
    rng = random.Random(11)
    edges: list[tuple[str, str]] = []
    chain = [f"c{index:03d}" for index in range(60)]
    rng.shuffle(chain)  # a long path whose order is unrelated to the node order
    edges += list(zip(chain, chain[1:]))
    edges += [("s000", f"s{index:03d}") for index in range(1, 40)]  # a star around its minimum
    edges += [(f"t{index:03d}", "t000") for index in range(1, 10)]  # a star the other way round
    for component in range(8):  # small random components, with cycles and repeated edges
        members = [f"r{component}_{index}" for index in range(rng.randint(2, 12))]
        for _ in range(len(members) * 2):
            edges.append(tuple(rng.sample(members, 2)))  # type: ignore[arg-type]
    edges.append(("solo", "solo"))  # a self-loop alone is no component
    return edges


def test_components_match_union_find(spark) -> None:
    edges = _graph()
    frame = spark.createDataFrame(edges, "src string, dst string").repartition(3)
    got = {row["node"]: row["component"] for row in connected_components(frame).collect()}
    assert got == union_find_roots(edges)
    assert got["c059"] == "c000" and got["s039"] == "s000" and "solo" not in got


def test_bound_is_reported_by_name(spark) -> None:
    chain = [(f"n{index:03d}", f"n{index + 1:03d}") for index in range(64)]
    frame = spark.createDataFrame(chain, "src string, dst string")
    with pytest.raises(ComponentsDidNotConverge, match="max_iterations=1"):
        connected_components(frame, max_iterations=1)


def test_missing_column_is_named(spark) -> None:
    frame = spark.createDataFrame([("a", "b")], "a string, b string")
    with pytest.raises(SchemaError, match="'src'"):
        connected_components(frame)


def test_star_given_the_wrong_way_round_is_rooted_at_its_minimum(spark) -> None:
    # already a star forest, but with edges pointing at the larger node: the pre-check must not
    # take the larger node for the root
    edges = [("a", "m"), ("b", "m"), ("c", "m"), ("x", "y")]
    frame = spark.createDataFrame(edges, "src string, dst string")
    got = {row["node"]: row["component"] for row in connected_components(frame).collect()}
    assert got == {"a": "a", "b": "a", "c": "a", "m": "a", "x": "x", "y": "x"}
