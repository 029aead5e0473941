"""The ingest stage: input files → one row per record, distributed one task per file.

Each task streams its file through the format's reader (ingest/base.py) and emits Arrow
batches of bounded size. A file that cannot be opened or read at all becomes one dropped row
(`ingest.unreadable`), so a bad file never stops the run and is never silently lost.
"""
from __future__ import annotations

import io
import logging
from dataclasses import asdict
from typing import BinaryIO, Iterator

import pyarrow as pa

from corpusforge.config import InputConfig
from corpusforge.ingest import RAW_STREAM_FORMATS, reader_for
from corpusforge.ingest.base import IngestOptions, Record
from corpusforge.ingest.plan import InputPlan, _pyarrow_uri
from corpusforge.stage import arrow_schema
from corpusforge.text.dedup_key import doc_id

log = logging.getLogger(__name__)

RECORD_SCHEMA_DDL = (
    "doc_id string, text string, url string, source string, source_key string, "
    "source_id string, source_uri string, source_offset bigint, crawl_ts timestamp, "
    "content_type string, label string, split string, metadata map<string,string>, "
    "candidate boolean, record_type string, drop_stage string, drop_reason string, detail string"
)
_ROWS_PER_BATCH = 1000  # bounds a task's memory: records are flushed every this many


def ingest_options(cfg: InputConfig) -> IngestOptions:
    """The reader options of the `[input]` config section."""
    fields = set(IngestOptions.__dataclass_fields__)
    return IngestOptions(**{k: v for k, v in asdict(cfg).items() if k in fields})


def read_records(spark, plan: InputPlan, cfg: InputConfig):
    """A DataFrame of every record of the plan's files (RECORD_SCHEMA_DDL), one task per file."""
    from pyspark.sql.types import _parse_datatype_string

    schema = _parse_datatype_string(RECORD_SCHEMA_DDL)
    files = [(f.uri, f.source, f.source_key, f.format, f.split) for f in plan.files]
    opts = ingest_options(cfg)
    rdd = spark.sparkContext.parallelize(files, max(1, len(files)))
    files_df = spark.createDataFrame(rdd, "uri string, source string, source_key string, "
                                          "format string, split string")
    out_arrow = arrow_schema(schema)

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for row in batch.to_pylist():
                yield from _file_batches(row, opts, out_arrow)

    return files_df.mapInArrow(run, schema)


def _file_batches(row: dict, opts: IngestOptions, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    rows: list[dict] = []
    for record in read_file(row["uri"], row["format"], opts):
        rows.append(_row(record, row))
        if len(rows) >= _ROWS_PER_BATCH:
            yield pa.RecordBatch.from_pylist(rows, schema=schema)
            rows = []
    if rows:
        yield pa.RecordBatch.from_pylist(rows, schema=schema)


def read_file(uri: str, fmt: str, opts: IngestOptions) -> Iterator[Record]:
    """Every Record of one file; an unreadable file yields one dropped Record instead."""
    reader = reader_for(fmt)
    yielded = 0
    try:
        with open_input(uri, fmt) as stream:
            for record in reader(stream, opts):
                yielded += 1
                yield record
    except (OSError, EOFError, ValueError, RuntimeError) as err:
        # A failure outside the reader's own recovery (I/O, a broken compression stream).
        log.warning("cannot read %s after %d records: %s", uri, yielded, err)
        yield Record(locator=f"unreadable:{yielded}", record_type=fmt,
                     drop_reason="ingest.unreadable", detail=f"{type(err).__name__}: {err}"[:500])


def open_input(uri: str, fmt: str) -> BinaryIO:
    """Open `uri` for reading; gz/zst are decompressed here except for WARC/ARC readers."""
    from pyarrow import fs as pafs

    filesystem, path = pafs.FileSystem.from_uri(_pyarrow_uri(uri))
    if fmt == "parquet":
        return filesystem.open_input_file(path)
    compression = None if fmt in RAW_STREAM_FORMATS else "detect"
    native = filesystem.open_input_stream(path, compression=compression)
    # pyarrow streams have no readline(): a buffered Python reader gives line iteration.
    return io.BufferedReader(_NativeRaw(native), buffer_size=1 << 20)


class _NativeRaw(io.RawIOBase):
    """A pyarrow NativeFile seen as a Python raw stream."""

    def __init__(self, native):
        self._native = native

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._native.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._native.close()
        super().close()


def _row(record: Record, file_row: dict) -> dict:
    dropped = record.drop_reason is not None
    return {
        "doc_id": doc_id(file_row["source_key"], record.locator),
        "text": record.text,
        "url": record.url,
        "source": file_row["source"],
        "source_key": file_row["source_key"],
        "source_id": record.source_id,
        "source_uri": file_row["uri"],
        "source_offset": record.source_offset,
        "crawl_ts": record.crawl_ts,
        "content_type": record.content_type,
        "label": record.label,
        "split": record.split or file_row["split"],
        "metadata": record.metadata or None,
        "candidate": record.candidate,
        "record_type": record.record_type,
        "drop_stage": "ingest" if dropped else None,
        "drop_reason": record.drop_reason,
        "detail": record.detail,
    }
