"""JSON Lines: one document per line (an object with a text field)."""
from __future__ import annotations

import json
from typing import BinaryIO, Iterator

from corpusforge.ingest.base import IngestOptions, Record


def read_jsonl(stream: BinaryIO, opts: IngestOptions) -> Iterator[Record]:
    """Yield one Record per non-blank line; bad lines become dropped Records.

    >>> import io
    >>> lines = b'{"text": "hello"}\\n\\nnot json\\n[1]\\n'
    >>> [(r.locator, r.text, r.drop_reason) for r in read_jsonl(io.BytesIO(lines), IngestOptions())]
    [('1', 'hello', None), ('3', None, 'ingest.bad_json'), ('4', None, 'ingest.not_object')]
    """
    for line_number, raw in enumerate(stream, start=1):
        if not raw.strip():
            continue
        record = Record(locator=str(line_number), source_offset=line_number, record_type="jsonl")
        if len(raw) > opts.max_record_bytes:
            yield _dropped(record, "ingest.too_large", f"{len(raw)} bytes")
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            yield _dropped(record, "ingest.undecodable", f"invalid UTF-8 at byte {err.start}")
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            yield _dropped(record, "ingest.bad_json", err.msg)
            continue
        if not isinstance(obj, dict):
            yield _dropped(record, "ingest.not_object", f"a JSON {type(obj).__name__}")
            continue
        yield _from_object(obj, record, opts)


def _from_object(obj: dict, record: Record, opts: IngestOptions) -> Record:
    if opts.id_field and obj.get(opts.id_field) not in (None, ""):
        record.source_id = str(obj[opts.id_field])
        record.locator = record.source_id
    if opts.label_field and obj.get(opts.label_field) is not None:
        record.label = str(obj[opts.label_field])
    record.url = _str_or_none(obj.get("url"))
    record.metadata = {k: _as_text(obj[k]) for k in opts.metadata_fields if obj.get(k) is not None}
    text = obj.get(opts.text_field)
    if not isinstance(text, str):
        return _dropped(record, "ingest.no_text", f"field {opts.text_field!r} missing or not a string")
    record.text = text
    return record


def _dropped(record: Record, reason: str, detail: str) -> Record:
    record.drop_reason, record.detail = reason, detail
    return record


def _str_or_none(value) -> str | None:
    return value if isinstance(value, str) else None


def _as_text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
