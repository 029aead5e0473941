"""The reader contract: a reader turns one input file (a binary stream) into Records.

Every format module (warc.py, jsonl.py, text.py, csv.py, parquet.py) exposes one function

    read_<format>(stream: BinaryIO, opts: IngestOptions) -> Iterator[Record]

registered in `READERS` (ingest/__init__.py). Readers are pure Python: no Spark. The Spark
ingest stage (stages/ingest.py) calls them inside tasks (ingest/files.py), one task per input file.

A reader never raises on bad data: a damaged record becomes a Record with `drop_reason`
set (`ingest.<rule>`), and damage it cannot read past ends the file with one Record whose
drop_reason is `ingest.unreadable` and whose `source_offset` is where reading stopped.
Records that are not document candidates (WARC request/metadata/warcinfo/revisit) are
yielded with `candidate=False` so they can be counted in `stats` by `record_type`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

InputFormat = Literal["auto", "warc", "wet", "arc", "jsonl", "parquet", "csv", "text"]


@dataclass(frozen=True, kw_only=True)
class IngestOptions:
    """The `[input]` config section: what the planner and the readers need to know.

    >>> IngestOptions().warc_reader
    'fastwarc'
    """

    format: InputFormat = "auto"  # auto (by file extension) | warc | wet | arc | jsonl | parquet | csv | text
    source: str = ""  # dataset name in source_key/doc_id ('' = the input's base name)
    text_field: str = "text"  # JSONL/Parquet/CSV field holding the text
    id_field: str = ""  # field holding the input's own id ('' = line/row number or byte offset)
    label_field: str = ""  # field holding a class label, carried through to tokens
    metadata_fields: tuple[str, ...] = ()  # further fields kept in the `metadata` column
    text_unit: Literal["file", "line"] = "file"  # plain text: one document per 'file' or per non-blank 'line'
    encoding: str = "utf-8"  # CSV and plain-text encoding
    max_record_bytes: int = 10_000_000  # larger records are dropped as ingest.too_large
    html_extractor: Literal["resiliparse", "trafilatura"] = "resiliparse"  # resiliparse | trafilatura
    warc_reader: Literal["fastwarc", "warcio"] = "fastwarc"  # fastwarc | warcio
    # File-name glob → split, e.g. {"Train_*" = "train", "Test_*" = "test"}; first match wins.
    splits: dict[str, str] = field(default_factory=dict)


@dataclass(kw_only=True)
class Record:
    """One record a reader yields; `locator` is what doc_id hashes (with the source key)."""

    locator: str  # the input's own id, else the byte offset (WARC/ARC) or line/row number
    text: str | None = None
    candidate: bool = True  # False: WARC request/metadata/warcinfo/revisit, counted only
    record_type: str = "document"  # WARC-Type, or the format name for non-WARC inputs
    url: str | None = None
    crawl_ts: datetime | None = None  # WARC-Date (UTC)
    content_type: str | None = None
    source_id: str | None = None  # WARC-Record-ID or the input's own id
    source_offset: int | None = None  # byte offset of the record in the file
    label: str | None = None
    split: str | None = None  # the input's own split, when the file says it
    metadata: dict[str, str] = field(default_factory=dict)
    drop_reason: str | None = None  # ingest.truncated_record, ingest.undecodable, ...
    detail: str | None = None  # a few words on why it was dropped
