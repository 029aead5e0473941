"""Deterministic train/validation/test assignment by a seeded hash of `doc_id`.

The input's own split (e.g. the CSV files' train/test) always wins; only rows without one are
assigned. The hash is BLAKE2b keyed by the seed, never Python's `hash()` (salted per process),
so every executor, every run and the trainer agree on a document's split.
"""
from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpusforge.errors import ConfigError

DEFAULT_FRACTIONS: Mapping[str, float] = {"train": 0.98, "validation": 0.01, "test": 0.01}
_UNIT_SCALE = float(2**64)  # maps a 64-bit hash onto [0, 1)


def _check_fractions(fractions: Mapping[str, float]) -> None:
    if not fractions:
        raise ConfigError("split fractions are empty; give e.g. {'train': 0.98, 'validation': 0.01, 'test': 0.01}")
    negative = {name: value for name, value in fractions.items() if not value >= 0}
    if negative:
        raise ConfigError(f"split fractions must be >= 0, got {negative}")
    total = math.fsum(fractions.values())
    if abs(total - 1.0) > 1e-9:
        raise ConfigError(f"split fractions must sum to 1, got {total} from {dict(fractions)}")


def _unit_interval(doc_id: str, seed: int) -> float:
    key = seed.to_bytes(8, "little", signed=True)  # BLAKE2b's key: a new seed reshuffles all splits
    digest = hashlib.blake2b(doc_id.encode("utf-8"), digest_size=8, key=key).digest()
    return int.from_bytes(digest, "little") / _UNIT_SCALE


def _bounds(fractions: Mapping[str, float]) -> np.ndarray:
    # Upper bound of each split's interval, in the order the fractions are given; the last is
    # forced to 1 so rounding in the sum can leave no hash value unassigned.
    bounds = np.cumsum(np.array(list(fractions.values()), dtype=np.float64))
    bounds[-1] = 1.0
    return bounds


def assign_split(doc_id: str, fractions: Mapping[str, float] = DEFAULT_FRACTIONS, seed: int = 0) -> str:
    """The split of one document: the interval of `fractions` (in their order) its hash falls in.

    >>> assign_split("00ab", {"train": 1.0})
    'train'
    >>> assign_split("00ab", seed=3) == assign_split("00ab", seed=3)
    True
    """
    _check_fractions(fractions)
    index = int(np.searchsorted(_bounds(fractions), _unit_interval(doc_id, seed), side="right"))
    return list(fractions)[min(index, len(fractions) - 1)]


def assign_splits(
    doc_ids: pa.Array | pa.ChunkedArray | Sequence[str],
    fractions: Mapping[str, float] = DEFAULT_FRACTIONS,
    seed: int = 0,
    existing: pa.Array | pa.ChunkedArray | None = None,
) -> pa.Array:
    """Splits of many documents as an Arrow string array; non-null, non-empty `existing` values win.

    Hashing is one BLAKE2b call per id (hashlib has no batch form); the interval lookup and the
    merge with `existing` are vectorised.

    >>> assign_splits(["a", "b"], {"train": 1.0}, existing=pa.array(["test", None])).to_pylist()
    ['test', 'train']
    """
    _check_fractions(fractions)
    ids = doc_ids.to_pylist() if isinstance(doc_ids, (pa.Array, pa.ChunkedArray)) else list(doc_ids)
    if any(doc_id is None for doc_id in ids):
        raise ConfigError("assign_splits: a doc_id is null; every document needs an id before splitting")
    units = np.fromiter((_unit_interval(doc_id, seed) for doc_id in ids), dtype=np.float64, count=len(ids))
    index = np.minimum(np.searchsorted(_bounds(fractions), units, side="right"), len(fractions) - 1)
    names = pa.array(list(fractions), pa.string())
    assigned = names.take(pa.array(index, pa.int64()))
    if existing is None:
        return assigned
    if len(existing) != len(ids):
        raise ConfigError(f"assign_splits: {len(existing)} existing splits for {len(ids)} doc_ids")
    if isinstance(existing, pa.ChunkedArray):
        existing = existing.combine_chunks()
    has_own = pc.fill_null(pc.greater(pc.utf8_length(existing), 0), False)
    return pc.if_else(has_own, existing, assigned)
