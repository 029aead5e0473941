"""Packing token sequences into fixed-length sequences with document boundaries."""
from __future__ import annotations

import random

import pytest

from corpusforge.errors import ConfigError
from corpusforge.tokenize.pack import (
    PackParams,
    pack_arrow,
    pack_sequences,
    packed_from_record_batch,
    packed_record_batch,
    unpack_sequences,
)

SEP = 102


def _documents(count: int, seed: int) -> list[tuple[str, list[int]]]:
    rng = random.Random(seed)
    # Lengths from empty to several times the sequence length, ids never equal to SEP at the end.
    return [(f"doc{i:04d}", [rng.randrange(200, 30000) for _ in range(rng.choice([0, 1, 5, 17, 40, 130]))]) for i in range(count)]


def test_sequences_have_the_length_and_boundaries_point_at_documents():
    docs = _documents(60, seed=1)
    params = PackParams(seq_length=32, separator_id=SEP)
    sequences = list(pack_sequences(docs, params))
    total = sum(len(ids) + 1 for _, ids in docs)
    assert [len(s.input_ids) for s in sequences[:-1]] == [32] * (len(sequences) - 1)
    assert sum(len(s.input_ids) for s in sequences) == total
    assert [s.seq_id for s in sequences] == list(range(len(sequences)))
    for sequence in sequences:
        assert sequence.boundaries == sorted(sequence.boundaries)
        assert len(sequence.doc_ids) == len(sequence.boundaries)
        assert sequence.boundaries[0] == 0


def test_unpacking_recovers_every_document():
    docs = _documents(200, seed=2)
    for length in (1, 7, 64, 1000):
        params = PackParams(seq_length=length, separator_id=SEP)
        assert list(unpack_sequences(pack_sequences(docs, params), separator_id=SEP)) == docs


def test_packing_is_deterministic_and_through_arrow():
    docs = _documents(80, seed=3)
    params = PackParams(seq_length=50, separator_id=SEP, first_seq_id=1000)
    first = list(pack_sequences(iter(docs), params))
    second = list(pack_sequences(list(docs), params))
    assert first == second
    batch = packed_record_batch(first, split="train")
    assert batch.column("seq_id").to_pylist()[0] == 1000
    assert set(batch.column("split").to_pylist()) == {"train"}
    assert packed_from_record_batch(batch) == first


def test_a_document_crossing_a_boundary_continues_at_offset_zero():
    sequences = list(pack_sequences([("a", [1, 2, 3]), ("b", [4, 5, 6, 7, 8])], PackParams(seq_length=3, separator_id=0)))
    assert [s.input_ids for s in sequences] == [[1, 2, 3], [0, 4, 5], [6, 7, 8], [0]]
    assert [s.doc_ids for s in sequences] == [["a"], ["a", "b"], ["b"], ["b"]]
    assert [s.boundaries for s in sequences] == [[0], [0, 1], [0], [0]]


def test_drop_remainder_drops_only_the_short_tail():
    docs = [("a", [1, 2, 3, 4])]
    kept = list(pack_sequences(docs, PackParams(seq_length=3, separator_id=0)))
    dropped = list(pack_sequences(docs, PackParams(seq_length=3, separator_id=0, drop_remainder=True)))
    assert [s.input_ids for s in kept] == [[1, 2, 3], [4, 0]]
    assert [s.input_ids for s in dropped] == [[1, 2, 3]]


def test_bad_length_is_a_config_error():
    with pytest.raises(ConfigError, match="seq_length"):
        list(pack_sequences([("a", [1])], PackParams(seq_length=0, separator_id=0)))


def test_vectorised_packing_equals_the_reference_packer():
    import pyarrow as pa

    for seed in range(20):
        docs = _documents(random.Random(seed).randrange(0, 50), seed=seed)
        doc_ids = pa.array([doc_id for doc_id, _ in docs], pa.string())
        id_lists = pa.array([ids for _, ids in docs], pa.list_(pa.int32()))
        for length in (1, 3, 32, 1000):
            for drop in (False, True):
                params = PackParams(seq_length=length, separator_id=SEP, drop_remainder=drop, first_seq_id=seed)
                expected = packed_record_batch(list(pack_sequences(docs, params)), split="train")
                assert pack_arrow(doc_ids, id_lists, params, split="train").equals(expected), (seed, length, drop)
