"""LSH math, the node order of near-dedup, the index fingerprint check and the single-process
reference of MinHash near-dedup — all pure (the Spark path is `corpusforge.stages.lsh`).

A node is the string `NODE_PREFERENCE_DIGITS zero-padded (preference + 2^31)` + `doc_id`, so
plain string order is "lower preference first, then smaller doc_id", and the minimum of a
cluster is its representative (DESIGN.md, "Determinism": a test copy beats a train copy, then
the smallest doc_id; the preference of a split is `corpusforge.dedup.exact.split_rank`).

`near_duplicates_local` runs the same buckets, star edges and verification as the Spark path on
one machine, then clusters with `corpusforge.dedup.components.union_find_roots`; the Spark path
is tested against it.
"""
from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Literal

import numpy as np

from corpusforge.dedup import minhash
from corpusforge.dedup.components import union_find_roots
from corpusforge.dedup.minhash import MinHashParams
from corpusforge.errors import ConfigError

Verify = Literal["none", "signature", "exact"]
NULL_PREFERENCE = (1 << 31) - 1  # a document without a preference value loses to every ranked copy
PREFERENCE_OFFSET = 1 << 31  # shifts an int32 preference to a non-negative number for padding
NODE_PREFERENCE_DIGITS = 10  # digits of (preference + 2^31) ≤ 4294967295
DEFAULT_PREFERENCE_COL = "split_rank"  # lower = preferred (test < validation < train)

INDEX_TABLE = "minhash_index"
SIGNATURE_COLUMN = "minhash_signature"  # frame column the MinHash stage adds for the index writer
BAND_HASHES_COLUMN = "minhash_band_hashes"  # idem; both null for documents too short for LSH


def lsh_threshold(params: MinHashParams) -> float:
    """The similarity where the S-curve of (bands, rows) is steepest, ≈ (1/bands)^(1/rows).

    >>> round(lsh_threshold(MinHashParams()), 3)
    0.719
    """
    return (1.0 / params.bands) ** (1.0 / params.rows)


def node_key(doc_id: str, preference: int | None) -> str:
    """The sortable node string of a document: padded (preference + 2^31), then doc_id.

    >>> node_key("ab", 0) < node_key("aa", 1), node_key("aa", 0) < node_key("ab", 0)
    (True, True)
    """
    rank = NULL_PREFERENCE if preference is None else int(preference)
    return f"{rank + PREFERENCE_OFFSET:0{NODE_PREFERENCE_DIGITS}d}{doc_id}"


def check_index_params(index_fingerprint: Mapping[str, object], params: MinHashParams) -> None:
    """Refuse an index built with other parameters (or another dedup-key version), naming them.

    >>> check_index_params(MinHashParams().fingerprint(), MinHashParams())
    >>> check_index_params(MinHashParams(seed=1).fingerprint(), MinHashParams())
    Traceback (most recent call last):
    ...
    corpusforge.errors.ConfigError: minhash_index was built with other parameters: seed: index 1, run 42; rebuild the index or run with its parameters
    """
    expected = params.fingerprint()
    differences = [
        f"{key}: index {index_fingerprint.get(key)!r}, run {expected.get(key)!r}"
        for key in sorted(set(expected) | set(index_fingerprint))
        if index_fingerprint.get(key) != expected.get(key)
    ]
    if differences:
        raise ConfigError(
            "minhash_index was built with other parameters: "
            + "; ".join(differences)
            + "; rebuild the index or run with its parameters"
        )


def params_json(params: MinHashParams) -> str:
    """The `params` value of `minhash_index` rows: the fingerprint as canonical JSON.

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


def near_duplicates_local(
    records: Iterable[tuple[str, str, str | None, int | None]],
    params: MinHashParams | None = None,
    *,
    verify: Verify = "none",
    threshold: float | None = None,
) -> dict[str, str]:
    """The same algorithm on one machine: {doc_id: duplicate_of} for (doc_id, dedup_key, lang,
    preference) records, by union-find over the same buckets and star edges.

    >>> near_duplicates_local([("b", "a b c d e f", None, 0), ("a", "a b c d e f", None, 0), ("c", "x y z w v u", None, 0)])
    {'b': 'a'}
    """
    params = params or MinHashParams()
    threshold = lsh_threshold(params) if threshold is None else threshold
    rows = list(records)
    nodes = [node_key(doc_id, preference) for doc_id, _, _, preference in rows]
    keys = [key or "" for _, key, _, _ in rows]
    langs = [lang for _, _, lang, _ in rows]
    hashes, counts = minhash.batch_shingle_hashes(keys, langs, ngram=params.ngram, cjk_mode=params.cjk_shingles)
    offsets = np.concatenate(([0], np.cumsum(counts)))
    signature_matrix = minhash.signatures_from_hashes(hashes, counts, params)
    bands = minhash.band_hashes(signature_matrix, params.bands, params.rows)
    buckets: dict[tuple[int, int], list[int]] = defaultdict(list)
    for index in np.flatnonzero(counts):
        for band in range(params.bands):
            buckets[(band, int(bands[index, band]))].append(int(index))

    def similar(left: int, right: int) -> bool:
        if verify == "signature":
            return minhash.estimate_jaccard(signature_matrix[left], signature_matrix[right]) >= threshold
        if verify == "exact":
            left_set = set(hashes[offsets[left] : offsets[left + 1]].tolist())
            right_set = set(hashes[offsets[right] : offsets[right + 1]].tolist())
            return len(left_set & right_set) / len(left_set | right_set) >= threshold
        return True

    edges = []  # star edges (member node, bucket's minimum node) that pass verification
    for members in buckets.values():
        representative = min(members, key=nodes.__getitem__)
        for member in members:
            if member != representative and nodes[member] != nodes[representative] and similar(member, representative):
                edges.append((nodes[member], nodes[representative]))
    # node strings sort by (preference, doc_id): each component's root is its representative
    return {node[NODE_PREFERENCE_DIGITS:]: root[NODE_PREFERENCE_DIGITS:]
            for node, root in sorted(union_find_roots(edges).items()) if node != root}
