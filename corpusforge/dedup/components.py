"""Connected components, the pure part: the single-process union-find every clustering is checked against.

The Spark algorithm (large-star / small-star, Kiveris et al., 2014) is
`corpusforge.stages.components.connected_components`; it maps every node to the smallest node
of its component, as `union_find_roots` does here, and its tests compare the two. The
near-dedup reference (`corpusforge.dedup.lsh.near_duplicates_local`) clusters with it too.
"""
from __future__ import annotations

from collections.abc import Iterable

DEFAULT_MAX_ITERATIONS = 40  # large/small-star rounds before giving up (chains of 10^6 need ~20)


def union_find_roots(edges: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The single-process reference: every node of an edge → the smallest node of its component.

    >>> union_find_roots([("b", "a"), ("c", "b"), ("e", "d"), ("x", "x")])
    {'b': 'a', 'a': 'a', 'c': 'a', 'e': 'd', 'd': 'd'}
    """
    parent: dict[str, str] = {}

    def find(node: str) -> str:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]  # path halving
            node = parent[node]
        return node

    for left, right in edges:
        if left == right:
            continue
        root_left, root_right = find(left), find(right)
        if root_left != root_right:
            parent[max(root_left, root_right)] = min(root_left, root_right)
    return {node: find(node) for node in list(parent)}
