"""Deterministic split assignment by a seeded hash of doc_id; the input's own split wins."""
from __future__ import annotations

import hashlib
import subprocess
import sys

import pyarrow as pa
import pytest

from corpusforge.errors import ConfigError
from corpusforge.tokenize.splits import assign_split, assign_splits

FRACTIONS = {"train": 0.8, "validation": 0.1, "test": 0.1}


def _doc_ids(count: int) -> list[str]:
    return [hashlib.blake2b(str(i).encode(), digest_size=16).hexdigest() for i in range(count)]


def test_fractions_are_met_on_many_ids():
    splits = assign_splits(_doc_ids(20000), FRACTIONS, seed=1).to_pylist()
    for name, fraction in FRACTIONS.items():
        # Binomial standard deviation at n=20000 is under 0.3 %; 1 % is a wide margin.
        assert abs(splits.count(name) / len(splits) - fraction) < 0.01


def test_scalar_and_vectorised_agree():
    ids = _doc_ids(500)
    assert assign_splits(ids, FRACTIONS, seed=7).to_pylist() == [assign_split(i, FRACTIONS, seed=7) for i in ids]
    assert assign_splits(pa.array(ids), FRACTIONS, seed=7).to_pylist() == [assign_split(i, FRACTIONS, 7) for i in ids]


def test_same_in_a_fresh_interpreter():
    # Python's hash() is salted per process; the assignment must not be.
    ids = _doc_ids(50)
    code = (
        "from corpusforge.tokenize.splits import assign_splits;"
        f"print(','.join(assign_splits({ids!r}, {FRACTIONS!r}, seed=3).to_pylist()))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"PYTHONHASHSEED": "123"})
    assert out.stdout.strip().split(",") == assign_splits(ids, FRACTIONS, seed=3).to_pylist()


def test_seed_changes_the_assignment():
    ids = _doc_ids(1000)
    assert assign_splits(ids, FRACTIONS, seed=0).to_pylist() != assign_splits(ids, FRACTIONS, seed=1).to_pylist()


def test_existing_split_wins_and_empty_or_null_is_assigned():
    ids = _doc_ids(4)
    existing = pa.array(["test", None, "", "train"])
    out = assign_splits(ids, {"validation": 1.0}, existing=existing).to_pylist()
    assert out == ["test", "validation", "validation", "train"]


def test_zero_fraction_split_gets_nothing():
    splits = set(assign_splits(_doc_ids(2000), {"train": 1.0, "test": 0.0}).to_pylist())
    assert splits == {"train"}


@pytest.mark.parametrize("fractions", [{}, {"train": 0.5}, {"train": 1.2, "test": -0.2}])
def test_bad_fractions_are_config_errors(fractions):
    with pytest.raises(ConfigError):
        assign_split("abc", fractions)
