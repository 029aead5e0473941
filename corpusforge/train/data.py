"""A torch `IterableDataset` over a pinned Delta version of a `tokens` or `packed` table.

The trainer needs no JVM: the snapshot is read with `deltalake` (delta-rs) and its Parquet
files with pyarrow. The dataset is reproducible and resumable:

* **Pinned.** `version` is required; later corpus runs appending to the table change nothing.
* **Sharded.** The snapshot's files (split into row ranges when there are fewer files than
  readers) are work units. Each epoch the units are permuted by (seed, epoch) and dealt
  round-robin to the `world_size × num_workers` readers, so every unit goes to exactly one
  (rank, DataLoader worker): no overlap, no gap.
* **Shuffled.** Within a unit, rows are read in a permutation drawn from (seed, epoch, unit):
  the whole order is a pure function of (table version, seed, epoch, world_size, num_workers).
* **Resumable.** Every sample carries `worker` = (DataLoader worker id, worker count). The
  training loop pops it and reports it with `mark_consumed` after the step; `state_dict()`
  is then the epoch plus samples consumed per worker, and a dataset given that state yields
  exactly the samples its stream had not yet delivered.

Ranks may receive slightly different sample counts (units differ in size): under DDP, end
the epoch at the smallest rank's count or wrap the loop in DDP's `join()` context.

Typical loop (one dataset per rank; save each rank's `state_dict()` in its checkpoint)::

    dataset = DeltaTokenDataset("out/tokens", version=12, params=ReaderParams(seq_length=512, split="train"))
    loader = DataLoader(dataset, batch_size=32, num_workers=2)
    for epoch in range(start_epoch, epochs):
        dataset.set_epoch(epoch)
        for batch in loader:
            position = batch.pop("worker")
            loss = model(**batch).loss; ...
            dataset.mark_consumed(position)
"""
from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import torch
from torch.utils.data import IterableDataset, get_worker_info

from corpusforge.errors import ConfigError, InputError, SchemaError
# Re-exported: callers that train import the pinned-version helpers from here.
from corpusforge.tokenize.pinned import open_delta_version, table_commit_metadata  # noqa: F401

WORKER_KEY = "worker"  # per-sample (worker id, worker count); pop it before the model's forward
IGNORE_INDEX = -100  # label of padding positions for causal-LM labels (torch's cross-entropy default)
STATE_FORMAT = 1


@dataclass(frozen=True, kw_only=True)
class ReaderParams:
    """What the dataset reads and how it shapes samples."""

    seq_length: int = 512  # every sample is padded or truncated to this many ids
    pad_id: int = 0  # id written into padding positions (attention_mask is 0 there)
    split: str | None = None  # keep only rows of this split; None reads every row
    token_column: str = "input_ids"  # list<int> column of token ids
    label_column: str | None = None  # class label column, e.g. "label"; None for no class labels
    label_map: Mapping[str, int] | None = None  # label → id; required when the labels are strings
    lm_labels: bool = False  # labels = input_ids with padding at -100 (causal-LM training)
    shuffle: bool = True  # permute units and rows by (seed, epoch); False reads in file order
    seed: int = 0  # the shuffle's seed, shared by every rank
    chunk_rows: int = 1024  # rows padded in one vectorised step (memory ≈ chunk_rows × seq_length × 8 B × 2)


@dataclass(frozen=True, kw_only=True)
class _FileEntry:
    path: str  # full path for the filesystem
    key: str  # the add action's path, stable across machines: seeds the row permutation
    num_rows: int
    partition_values: dict[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class _Unit:
    file_index: int
    row_start: int
    row_stop: int


def _stable_int(*parts: object) -> int:
    digest = hashlib.blake2b("\x00".join(map(str, parts)).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


class DeltaTokenDataset(IterableDataset):
    """Samples `{input_ids, attention_mask[, labels], worker}` from one Delta version, sharded and resumable.

    >>> import tempfile, deltalake
    >>> table = tempfile.mkdtemp()
    >>> deltalake.write_deltalake(table, pa.table({"input_ids": pa.array([[5, 6, 7]], pa.list_(pa.int32()))}))
    >>> sample = next(iter(DeltaTokenDataset(table, version=0, params=ReaderParams(seq_length=4))))
    >>> sample["input_ids"].tolist(), sample["attention_mask"].tolist()
    ([5, 6, 7, 0], [1, 1, 1, 0])
    """

    def __init__(
        self,
        table_uri: str,
        *,
        version: int,
        params: ReaderParams = ReaderParams(),
        rank: int | None = None,
        world_size: int | None = None,
        storage_options: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        if params.seq_length < 1:
            raise ConfigError(f"reader: seq_length must be >= 1, got {params.seq_length}")
        if params.lm_labels and params.label_column is not None:
            raise ConfigError("reader: lm_labels and label_column both define `labels`; choose one")
        rank, world_size = _distributed_defaults(rank, world_size)
        if not 0 <= rank < world_size:
            raise ConfigError(f"reader: rank {rank} is outside world_size {world_size}")
        self.table_uri, self.version, self.params = table_uri, version, params
        self.rank, self.world_size = rank, world_size
        table = open_delta_version(table_uri, version, storage_options)
        self._check_readable(table)
        schema = pa.schema(table.schema().to_arrow())
        self._check_columns(schema)
        self._partition_columns = list(table.metadata().partition_columns)
        self._files = self._file_entries(table)
        self._filesystem, self._root = pafs.FileSystem.from_uri(table.table_uri.rstrip("/"))
        self._label_keys, self._label_ids = self._label_arrays(schema)
        self.epoch = 0
        self._consumed: dict[int, int] = {}
        self._num_workers: int | None = None  # learnt from the first mark_consumed or load_state_dict

    # -- construction checks -------------------------------------------------------------

    def _check_readable(self, table) -> None:
        reader_features = table.protocol().reader_features or []
        if "deletionVectors" in reader_features:
            deleted = sum(batch.num_rows for batch in pa.RecordBatchReader.from_stream(table.deletion_vectors()))
            if deleted:
                raise InputError(
                    f"Delta table {self.table_uri!r} v{self.version} has deletion vectors on {deleted} file(s); "
                    "rewrite them (OPTIMIZE / REORG ... APPLY (PURGE)) before training on it"
                )
        mapping = (table.metadata().configuration or {}).get("delta.columnMapping.mode", "none")
        if mapping != "none":
            raise InputError(f"Delta table {self.table_uri!r} uses column mapping ({mapping}); the reader needs plain names")

    def _check_columns(self, schema: pa.Schema) -> None:
        wanted = [self.params.token_column]
        if self.params.split is not None:
            wanted.append("split")
        if self.params.label_column is not None:
            wanted.append(self.params.label_column)
        missing = [name for name in wanted if name not in schema.names]
        if missing:
            raise SchemaError(
                f"Delta table {self.table_uri!r} v{self.version} has no column(s) {missing}; it has {schema.names}"
            )
        if not pa.types.is_list(schema.field(self.params.token_column).type) and not pa.types.is_large_list(
            schema.field(self.params.token_column).type
        ):
            raise SchemaError(f"column {self.params.token_column!r} is {schema.field(self.params.token_column).type}, not a list of ids")

    def _label_arrays(self, schema: pa.Schema) -> tuple[pa.Array | None, np.ndarray | None]:
        column = self.params.label_column
        if column is None:
            return None, None
        label_type = schema.field(column).type
        if self.params.label_map is None:
            if pa.types.is_integer(label_type):
                return None, None
            raise ConfigError(f"reader: column {column!r} holds {label_type} labels; give label_map (label → id)")
        keys = pa.array([str(key) for key in self.params.label_map], pa.string())
        return keys, np.array(list(self.params.label_map.values()), dtype=np.int64)

    def _file_entries(self, table) -> list[_FileEntry]:
        actions = pa.table(table.get_add_actions(flatten=True))
        paths = actions.column("path").to_pylist()
        counts = actions.column("num_records").to_pylist() if "num_records" in actions.column_names else [None] * len(paths)
        partitions = {
            name: actions.column(f"partition.{name}").to_pylist()
            for name in self._partition_columns
            if f"partition.{name}" in actions.column_names
        }
        root = table.table_uri.rstrip("/")
        _, root_path = pafs.FileSystem.from_uri(root)
        entries = []
        for index, path in enumerate(paths):
            full = path if "://" in path else f"{root_path}/{unquote(path)}"
            values = {name: column[index] for name, column in partitions.items()}
            if self.params.split is not None and "split" in values and values["split"] != self.params.split:
                continue  # partition pruning: no row of this file is in the split
            entries.append(_FileEntry(path=full, key=path, num_rows=counts[index] if counts[index] is not None else -1,
                                      partition_values=values))
        entries.sort(key=lambda entry: entry.key)  # snapshot order is not specified; the path is
        missing_counts = [entry for entry in entries if entry.num_rows < 0]
        if missing_counts:
            filesystem, _ = pafs.FileSystem.from_uri(root)
            entries = [
                entry if entry.num_rows >= 0 else _FileEntry(
                    path=entry.path, key=entry.key, partition_values=entry.partition_values,
                    num_rows=pq.ParquetFile(entry.path, filesystem=filesystem).metadata.num_rows)
                for entry in entries
            ]
        return entries

    # -- position ------------------------------------------------------------------------

    def set_epoch(self, epoch: int) -> None:
        """Start epoch `epoch`: a new (seed, epoch) order, nothing consumed yet.

        >>> import tempfile, deltalake
        >>> table = tempfile.mkdtemp()
        >>> deltalake.write_deltalake(table, pa.table({"input_ids": pa.array([[1]], pa.list_(pa.int32()))}))
        >>> dataset = DeltaTokenDataset(table, version=0)
        >>> dataset.set_epoch(3); dataset.state_dict()["epoch"]
        3
        """
        self.epoch = int(epoch)
        self._consumed = {}
        self._num_workers = None

    def mark_consumed(self, position: torch.Tensor | Mapping[str, torch.Tensor]) -> None:
        """Count a batch as trained on, from its `worker` tensor (or the batch holding it).

        >>> import tempfile, deltalake
        >>> table = tempfile.mkdtemp()
        >>> deltalake.write_deltalake(table, pa.table({"input_ids": pa.array([[1], [2]], pa.list_(pa.int32()))}))
        >>> dataset = DeltaTokenDataset(table, version=0)
        >>> dataset.mark_consumed(next(iter(torch.utils.data.DataLoader(dataset, batch_size=1))))
        >>> dataset.state_dict()["consumed"]
        {'0': 1}
        """
        tensor = position[WORKER_KEY] if isinstance(position, Mapping) else position
        pairs = tensor.reshape(-1, 2).to(torch.int64).numpy()
        if pairs.size == 0:
            return
        worker_counts = np.unique(pairs[:, 1])
        if len(worker_counts) != 1 or (self._num_workers is not None and worker_counts[0] != self._num_workers):
            raise ConfigError(
                f"reader: samples come from DataLoaders with {sorted(set(worker_counts.tolist()))} workers, "
                f"the position so far from {self._num_workers}; one epoch must use one worker count"
            )
        self._num_workers = int(worker_counts[0])
        for worker, count in zip(*np.unique(pairs[:, 0], return_counts=True)):
            self._consumed[int(worker)] = self._consumed.get(int(worker), 0) + int(count)

    def state_dict(self) -> dict:
        """The position: epoch and samples consumed per DataLoader worker, with what it is valid for.

        >>> import tempfile, deltalake
        >>> table = tempfile.mkdtemp()
        >>> deltalake.write_deltalake(table, pa.table({"input_ids": pa.array([[1]], pa.list_(pa.int32()))}))
        >>> sorted(DeltaTokenDataset(table, version=0).state_dict())[:3]
        ['consumed', 'epoch', 'format']
        """
        return {
            "format": STATE_FORMAT,
            "table": self.table_uri,
            "version": self.version,
            "split": self.params.split,
            "seed": self.params.seed,
            "shuffle": self.params.shuffle,
            "rank": self.rank,
            "world_size": self.world_size,
            "num_workers": self._num_workers,
            "epoch": self.epoch,
            "consumed": {str(worker): count for worker, count in sorted(self._consumed.items())},
        }

    def load_state_dict(self, state: Mapping) -> None:
        """Resume at a saved position; the order it refers to must be the same (else ConfigError).

        >>> import tempfile, deltalake
        >>> table = tempfile.mkdtemp()
        >>> deltalake.write_deltalake(table, pa.table({"input_ids": pa.array([[1], [2]], pa.list_(pa.int32()))}))
        >>> dataset = DeltaTokenDataset(table, version=0)
        >>> dataset.load_state_dict({**dataset.state_dict(), "consumed": {"0": 1}, "num_workers": 0})
        >>> len(list(dataset))
        1
        """
        if state.get("format") != STATE_FORMAT:
            raise ConfigError(f"reader: state format {state.get('format')!r}, expected {STATE_FORMAT}")
        expected = {key: value for key, value in self.state_dict().items() if key in
                    ("table", "version", "split", "seed", "shuffle", "rank", "world_size")}
        differing = {key: (state.get(key), value) for key, value in expected.items() if state.get(key) != value}
        if differing:
            raise ConfigError(f"reader: saved position is for a different stream (saved, now): {differing}")
        self.epoch = int(state["epoch"])
        self._num_workers = state.get("num_workers")
        self._consumed = {int(worker): int(count) for worker, count in state["consumed"].items()}

    # -- iteration -----------------------------------------------------------------------

    def _units(self, readers: int) -> list[_Unit]:
        # With fewer files than readers, cut files into row ranges so that every reader has
        # work; the cut depends only on the file sizes and the reader count.
        parts = max(1, math.ceil(readers / max(1, len(self._files))))
        units = []
        for index, entry in enumerate(self._files):
            step = max(1, math.ceil(entry.num_rows / parts))
            for start in range(0, max(entry.num_rows, 1), step):
                units.append(_Unit(file_index=index, row_start=start, row_stop=min(start + step, entry.num_rows)))
        return units

    def _stream_units(self, worker: int, num_workers: int) -> list[_Unit]:
        readers = self.world_size * max(1, num_workers)
        units = self._units(readers)
        if self.params.shuffle:
            order = np.random.default_rng([self.params.seed, self.epoch]).permutation(len(units))
            units = [units[i] for i in order]
        reader = self.rank * max(1, num_workers) + worker
        return units[reader::readers]

    def _read_unit(self, unit: _Unit) -> pa.Table:
        entry = self._files[unit.file_index]
        columns = [self.params.token_column]
        if self.params.label_column is not None:
            columns.append(self.params.label_column)
        if self.params.split is not None:
            columns.append("split")
        in_file = [name for name in columns if name not in entry.partition_values]
        table = pq.ParquetFile(entry.path, filesystem=self._filesystem).read(columns=in_file)
        table = table.slice(unit.row_start, unit.row_stop - unit.row_start)
        for name in columns:
            if name in entry.partition_values:
                table = table.append_column(name, pa.array([entry.partition_values[name]] * table.num_rows, pa.string()))
        if self.params.split is not None and "split" not in entry.partition_values:
            table = table.filter(pc.fill_null(pc.equal(table.column("split"), self.params.split), False))
        return table

    def _labels(self, table: pa.Table) -> np.ndarray | None:
        column = self.params.label_column
        if column is None:
            return None
        values = table.column(column).combine_chunks()
        if self._label_keys is None:
            if values.null_count:
                raise InputError(f"reader: column {column!r} has null labels in {self.table_uri!r} v{self.version}")
            return values.to_numpy(zero_copy_only=False).astype(np.int64)
        positions = pc.index_in(values.cast(pa.string()), value_set=self._label_keys)
        if positions.null_count:
            unknown = pc.unique(values.filter(pc.is_null(positions))).to_pylist()[:5]
            raise InputError(f"reader: labels {unknown} of column {column!r} are not in label_map {sorted(self.params.label_map)}")
        return self._label_ids[positions.to_numpy(zero_copy_only=False)]

    def _padded_chunks(self, table: pa.Table, unit: _Unit, skip: int) -> Iterator[dict[str, torch.Tensor]]:
        ids = table.column(self.params.token_column).combine_chunks()
        offsets = ids.offsets.to_numpy().astype(np.int64)
        values = ids.values.to_numpy(zero_copy_only=False)
        starts, lengths = offsets[:-1], np.diff(offsets)
        if ids.null_count:
            lengths = np.where(ids.is_valid().to_numpy(zero_copy_only=False), lengths, 0)
        labels = self._labels(table)
        order = np.arange(table.num_rows)
        if self.params.shuffle:
            entry = self._files[unit.file_index]
            rng = np.random.default_rng([self.params.seed, self.epoch, _stable_int(entry.key, unit.row_start)])
            order = rng.permutation(table.num_rows)
        order = order[skip:]
        length = self.params.seq_length
        columns = np.arange(length)
        for chunk_start in range(0, len(order), self.params.chunk_rows):
            rows = order[chunk_start : chunk_start + self.params.chunk_rows]
            kept = np.minimum(lengths[rows], length)
            mask = columns[None, :] < kept[:, None]
            positions = np.minimum(starts[rows][:, None] + columns[None, :], max(len(values) - 1, 0))
            gathered = values[positions] if len(values) else np.zeros(positions.shape, dtype=np.int64)
            input_ids = torch.from_numpy(np.where(mask, gathered, self.params.pad_id).astype(np.int64))
            attention = torch.from_numpy(mask.astype(np.int64))
            chunk = {"input_ids": input_ids, "attention_mask": attention}
            if self.params.lm_labels:
                chunk["labels"] = input_ids.masked_fill(attention == 0, IGNORE_INDEX)
            elif labels is not None:
                chunk["labels"] = torch.from_numpy(labels[rows])
            yield chunk

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        info = get_worker_info()
        worker, num_workers = (0, 0) if info is None else (info.id, info.num_workers)
        if self._consumed and self._num_workers is not None and self._num_workers != num_workers:
            raise ConfigError(
                f"reader: the saved position was made with num_workers={self._num_workers}, "
                f"this DataLoader has {num_workers}; resume with the same worker count"
            )
        skip = self._consumed.get(worker, 0)
        position = torch.tensor([worker, num_workers], dtype=torch.int64)
        for unit in self._stream_units(worker, num_workers):
            if unit.row_stop <= unit.row_start:
                continue
            if skip and self.params.split is None and skip >= unit.row_stop - unit.row_start:
                skip -= unit.row_stop - unit.row_start  # whole unit consumed: no need to read it
                continue
            table = self._read_unit(unit)
            if skip >= table.num_rows:
                skip -= table.num_rows
                continue
            unit_skip, skip = skip, 0
            for chunk in self._padded_chunks(table, unit, unit_skip):
                for row in range(chunk["input_ids"].shape[0]):
                    sample = {name: tensor[row] for name, tensor in chunk.items()}
                    sample[WORKER_KEY] = position
                    yield sample


def _distributed_defaults(rank: int | None, world_size: int | None) -> tuple[int, int]:
    if rank is not None and world_size is not None:
        return rank, world_size
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return (
            torch.distributed.get_rank() if rank is None else rank,
            torch.distributed.get_world_size() if world_size is None else world_size,
        )
    return (0 if rank is None else rank), (1 if world_size is None else world_size)
