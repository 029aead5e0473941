"""Exact dedup, the pure part: the `text_hash` of a document and the split preference.

Within a run, a group of documents with the same `text_hash` keeps one: the copy in the
preferred split (`split_rank`: test, then validation, then train, then none), then the smallest
`doc_id` (DESIGN.md, "Determinism"). MinHash dedup uses the same `split_rank`, so dedup never
shrinks an evaluation set. The Spark stage is `corpusforge.stages.exact_dedup`.
"""
from __future__ import annotations

from corpusforge.text.dedup_key import dedup_key, text_hash

# Lower is preferred: dedup never shrinks an evaluation set.
SPLIT_RANK = {"test": 0, "validation": 1, "train": 2}
NO_SPLIT_RANK = len(SPLIT_RANK)  # a document with no split, or another one, loses to every ranked copy


def split_rank(split: str | None) -> int:
    """The preference of a copy in `split` when duplicates are resolved (lower is kept).

    >>> [split_rank(s) for s in ("test", "validation", "train", None, "dev")]
    [0, 1, 2, 3, 3]
    """
    return SPLIT_RANK.get(split, NO_SPLIT_RANK) if split is not None else NO_SPLIT_RANK


def text_hashes(texts: list[str | None]) -> list[str | None]:
    """The `text_hash` of each text (None stays None).

    >>> a, b = text_hashes(["Hello, World!", "hello world"])
    >>> a == b
    True
    """
    return [None if t is None else text_hash(dedup_key(t)) for t in texts]
