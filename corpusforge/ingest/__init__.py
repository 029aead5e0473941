"""Readers by input format, and format detection by file extension.

Readers are imported lazily: a task only loads the reader of the formats it reads.
"""
from __future__ import annotations

import importlib
from typing import Callable

# format → "module:function"; every reader follows the contract of ingest/base.py.
READERS = {
    "warc": "corpusforge.ingest.warc:read_warc",
    "wet": "corpusforge.ingest.warc:read_warc",
    "arc": "corpusforge.ingest.warc:read_arc",
    "jsonl": "corpusforge.ingest.jsonl:read_jsonl",
    "text": "corpusforge.ingest.text:read_text",
    "csv": "corpusforge.ingest.tabular:read_csv",
    "tsv": "corpusforge.ingest.tabular:read_tsv",
    "parquet": "corpusforge.ingest.tabular:read_parquet",
}

# Longest suffixes first, so ".warc.gz" wins over ".gz". WARC/ARC readers decompress
# themselves (gzip, and lz4 for WARC through FastWARC).
_SUFFIXES = (
    (".warc.gz", "warc"), (".warc.lz4", "warc"), (".warc", "warc"),
    (".wet.gz", "wet"), (".wet", "wet"), (".wat.gz", "warc"), (".wat", "warc"),
    (".arc.gz", "arc"), (".arc", "arc"),
    (".parquet", "parquet"),
)
# Line-based formats, read plain or through ingest/compressed.py with any of its codecs.
_LINE_SUFFIXES = (
    (".jsonl", "jsonl"), (".ndjson", "jsonl"), (".json", "jsonl"),
    (".csv", "csv"), (".tsv", "tsv"),
    (".txt", "text"), (".text", "text"),
)
_COMPRESSION_SUFFIXES = ("", ".gz", ".zst", ".lz4", ".bz2")

# Formats whose readers decompress (and count byte offsets) themselves.
RAW_STREAM_FORMATS = frozenset({"warc", "wet", "arc"})


def detect_format(path: str) -> str | None:
    """The format of a file by its extension, or None for an unknown one.

    >>> detect_format("crawl/CC-MAIN-1.warc.gz"), detect_format("a.jsonl.zst"), detect_format("LICENSE")
    ('warc', 'jsonl', None)
    >>> detect_format("b.tsv.bz2"), detect_format("c.csv.lz4")
    ('tsv', 'csv')
    """
    lower = path.lower()
    for suffix, fmt in _SUFFIXES:
        if lower.endswith(suffix):
            return fmt
    for compression in _COMPRESSION_SUFFIXES:
        if not lower.endswith(compression):
            continue
        stem = lower[: len(lower) - len(compression)]
        for suffix, fmt in _LINE_SUFFIXES:
            if stem.endswith(suffix):
                return fmt
    return None


def reader_for(fmt: str) -> Callable:
    """Import and return the reader function of format `fmt`."""
    module_name, _, function = READERS[fmt].partition(":")
    return getattr(importlib.import_module(module_name), function)
