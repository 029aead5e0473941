"""The torch reader over a pinned Delta version: sharding, shuffling, padding, resume, pinning."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import deltalake

from corpusforge.tables.deltars import read_delta
import numpy as np
import pyarrow as pa
import pytest
import torch
from torch.utils.data import DataLoader

from corpusforge.errors import ConfigError, InputError, SchemaError
from corpusforge.tokenize.pack import PackParams, pack_sequences, packed_record_batch
from corpusforge.train.data import IGNORE_INDEX, WORKER_KEY, DeltaTokenDataset, ReaderParams

LABELS = ("negative", "neutral", "positive")
SAMPLE_BASE = 1000  # the first id of sample i is SAMPLE_BASE + i: it names the sample


def _rows(start: int, count: int, rng: np.random.Generator) -> pa.Table:
    ids = [[SAMPLE_BASE + i] + rng.integers(1, 999, size=rng.integers(0, 40)).tolist() for i in range(start, start + count)]
    return pa.table(
        {
            "doc_id": [f"{i:032x}" for i in range(start, start + count)],
            "input_ids": pa.array(ids, pa.list_(pa.int32())),
            "n_tokens": pa.array([len(x) for x in ids], pa.int32()),
            "split": ["test" if i % 5 == 0 else "train" for i in range(start, start + count)],
            "label": [LABELS[i % 3] for i in range(start, start + count)],
        }
    )


def _write_table(path: Path, files: int, rows_per_file: int, partition_by: list[str] | None = None) -> int:
    rng = np.random.default_rng(0)
    for index in range(files):
        deltalake.write_deltalake(
            str(path), _rows(index * rows_per_file, rows_per_file, rng), mode="append", partition_by=partition_by
        )
    return files * rows_per_file


def _sample_ids(batches) -> list[int]:
    return [int(first) - SAMPLE_BASE for batch in batches for first in batch["input_ids"][:, 0]]


def _read_all(table: Path, version: int, params: ReaderParams, ranks: int, workers: int) -> list[int]:
    seen: list[int] = []
    for rank in range(ranks):
        dataset = DeltaTokenDataset(str(table), version=version, params=params, rank=rank, world_size=ranks)
        seen += _sample_ids(DataLoader(dataset, batch_size=4, num_workers=workers))
    return seen


@pytest.fixture(scope="module")
def five_files(tmp_path_factory) -> tuple[Path, int]:
    # Five files: fewer than 4 ranks × 2 workers, so files are also cut into row ranges.
    path = tmp_path_factory.mktemp("tokens") / "tokens"
    return path, _write_table(path, files=5, rows_per_file=37)


@pytest.fixture(scope="module")
def partitioned(tmp_path_factory) -> tuple[Path, int]:
    path = tmp_path_factory.mktemp("tokens_by_split") / "tokens"
    return path, _write_table(path, files=9, rows_per_file=20, partition_by=["split"])


@pytest.mark.parametrize("ranks", [1, 2, 4])
@pytest.mark.parametrize("workers", [0, 2])
def test_every_sample_read_exactly_once(five_files, ranks, workers):
    table, total = five_files
    seen = _read_all(table, 4, ReaderParams(seq_length=16, seed=11), ranks, workers)
    assert sorted(seen) == list(range(total))


@pytest.mark.parametrize("ranks, workers", [(1, 0), (2, 2), (4, 2)])
def test_split_filter_on_a_partitioned_table(partitioned, ranks, workers):
    table, total = partitioned
    seen = _read_all(table, 8, ReaderParams(seq_length=8, split="test"), ranks, workers)
    assert sorted(seen) == [i for i in range(total) if i % 5 == 0]


def test_split_filter_on_a_plain_column(five_files):
    table, total = five_files
    seen = _read_all(table, 4, ReaderParams(seq_length=8, split="train"), 2, 0)
    assert sorted(seen) == [i for i in range(total) if i % 5 != 0]


def test_order_is_a_function_of_seed_and_epoch(five_files):
    table, _ = five_files

    def order(seed: int, epoch: int, shuffle: bool = True) -> list[int]:
        dataset = DeltaTokenDataset(str(table), version=4, params=ReaderParams(seq_length=8, seed=seed, shuffle=shuffle))
        dataset.set_epoch(epoch)
        return _sample_ids(DataLoader(dataset, batch_size=8))

    assert order(1, 0) == order(1, 0)
    assert order(1, 0) != order(1, 1)
    assert order(1, 0) != order(2, 0)
    assert sorted(order(1, 1)) == sorted(order(2, 0))
    # Without shuffling the stream is the files in path order, rows in file order.
    unshuffled = order(1, 0, shuffle=False)
    assert unshuffled == order(2, 5, shuffle=False)


def test_padding_truncation_and_class_labels(five_files):
    table, _ = five_files
    label_map = {name: index for index, name in enumerate(LABELS)}
    params = ReaderParams(seq_length=12, pad_id=0, label_column="label", label_map=label_map, shuffle=False)
    dataset = DeltaTokenDataset(str(table), version=4, params=params)
    source = read_delta(str(table), 4)
    by_sample = {row["input_ids"][0] - SAMPLE_BASE: row for row in source.to_pylist()}
    count = 0
    for sample in dataset:
        assert set(sample) == {"input_ids", "attention_mask", "labels", WORKER_KEY}
        assert sample["input_ids"].dtype == torch.int64 and sample["input_ids"].shape == (12,)
        row = by_sample[int(sample["input_ids"][0]) - SAMPLE_BASE]
        expected = row["input_ids"][:12]
        assert sample["input_ids"].tolist() == expected + [0] * (12 - len(expected))
        assert sample["attention_mask"].tolist() == [1] * len(expected) + [0] * (12 - len(expected))
        assert int(sample["labels"]) == label_map[row["label"]]
        count += 1
    assert count == len(by_sample)


def test_causal_lm_labels_ignore_padding(five_files):
    table, _ = five_files
    dataset = DeltaTokenDataset(str(table), version=4, params=ReaderParams(seq_length=64, lm_labels=True))
    sample = next(iter(dataset))
    mask = sample["attention_mask"].bool()
    assert torch.equal(sample["labels"][mask], sample["input_ids"][mask])
    assert (sample["labels"][~mask] == IGNORE_INDEX).all()


@pytest.mark.parametrize("workers", [0, 2])
def test_resume_mid_epoch_yields_exactly_the_rest(five_files, workers):
    table, _ = five_files
    params = ReaderParams(seq_length=8, seed=3)
    full = DeltaTokenDataset(str(table), version=4, params=params, rank=1, world_size=2)
    full.set_epoch(2)
    uninterrupted = _sample_ids(DataLoader(full, batch_size=4, num_workers=workers))

    first = DeltaTokenDataset(str(table), version=4, params=params, rank=1, world_size=2)
    first.set_epoch(2)
    consumed: list[int] = []
    for step, batch in enumerate(DataLoader(first, batch_size=4, num_workers=workers)):
        position = batch.pop(WORKER_KEY)
        consumed += _sample_ids([batch])
        first.mark_consumed(position)
        if step == 6:
            break  # the "crash": prefetched batches beyond this one were never trained on
    state = first.state_dict()
    assert state["epoch"] == 2 and sum(state["consumed"].values()) == len(consumed) == 28

    resumed = DeltaTokenDataset(str(table), version=4, params=params, rank=1, world_size=2)
    resumed.load_state_dict(state)
    rest = _sample_ids(DataLoader(resumed, batch_size=4, num_workers=workers))
    assert sorted(consumed + rest) == sorted(uninterrupted)
    assert not set(consumed) & set(rest)
    if workers == 0:
        assert consumed + rest == uninterrupted


def test_resume_needs_the_same_stream(five_files):
    table, _ = five_files
    dataset = DeltaTokenDataset(str(table), version=4, params=ReaderParams(seq_length=8))
    loader = DataLoader(dataset, batch_size=4, num_workers=2)
    dataset.mark_consumed(next(iter(loader)))
    state = dataset.state_dict()
    other_seed = DeltaTokenDataset(str(table), version=4, params=ReaderParams(seq_length=8, seed=9))
    with pytest.raises(ConfigError, match="seed"):
        other_seed.load_state_dict(state)
    same = DeltaTokenDataset(str(table), version=4, params=ReaderParams(seq_length=8))
    same.load_state_dict(state)
    with pytest.raises(ConfigError, match="num_workers=2"):
        next(iter(same))


def test_a_reader_pinned_to_the_old_version_sees_the_old_data(tmp_path):
    table = tmp_path / "tokens"
    rng = np.random.default_rng(1)
    deltalake.write_deltalake(str(table), _rows(0, 30, rng))
    deltalake.write_deltalake(str(table), _rows(30, 30, rng), mode="append")
    old = DeltaTokenDataset(str(table), version=0, params=ReaderParams(seq_length=4))
    new = DeltaTokenDataset(str(table), version=1, params=ReaderParams(seq_length=4))
    assert sorted(_sample_ids(DataLoader(old, batch_size=8))) == list(range(30))
    assert sorted(_sample_ids(DataLoader(new, batch_size=8))) == list(range(60))


def test_reads_a_packed_table(tmp_path):
    docs = [(f"d{i}", list(range(SAMPLE_BASE, SAMPLE_BASE + 3 + i))) for i in range(20)]
    sequences = list(pack_sequences(docs, PackParams(seq_length=16, separator_id=2)))
    table = tmp_path / "packed"
    deltalake.write_deltalake(str(table), pa.Table.from_batches([packed_record_batch(sequences, "train")]))
    dataset = DeltaTokenDataset(str(table), version=0, params=ReaderParams(seq_length=16, split="train", shuffle=False))
    rows = [sample["input_ids"][sample["attention_mask"].bool()].tolist() for sample in dataset]
    assert rows == [s.input_ids for s in sequences]


def test_errors_are_one_line_and_name_the_problem(five_files, tmp_path):
    table, _ = five_files
    with pytest.raises(InputError, match=r"has no version 99 \(latest is 4\)") as missing_version:
        DeltaTokenDataset(str(table), version=99)
    assert "\n" not in str(missing_version.value)
    with pytest.raises(InputError, match="no Delta table"):
        DeltaTokenDataset(str(tmp_path / "absent"), version=0)
    with pytest.raises(SchemaError, match=r"\['sentiment'\]"):
        DeltaTokenDataset(str(table), version=4, params=ReaderParams(label_column="sentiment"))
    with pytest.raises(ConfigError, match="label_map"):
        DeltaTokenDataset(str(table), version=4, params=ReaderParams(label_column="label"))
    partial_map = ReaderParams(label_column="label", label_map={"neutral": 0})
    with pytest.raises(InputError, match="not in label_map"):
        next(iter(DeltaTokenDataset(str(table), version=4, params=partial_map)))


def test_rank_and_world_size_default_to_a_single_process(five_files):
    table, _ = five_files
    dataset = DeltaTokenDataset(str(table), version=4)
    assert (dataset.rank, dataset.world_size) == (0, 1)
    with pytest.raises(ConfigError, match="outside world_size"):
        DeltaTokenDataset(str(table), version=4, rank=2, world_size=2)


def test_samples_per_reader_are_balanced_when_files_are_cut(five_files):
    table, total = five_files
    counts = Counter()
    for rank in range(4):
        dataset = DeltaTokenDataset(str(table), version=4, params=ReaderParams(seq_length=4), rank=rank, world_size=4)
        for batch in DataLoader(dataset, batch_size=4, num_workers=2):
            for worker, _ in batch[WORKER_KEY].tolist():
                counts[(rank, worker)] += 1
    assert sum(counts.values()) == total
    assert len(counts) == 8 and all(count > 0 for count in counts.values())
