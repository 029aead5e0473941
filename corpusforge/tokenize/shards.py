"""Export token rows to memory-mappable shards: Arrow IPC files with an index, or Megatron .bin/.idx.

Arrow IPC shards
----------------
`out_dir/shard-00000.arrow`, `shard-00001.arrow`, ... are Arrow IPC *file* format (random
access, readable with `pa.memory_map` + `pa.ipc.open_file` without copying), each at most
`max_bytes` of Arrow buffers (a single row larger than that gets a file of its own). No file is
empty: an empty input writes an index with no files, never a zero-row file that a trainer's
memory map would choke on. `out_dir/index.json` is written last (atomically, by rename), so a
reader that finds it finds every file it lists complete:

    {"format": "corpusforge.arrow_shards", "format_version": 1,
     "tokenizer": "<name>@<hash>" | null, "source": {"table": uri | null, "delta_version": int | null},
     "schema": "<Arrow schema as text>", "rows": N, "tokens": T,
     "files": [{"path": "shard-00000.arrow", "rows": n, "tokens": t, "bytes": b}, ...]}

Megatron indexed dataset (`<prefix>.bin` + `<prefix>.idx`)
-----------------------------------------------------------
The layout Megatron-LM's `MMapIndexedDataset` (and trainers that copied it) read, little endian:

* `.bin`: every document's token ids back to back, in one dtype, no header.
* `.idx`: magic `b"MMIDIDX\\x00\\x00"` (9 bytes), format version `uint64` = 1, dtype code
  `uint8` (1 uint8, 2 int8, 3 int16, 4 int32, 5 int64, 6 float64, 7 float32, 8 uint16),
  sequence count `uint64` S, document count `uint64` D (= S + 1 here), then `int32[S]`
  sizes (ids per sequence), `int64[S]` pointers (byte offset of each sequence in `.bin`),
  `int64[D]` document index (sequence number where each document starts, the last = S).

Here one sequence is one document, so the document index is 0, 1, ..., S. The dtype is uint16
when every id fits (vocabularies under 65,536), else int32.
"""
from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpusforge.errors import InputError, SchemaError
from corpusforge.tables.deltars import delta_dataset
from corpusforge.tokenize.pinned import open_delta_version

INDEX_NAME = "index.json"
INDEX_FORMAT = "corpusforge.arrow_shards"
INDEX_FORMAT_VERSION = 1
MEGATRON_MAGIC = b"MMIDIDX\x00\x00"
MEGATRON_VERSION = 1
MEGATRON_DTYPES = {1: np.uint8, 2: np.int8, 3: np.int16, 4: np.int32, 5: np.int64, 6: np.float64, 7: np.float32, 8: np.uint16}
_MEGATRON_CODES = {np.dtype(dtype): code for code, dtype in MEGATRON_DTYPES.items()}


@dataclass(frozen=True, kw_only=True)
class ShardParams:
    """How large the Arrow IPC shards are and what they are called."""

    max_bytes: int = 256 * 1024 * 1024  # Arrow buffer bytes per file; mmap-friendly, few files per rank
    prefix: str = "shard"  # file names are <prefix>-<5 digits>.arrow
    token_column: str = "input_ids"  # the list column whose lengths are the token totals


@dataclass(frozen=True, kw_only=True)
class ShardIndex:
    """What `index.json` says: the files, their counts, and where the tokens came from."""

    files: list[dict]
    rows: int
    tokens: int
    tokenizer: str | None
    source_table: str | None
    delta_version: int | None
    schema: str

    def to_json(self) -> dict:
        """The index as the JSON object written to `index.json`.

        >>> ShardIndex(files=[], rows=0, tokens=0, tokenizer=None, source_table=None,
        ...            delta_version=None, schema="").to_json()["format"]
        'corpusforge.arrow_shards'
        """
        return {
            "format": INDEX_FORMAT,
            "format_version": INDEX_FORMAT_VERSION,
            "tokenizer": self.tokenizer,
            "source": {"table": self.source_table, "delta_version": self.delta_version},
            "schema": self.schema,
            "rows": self.rows,
            "tokens": self.tokens,
            "files": self.files,
        }


def _token_count(batch: pa.RecordBatch, column: str) -> int:
    if column not in batch.schema.names:
        raise SchemaError(f"shards: batch has no column {column!r}; it has {batch.schema.names}")
    lengths = pc.list_value_length(batch.column(column))
    return int(pc.sum(lengths).as_py() or 0)


def _write_atomic_json(path: Path, payload: dict) -> None:
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(payload, indent=1, sort_keys=False), encoding="utf-8")
    os.replace(partial, path)


def _bounded_batches(batches: Iterable[pa.RecordBatch], max_bytes: int) -> Iterator[pa.RecordBatch]:
    # Split a batch too large for one file into row slices of about max_bytes each, so the
    # size bound holds whatever batch size the producer chose.
    for batch in batches:
        if batch.num_rows == 0:
            continue
        size = batch.nbytes
        if size <= max_bytes or batch.num_rows == 1:
            yield batch
            continue
        rows_per_slice = max(1, int(batch.num_rows * max_bytes / size))
        for start in range(0, batch.num_rows, rows_per_slice):
            yield batch.slice(start, rows_per_slice)


def export_arrow_shards(
    batches: Iterable[pa.RecordBatch],
    out_dir: str | os.PathLike[str],
    params: ShardParams = ShardParams(),
    *,
    tokenizer: str | None = None,
    source_table: str | None = None,
    delta_version: int | None = None,
) -> ShardIndex:
    """Write `batches` as Arrow IPC files of at most `params.max_bytes` each, then `index.json`.

    >>> import tempfile
    >>> out = tempfile.mkdtemp()
    >>> batch = pa.record_batch({"input_ids": pa.array([[1, 2], [3]], pa.list_(pa.int32()))})
    >>> export_arrow_shards([batch], out, tokenizer="t@1").tokens
    3
    """
    target = Path(out_dir)
    target.mkdir(parents=True, exist_ok=True)
    if (target / INDEX_NAME).exists():
        raise InputError(f"shards: {target} already holds an export ({INDEX_NAME}); choose an empty directory")
    files: list[dict] = []
    schema: pa.Schema | None = None
    writer: pa.ipc.RecordBatchFileWriter | None = None
    current: dict = {}

    def close_current() -> None:
        nonlocal writer
        if writer is not None:
            writer.close()
            current["bytes"] = (target / current["path"]).stat().st_size
            files.append(dict(current))
            writer = None

    for batch in _bounded_batches(batches, params.max_bytes):
        if schema is None:
            schema = batch.schema
        elif not batch.schema.equals(schema):
            raise SchemaError(f"shards: batch schema {batch.schema} differs from the first batch's {schema}")
        if writer is not None and current["buffer_bytes"] + batch.nbytes > params.max_bytes:
            close_current()
        if writer is None:
            name = f"{params.prefix}-{len(files):05d}.arrow"
            writer = pa.ipc.new_file(str(target / name), schema)
            current = {"path": name, "rows": 0, "tokens": 0, "buffer_bytes": 0}
        writer.write_batch(batch)
        current["rows"] += batch.num_rows
        current["tokens"] += _token_count(batch, params.token_column)
        current["buffer_bytes"] += batch.nbytes
    close_current()
    for entry in files:
        del entry["buffer_bytes"]  # a write-time measure; the file's real size is "bytes"
    index = ShardIndex(
        files=files,
        rows=sum(entry["rows"] for entry in files),
        tokens=sum(entry["tokens"] for entry in files),
        tokenizer=tokenizer,
        source_table=source_table,
        delta_version=delta_version,
        schema=str(schema) if schema is not None else "",
    )
    _write_atomic_json(target / INDEX_NAME, index.to_json())
    return index


def export_delta_shards(
    table_uri: str,
    out_dir: str | os.PathLike[str],
    params: ShardParams = ShardParams(),
    *,
    version: int | None = None,
    split: str | None = None,
    columns: list[str] | None = None,
) -> ShardIndex:
    """Export a pinned version of a `tokens`/`packed` Delta table (read by delta-rs, no JVM).

    The index records the version read (the latest when `version` is None) and the table's
    tokenizer identity (its `tokenizer` column's single value, when it has one).

    >>> import tempfile, deltalake
    >>> table = tempfile.mkdtemp()
    >>> deltalake.write_deltalake(table, pa.table({"input_ids": pa.array([[1]], pa.list_(pa.int32()))}))
    >>> export_delta_shards(table, tempfile.mkdtemp()).delta_version
    0
    """
    import deltalake

    delta_table: deltalake.DeltaTable = open_delta_version(table_uri, version)
    dataset = delta_dataset(delta_table)
    names = dataset.schema.names
    wanted = columns if columns is not None else names
    missing = [name for name in wanted if name not in names]
    if split is not None and "split" not in names:
        missing.append("split")
    if missing:
        raise SchemaError(f"shards: table {table_uri} (version {delta_table.version()}) has no column(s) {missing}")
    row_filter = pc.field("split") == split if split is not None else None
    tokenizer = None
    if "tokenizer" in names:
        identities = pc.unique(dataset.to_table(columns=["tokenizer"], filter=row_filter).column("tokenizer"))
        if len(identities) > 1:
            raise SchemaError(f"shards: table {table_uri} mixes tokenizers {identities.to_pylist()}; export one at a time")
        tokenizer = identities[0].as_py() if len(identities) else None
    # Deterministic order: the table's files sorted by path, rows in file order.
    fragments = sorted(dataset.get_fragments(filter=row_filter), key=lambda fragment: fragment.path)

    def batches() -> Iterator[pa.RecordBatch]:
        for fragment in fragments:
            # The dataset's schema lets a fragment fill in partition columns (e.g. `split`).
            yield from fragment.to_batches(schema=dataset.schema, columns=wanted, filter=row_filter)

    return export_arrow_shards(
        batches(),
        out_dir,
        params,
        tokenizer=tokenizer,
        source_table=delta_table.table_uri,
        delta_version=delta_table.version(),
    )


def read_shard_index(out_dir: str | os.PathLike[str]) -> dict:
    """The parsed `index.json` of an export, checked to be one this module wrote.

    >>> import tempfile
    >>> out = tempfile.mkdtemp()
    >>> _ = export_arrow_shards([], out)
    >>> read_shard_index(out)["files"]
    []
    """
    path = Path(out_dir) / INDEX_NAME
    if not path.is_file():
        raise InputError(f"shards: {path} does not exist; the export is missing or unfinished")
    index = json.loads(path.read_text(encoding="utf-8"))
    if index.get("format") != INDEX_FORMAT or index.get("format_version") != INDEX_FORMAT_VERSION:
        raise InputError(f"shards: {path} is not a {INDEX_FORMAT} v{INDEX_FORMAT_VERSION} index")
    return index


def open_arrow_shard(path: str | os.PathLike[str]) -> pa.Table:
    """Memory-map one IPC shard as a table (zero copy: pages load as they are touched).

    >>> import tempfile
    >>> out = tempfile.mkdtemp()
    >>> _ = export_arrow_shards([pa.record_batch({"input_ids": pa.array([[7]], pa.list_(pa.int32()))})], out)
    >>> open_arrow_shard(f"{out}/shard-00000.arrow").column("input_ids").to_pylist()
    [[7]]
    """
    source = pa.memory_map(str(path), "r")
    return pa.ipc.open_file(source).read_all()


def open_arrow_shards(out_dir: str | os.PathLike[str]) -> Iterator[pa.Table]:
    """Memory-map every shard the index lists, in order, checking its row count against the index.

    >>> import tempfile
    >>> out = tempfile.mkdtemp()
    >>> _ = export_arrow_shards([pa.record_batch({"input_ids": pa.array([[7]], pa.list_(pa.int32()))})], out)
    >>> [t.num_rows for t in open_arrow_shards(out)]
    [1]
    """
    for entry in read_shard_index(out_dir)["files"]:
        table = open_arrow_shard(Path(out_dir) / entry["path"])
        if table.num_rows != entry["rows"]:
            raise InputError(f"shards: {entry['path']} has {table.num_rows} rows, the index says {entry['rows']}")
        yield table


def write_megatron(
    sequences: Iterable[np.ndarray | list[int]], prefix: str | os.PathLike[str], *, vocab_size: int
) -> int:
    """Write documents' ids as Megatron `<prefix>.bin` + `<prefix>.idx` (layout in the module doc).

    Returns the number of documents written.

    >>> import tempfile
    >>> prefix = f"{tempfile.mkdtemp()}/corpus"
    >>> write_megatron([[1, 2, 3], [4]], prefix, vocab_size=50000)
    2
    """
    dtype = np.dtype(np.uint16) if vocab_size <= np.iinfo(np.uint16).max + 1 else np.dtype(np.int32)
    sizes: list[int] = []
    bin_path, idx_path = Path(f"{prefix}.bin"), Path(f"{prefix}.idx")
    with open(bin_path, "wb") as bin_file:
        for sequence in sequences:
            ids = np.asarray(sequence)
            if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
                raise InputError(f"megatron: token id outside [0, {vocab_size}) in document {len(sizes)}")
            bin_file.write(ids.astype(dtype, copy=False).tobytes())
            sizes.append(int(ids.size))
    size_array = np.array(sizes, dtype=np.int32)
    pointers = np.zeros(len(sizes), dtype=np.int64)
    if len(sizes) > 1:
        np.cumsum(size_array[:-1].astype(np.int64) * dtype.itemsize, out=pointers[1:])
    document_index = np.arange(len(sizes) + 1, dtype=np.int64)
    with open(idx_path, "wb") as idx_file:
        idx_file.write(MEGATRON_MAGIC)
        idx_file.write(struct.pack("<Q", MEGATRON_VERSION))
        idx_file.write(struct.pack("<B", _MEGATRON_CODES[dtype]))
        idx_file.write(struct.pack("<Q", len(sizes)))
        idx_file.write(struct.pack("<Q", len(document_index)))
        idx_file.write(size_array.astype("<i4").tobytes())
        idx_file.write(pointers.astype("<i8").tobytes())
        idx_file.write(document_index.astype("<i8").tobytes())
    return len(sizes)


class MegatronReader:
    """Memory-mapped reader of a Megatron `.bin/.idx` pair; `reader[i]` is sequence i's ids.

    >>> import tempfile
    >>> prefix = f"{tempfile.mkdtemp()}/corpus"
    >>> _ = write_megatron([[1, 2, 3], [4]], prefix, vocab_size=50000)
    >>> reader = MegatronReader(prefix)
    >>> len(reader), reader[0].tolist(), reader.document_index.tolist()
    (2, [1, 2, 3], [0, 1, 2])
    """

    def __init__(self, prefix: str | os.PathLike[str]) -> None:
        idx_path = Path(f"{prefix}.idx")
        raw = idx_path.read_bytes()
        header = len(MEGATRON_MAGIC) + 8 + 1 + 8 + 8
        if raw[: len(MEGATRON_MAGIC)] != MEGATRON_MAGIC:
            raise InputError(f"megatron: {idx_path} does not start with the MMIDIDX magic")
        (version,) = struct.unpack_from("<Q", raw, len(MEGATRON_MAGIC))
        if version != MEGATRON_VERSION:
            raise InputError(f"megatron: {idx_path} has index version {version}, expected {MEGATRON_VERSION}")
        (code,) = struct.unpack_from("<B", raw, len(MEGATRON_MAGIC) + 8)
        sequence_count, document_count = struct.unpack_from("<QQ", raw, len(MEGATRON_MAGIC) + 9)
        self.dtype = np.dtype(MEGATRON_DTYPES[code])
        offset = header
        self.sizes = np.frombuffer(raw, dtype="<i4", count=sequence_count, offset=offset)
        offset += 4 * sequence_count
        self.pointers = np.frombuffer(raw, dtype="<i8", count=sequence_count, offset=offset)
        offset += 8 * sequence_count
        self.document_index = np.frombuffer(raw, dtype="<i8", count=document_count, offset=offset)
        bin_path = Path(f"{prefix}.bin")
        # np.memmap refuses an empty file; an empty corpus has nothing to map.
        self._bin = np.memmap(bin_path, dtype=self.dtype, mode="r") if bin_path.stat().st_size else np.empty(0, self.dtype)

    def __len__(self) -> int:
        return len(self.sizes)

    def __getitem__(self, index: int) -> np.ndarray:
        start = int(self.pointers[index]) // self.dtype.itemsize
        return self._bin[start : start + int(self.sizes[index])]


def export_delta_megatron(
    table_uri: str,
    prefix: str | os.PathLike[str],
    *,
    version: int | None = None,
    split: str | None = None,
    vocab_size: int | None = None,
    token_column: str = "input_ids",
) -> int:
    """Write a pinned version of a `tokens`/`packed` table as Megatron `<prefix>.bin/.idx`.

    Rows go in the same deterministic order as `export_delta_shards` (files by path, rows in
    file order). Without `vocab_size` the largest id + 1 decides the dtype (one extra column
    scan). Returns the number of documents written.

    >>> import tempfile, deltalake
    >>> table = tempfile.mkdtemp()
    >>> deltalake.write_deltalake(table, pa.table({"input_ids": pa.array([[1, 2], [3]], pa.list_(pa.int32()))}))
    >>> export_delta_megatron(table, f"{tempfile.mkdtemp()}/corpus", version=0)
    2
    """
    delta_table = open_delta_version(table_uri, version)
    dataset = delta_dataset(delta_table)
    if token_column not in dataset.schema.names or (split is not None and "split" not in dataset.schema.names):
        raise SchemaError(f"megatron: table {table_uri} (version {delta_table.version()}) lacks {token_column!r} or 'split'")
    row_filter = pc.field("split") == split if split is not None else None
    fragments = sorted(dataset.get_fragments(filter=row_filter), key=lambda fragment: fragment.path)

    def id_lists() -> Iterator[pa.ListArray]:
        for fragment in fragments:
            for batch in fragment.to_batches(schema=dataset.schema, columns=[token_column], filter=row_filter):
                yield batch.column(token_column)

    if vocab_size is None:
        largest = [pc.max(ids.flatten()).as_py() for ids in id_lists()]
        vocab_size = max((value for value in largest if value is not None), default=0) + 1

    def sequences() -> Iterator[np.ndarray]:
        for ids in id_lists():
            offsets = ids.offsets.to_numpy()
            values = ids.flatten().to_numpy(zero_copy_only=False)
            for start, stop in zip(offsets[:-1], offsets[1:]):
                yield values[start:stop]

    Path(prefix).parent.mkdir(parents=True, exist_ok=True)
    return write_megatron(sequences(), prefix, vocab_size=vocab_size)
