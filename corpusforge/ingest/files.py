"""One input file → Arrow batches of records: the per-task work of the ingest stage, without Spark.

The Spark stage (`corpusforge.stages.ingest`) runs `file_batches` in one task per file. Each
call streams its file through the format's reader (ingest/base.py) and emits Arrow batches of
bounded size. A file that cannot be opened or read at all becomes one dropped row
(`ingest.unreadable`), so a bad file never stops the run and is never silently lost.

The Spark path must give exactly what the pure reader gives on the same file (tests/spark/
test_ingest_stage.py checks it file by file), so WARC/ARC files are opened *seekable*: the
readers resync past damage only on a seekable stream, and a forward-only stream would lose
the records after a damaged region.

`RECORD_ARROW_SCHEMA` is the one spelling of the record schema; the Spark stage derives its
StructType from it.

Rows are built column by column (one Python list per column, one `pa.array` per column and
batch) rather than as one dict per row for `from_pylist`: 11 ms instead of 17 ms per 3,841
records (20 MB of WARC) — small beside the ~2.6 s of extraction of those records, which is
why the framework's overhead is mostly on the JVM side (benchmarks/RESULTS.md, "Ingest").
"""
from __future__ import annotations

import io
import logging
from typing import BinaryIO, Iterator

import pyarrow as pa

from corpusforge.ingest import RAW_STREAM_FORMATS, reader_for
from corpusforge.ingest.base import IngestOptions, Record
from corpusforge.ingest.compressed import open_decompressed
from corpusforge.ingest.remote import open_filesystem
from corpusforge.ingest.uris import local_path, local_uri
from corpusforge.text.dedup_key import doc_id

log = logging.getLogger(__name__)

# Every record of every file, as mapInArrow expects it (timestamps in UTC). The one spelling of
# the record schema: the Spark stage derives its StructType from it (stages/ingest.py).
RECORD_ARROW_SCHEMA = pa.schema([
    ("doc_id", pa.string()), ("text", pa.string()), ("url", pa.string()), ("source", pa.string()),
    ("source_key", pa.string()), ("source_id", pa.string()), ("source_uri", pa.string()),
    ("source_offset", pa.int64()), ("crawl_ts", pa.timestamp("us", tz="UTC")),
    ("content_type", pa.string()), ("label", pa.string()), ("split", pa.string()),
    ("metadata", pa.map_(pa.string(), pa.string())), ("candidate", pa.bool_()),
    ("record_type", pa.string()), ("drop_stage", pa.string()), ("drop_reason", pa.string()),
    ("detail", pa.string()),
])
# A task's memory is bounded by whichever comes first: this many records, or this many
# characters of text (a batch of 10 MB pages must not wait for 1000 of them).
_ROWS_PER_BATCH = 1000
_TEXT_CHARS_PER_BATCH = 32 << 20
# Read-ahead of the Python stream the readers see: FastWARC and the line readers ask for
# small pieces, and every call into a pyarrow stream costs a few microseconds.
_STREAM_BUFFER_BYTES = 1 << 20


def file_batches(file_row: dict, opts: IngestOptions, schema: pa.Schema = RECORD_ARROW_SCHEMA,
                 s3: dict | None = None) -> Iterator[pa.RecordBatch]:
    """Arrow batches (RECORD_ARROW_SCHEMA) of every record of one file.

    `file_row` has the keys uri, source, source_key, format and split (the stage's file
    list); `s3` is the plan's S3 options (ingest/remote.py). This is the whole per-task work of the Spark stage, callable without Spark (the
    benchmark's plain loop can use it too).

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "a.jsonl")
    >>> _ = open(path, "w").write('{"text": "hello"}\\n')
    >>> row = {"uri": local_uri(path), "source": "s", "source_key": "s/a.jsonl",
    ...        "format": "jsonl", "split": None}
    >>> [b.column("text").to_pylist() for b in file_batches(row, IngestOptions())]
    [['hello']]
    """
    builder = _BatchBuilder(file_row, schema)
    for record in read_file(file_row["uri"], file_row["format"], opts, s3):
        if builder.add(record):
            yield builder.flush()
    if builder.rows:
        yield builder.flush()


def read_file(uri: str, fmt: str, opts: IngestOptions, s3: dict | None = None) -> Iterator[Record]:
    """Every Record of one file; an unreadable file yields one dropped Record instead.

    >>> list(read_file("file:///no/such/file.jsonl", "jsonl", IngestOptions()))[0].drop_reason
    'ingest.unreadable'
    """
    reader = reader_for(fmt)
    yielded = 0
    try:
        with open_input(uri, fmt, s3) as stream:
            for record in reader(stream, opts):
                yielded += 1
                yield record
    except (OSError, EOFError, ValueError, RuntimeError) as err:
        # A failure outside the reader's own recovery (I/O, a broken compression stream). A
        # damaged compressed file (ingest/compressed.py) says where reading stopped.
        log.warning("cannot read %s after %d records: %s", uri, yielded, err)
        yield Record(locator=f"unreadable:{yielded}", record_type=fmt, source_offset=getattr(err, "offset", None),
                     drop_reason="ingest.unreadable",
                     detail=f"after {yielded} records: {type(err).__name__}: {err}"[:500])


def open_input(uri: str, fmt: str, s3: dict | None = None) -> BinaryIO:
    """Open `uri` (percent-encoded) for reading; .gz/.zst/.lz4/.bz2 are decompressed here,
    keeping what decodes before damage (ingest/compressed.py), except for WARC/ARC readers.

    WARC/ARC files are opened seekable where the filesystem allows it (local files, S3,
    HDFS all do), because the readers resync past damage only on a seekable stream.

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "a.warc")
    >>> _ = open(path, "wb").write(b"WARC/1.0")
    >>> with open_input(local_uri(path), "warc") as stream:
    ...     stream.seekable(), stream.read(4)
    (True, b'WARC')
    """
    if uri.startswith("file://") and fmt in RAW_STREAM_FORMATS:
        # The builtin buffered file: seekable, and the cheapest read() there is.
        return open(local_path(uri), "rb", buffering=_STREAM_BUFFER_BYTES)
    filesystem, path = open_filesystem(uri, s3)
    if fmt == "parquet":
        return filesystem.open_input_file(path)
    if fmt in RAW_STREAM_FORMATS:
        return io.BufferedReader(_NativeRaw(filesystem.open_input_file(path), seekable=True),
                                 buffer_size=_STREAM_BUFFER_BYTES)
    # Random access (seekable), so a damaged compressed file is decoded again to the bad byte
    # (ingest/compressed.py). pyarrow streams have no readline(): a buffered Python reader
    # gives line iteration.
    native = _NativeRaw(filesystem.open_input_file(path), seekable=True)
    return open_decompressed(io.BufferedReader(native, buffer_size=_STREAM_BUFFER_BYTES), path)


class _NativeRaw(io.RawIOBase):
    """A pyarrow NativeFile seen as a Python raw stream (seekable when it is random access)."""

    def __init__(self, native, seekable: bool = False):
        self._native = native
        self._seekable = seekable

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._seekable

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if not self._seekable:
            raise io.UnsupportedOperation("seek")
        return self._native.seek(offset, whence)

    def tell(self) -> int:
        return self._native.tell()

    def readinto(self, buffer) -> int:
        data = self._native.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._native.close()
        super().close()


class _BatchBuilder:
    """Collects Records of one file column by column and emits Arrow batches of `schema`."""

    # Record attributes copied as they are, by output column.
    _RECORD_COLUMNS = ("text", "url", "source_id", "source_offset", "crawl_ts", "content_type",
                       "label", "candidate", "record_type", "drop_reason", "detail")

    def __init__(self, file_row: dict, schema: pa.Schema) -> None:
        self._file_row = file_row
        self._schema = schema
        self._source_key = file_row["source_key"]
        self._file_split = file_row["split"]
        self._reset()

    def _reset(self) -> None:
        self.rows = 0
        self._text_chars = 0
        self._columns: dict[str, list] = {name: [] for name in self._RECORD_COLUMNS}
        self._doc_ids: list[str] = []
        self._splits: list[str | None] = []
        self._metadata: list[dict | None] = []

    def add(self, record: Record) -> bool:
        """Add one record; True when the batch is full and should be flushed."""
        columns = self._columns
        for name in self._RECORD_COLUMNS:
            columns[name].append(getattr(record, name))
        self._doc_ids.append(doc_id(self._source_key, record.locator))
        self._splits.append(record.split or self._file_split)
        self._metadata.append(record.metadata or None)
        self.rows += 1
        if record.text:
            self._text_chars += len(record.text)
        return self.rows >= _ROWS_PER_BATCH or self._text_chars >= _TEXT_CHARS_PER_BATCH

    def flush(self) -> pa.RecordBatch:
        """The collected rows as one batch; the builder starts empty again."""
        n = self.rows
        values = dict(self._columns)
        values["doc_id"] = self._doc_ids
        values["split"] = self._splits
        values["metadata"] = self._metadata
        values["drop_stage"] = ["ingest" if reason is not None else None for reason in values["drop_reason"]]
        for name in ("source", "source_key"):
            values[name] = [self._file_row[name]] * n
        values["source_uri"] = [self._file_row["uri"]] * n
        arrays = [pa.array(values[field.name], type=field.type) for field in self._schema]
        self._reset()
        return pa.RecordBatch.from_arrays(arrays, schema=self._schema)
