"""Plain text: one document per file, or one per non-blank line (`input.text_unit`)."""
from __future__ import annotations

from typing import BinaryIO, Iterator

from corpusforge.ingest.base import IngestOptions, Record


def read_text(stream: BinaryIO, opts: IngestOptions) -> Iterator[Record]:
    """Yield the file as one Record, or one Record per non-blank line.

    >>> import io
    >>> opts = IngestOptions(text_unit="line")
    >>> [(r.locator, r.text) for r in read_text(io.BytesIO(b"a\\n\\nb\\n"), opts)]
    [('1', 'a'), ('3', 'b')]
    """
    if opts.text_unit == "line":
        for line_number, raw in enumerate(stream, start=1):
            if raw.strip():
                yield _decoded(raw.rstrip(b"\r\n"), line_number, opts)
        return
    payload = stream.read(opts.max_record_bytes + 1)
    if len(payload) > opts.max_record_bytes:
        yield Record(locator="0", source_offset=0, record_type="text",
                     drop_reason="ingest.too_large", detail=f"over {opts.max_record_bytes} bytes")
        return
    if payload.strip():
        yield _decoded(payload, 0, opts)


def _decoded(raw: bytes, position: int, opts: IngestOptions) -> Record:
    record = Record(locator=str(position), source_offset=position, record_type="text")
    try:
        record.text = raw.decode(opts.encoding)
    except UnicodeDecodeError as err:
        record.drop_reason = "ingest.undecodable"
        record.detail = f"invalid {opts.encoding} at byte {err.start}"
    return record
