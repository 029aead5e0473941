"""WARC / WET / ARC → Records, streaming, one record in memory at a time (at most the cap).

Two backends sit behind one small interface (`_RawRecord` iterators): FastWARC (default,
measured faster, reads plain / gzip / lz4 WARC and whole-file gzip) and warcio
(`opts.warc_reader="warcio"`; the only one that reads ARC). Everything after the raw
record — HTTP parsing, transfer/content decoding, the size cap, truncation checks,
charset and extraction — is shared code, so both backends give the same Records on
well-formed input.

Damage policy (what "never raises, never silently lost" means here):
- a record whose data ends before its Content-Length → `ingest.truncated_record`;
- a record whose bytes cannot be decompressed/read → `ingest.corrupt_record`;
- a payload over `opts.max_record_bytes` → `ingest.too_large` (read only cap + 1 bytes);
- when the backend cannot parse the next record at all, one `ingest.unreadable` Record at
  the offset where reading stopped; on a seekable stream we then scan for the next record
  start (a `WARC/1.x` line, or a gzip member that opens with one) and read on from there.
"""
from __future__ import annotations

import io
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, BinaryIO

from corpusforge.errors import ConfigError
from corpusforge.ingest.base import IngestOptions, Record
from corpusforge.ingest.html import decode_html, html_to_text

NON_CANDIDATE_TYPES = frozenset({"request", "metadata", "warcinfo", "revisit", "continuation"})
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "application/xml+xhtml"})
# text/* that are code or data rather than prose documents.
NON_DOCUMENT_TEXT_TYPES = frozenset(
    {"text/css", "text/javascript", "text/x-javascript", "text/ecmascript", "text/dns", "text/csv"}
)
MAX_HTTP_HEAD_BYTES = 64 << 10  # an HTTP header block longer than this is not a real one
_READ_CHUNK = 1 << 16
_SCAN_CHUNK = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b\x08"
_LZ4_MAGIC = b"\x04\x22\x4d\x18"
_WARC_MAGIC = re.compile(rb"WARC/1\.[01]\r?\n")
_ARC_MAGIC = b"filedesc://"
# Errors that mean "the next record cannot be parsed": FastWARC raises OSError, zlib
# zlib.error; see _is_reader_failure for the two that need naming.
_BACKEND_ERRORS: tuple[type[BaseException], ...] = (OSError, ValueError, EOFError, zlib.error)


@dataclass(frozen=True, kw_only=True)
class _RawRecord:
    """What a backend hands over: WARC headers (lower-cased names) and the block reader."""

    offset: int
    headers: dict[str, str]
    content_length: int | None
    block: Any  # .read(n) -> bytes, positioned at the start of the record block


@dataclass(kw_only=True)
class _Payload:
    body: bytes = b""
    content_type: str | None = None  # full Content-Type value of the payload
    http_status: int | None = None
    drop_reason: str | None = None
    detail: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------- metadata helpers


def parse_warc_date(value: str | None) -> datetime | None:
    """WARC-Date (ISO 8601, or ARC's 14 digits) as an aware UTC datetime; None if malformed.

    >>> parse_warc_date("2017-03-06T04:03:53Z")
    datetime.datetime(2017, 3, 6, 4, 3, 53, tzinfo=datetime.timezone.utc)
    >>> parse_warc_date("2008-10-294T05:21:46-0700") is None
    True
    """
    if not value:
        return None
    value = value.strip()
    try:
        if value.isdigit() and len(value) == 14:
            parsed = datetime.strptime(value, "%Y%m%d%H%M%S")
        else:
            parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        # WARC dates are UTC by definition; a missing zone is a writer's shortcut.
        return parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def clean_target_uri(value: str | None) -> str | None:
    """WARC-Target-URI without the `<...>` of WARC 1.1 drafts and with spaces escaped.

    >>> clean_target_uri(" <http://example.com/a b> ")
    'http://example.com/a%20b'
    """
    if value is None:
        return None
    value = value.strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1].strip()
    return value.replace(" ", "%20") or None


def _mime(content_type: str | None) -> str | None:
    if not content_type:
        return None
    mime = content_type.split(";", 1)[0].strip().lower()
    return mime or None


# ---------------------------------------------------------------- payload decoding


def _read_upto(reader: Any, limit: int) -> bytes:
    """Read at most `limit` bytes, in chunks, stopping early at end of data."""
    parts: list[bytes] = []
    remaining = limit
    while remaining > 0:
        chunk = reader.read(min(remaining, _READ_CHUNK))
        if not chunk:
            break
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


def _split_http_head(reader: Any) -> tuple[bytes, bytes, int]:
    """Read an HTTP header block: (head, start of body, bytes of the blank-line separator)."""
    buffer = b""
    while len(buffer) < MAX_HTTP_HEAD_BYTES:
        chunk = reader.read(4096)
        if not chunk:
            break
        buffer += chunk
        for separator in (b"\r\n\r\n", b"\n\n"):
            end = buffer.find(separator)
            if end >= 0:
                return buffer[:end], buffer[end + len(separator):], len(separator)
    return buffer, b"", 0


def _parse_http_head(head: bytes) -> tuple[int | None, dict[str, str]]:
    lines = head.replace(b"\r\n", b"\n").split(b"\n")
    status: int | None = None
    parts = lines[0].split(None, 2)
    if len(parts) >= 2 and parts[1].isdigit():
        status = int(parts[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if sep and name.strip():
            # latin-1 keeps every byte; header values are ASCII in practice.
            headers[name.strip().decode("latin-1").lower()] = value.strip().decode("latin-1")
    return status, headers


def _dechunk(body: bytes) -> bytes | None:
    """Undo HTTP chunked transfer coding; None when `body` is not validly chunked."""
    out: list[bytes] = []
    position = 0
    while True:
        line_end = body.find(b"\n", position)
        if line_end < 0:
            return None
        size_text = body[position:line_end].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            return None
        if size == 0:
            return b"".join(out)
        start = line_end + 1
        if start + size > len(body):
            # A chunk cut off by the end of the record: keep what is there.
            out.append(body[start:])
            return b"".join(out)
        out.append(body[start:start + size])
        position = start + size
        if body[position:position + 2] == b"\r\n":
            position += 2
        elif body[position:position + 1] == b"\n":
            position += 1


def _decompress(body: bytes, encoding: str, cap: int) -> tuple[bytes | None, bool]:
    """(decoded body or None if it is not really encoded, True if it exceeds the cap)."""
    if encoding in ("gzip", "x-gzip", "deflate"):
        # wbits 47 reads gzip and zlib headers; -15 is raw deflate that some servers send.
        for wbits in (47, -15):
            decompressor = zlib.decompressobj(wbits)
            try:
                data = decompressor.decompress(body, cap + 1)
            except zlib.error:
                continue
            return data, len(data) > cap
        return None, False
    if encoding == "zstd":
        import zstandard

        try:
            reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(body))
            data = _read_upto(reader, cap + 1)
        except zstandard.ZstdError:
            return None, False
        return data, len(data) > cap
    return None, False


def _read_payload(raw: _RawRecord, opts: IngestOptions, is_http: bool) -> _Payload:
    cap = opts.max_record_bytes
    payload = _Payload(content_type=raw.headers.get("content-type"))
    head_length = 0
    http_headers: dict[str, str] = {}
    if is_http:
        head, body_start, separator_length = _split_http_head(raw.block)
        payload.http_status, http_headers = _parse_http_head(head)
        payload.content_type = http_headers.get("content-type") or raw.headers.get(
            "warc-identified-payload-type"
        )
        head_length = len(head) + separator_length
        body = body_start + _read_upto(raw.block, max(cap + 1 - len(body_start), 0))
    else:
        body = _read_upto(raw.block, cap + 1)
    if len(body) > cap:
        payload.drop_reason = "ingest.too_large"
        payload.detail = f"payload over max_record_bytes={cap}"
        return payload
    if raw.content_length is not None and head_length + len(body) < raw.content_length:
        # The data ended before Content-Length: a clipped file or a wrong length.
        payload.drop_reason = "ingest.truncated_record"
        payload.detail = f"block has {head_length + len(body)} of {raw.content_length} bytes"
        return payload
    if "chunked" in http_headers.get("transfer-encoding", "").lower():
        # Archives often store the de-chunked body but keep the header: only undo valid chunking.
        dechunked = _dechunk(body)
        if dechunked is not None:
            body = dechunked
    content_encoding = http_headers.get("content-encoding", "").strip().lower()
    if content_encoding and content_encoding != "identity":
        decoded, over_cap = _decompress(body, content_encoding, cap)
        if over_cap:
            payload.drop_reason = "ingest.too_large"
            payload.detail = f"decoded payload over max_record_bytes={cap}"
            return payload
        if decoded is not None:
            body = decoded
    payload.body = body
    return payload


def _sniff_html(body: bytes) -> bool:
    start = body[:1024].lstrip().lower()
    return start.startswith((b"<!doctype html", b"<html")) or b"<html" in start


def _payload_to_text(payload: _Payload, opts: IngestOptions, treat_as_text: bool) -> tuple[str | None, str | None, str | None]:
    """(text, drop_reason, detail) for a payload that passed the size/truncation checks."""
    mime = _mime(payload.content_type)
    is_html = mime in HTML_TYPES or (mime is None and _sniff_html(payload.body))
    is_text = treat_as_text or (
        mime is not None and mime.startswith("text/") and mime not in NON_DOCUMENT_TEXT_TYPES
    )
    if not payload.body.strip():
        return None, "ingest.no_text", "empty payload"
    if not is_html and not is_text:
        return None, "ingest.not_text", f"content type {mime or 'unknown'}"
    decoded = decode_html(payload.body, payload.content_type)
    if decoded is None:
        return None, "ingest.undecodable", "no charset decodes the payload"
    payload.metadata["charset"] = decoded.encoding
    payload.metadata["charset_source"] = decoded.charset_source
    if is_html:
        try:
            text = html_to_text(decoded.text, opts.html_extractor)
        except ConfigError:
            raise
        except Exception as error:  # noqa: BLE001 - an extractor bug on one page must not stop a file
            return None, "ingest.extract_failed", f"{type(error).__name__}: {error}"[:200]
    else:
        text = decoded.text.strip()
    if not text:
        return None, "ingest.no_text", "extraction is empty" if is_html else "empty text"
    return text, None, None


def _to_record(raw: _RawRecord, opts: IngestOptions, locator: str) -> Record:
    headers = raw.headers
    warc_type = (headers.get("warc-type") or "unknown").strip().lower()
    record = Record(
        locator=locator,
        record_type=warc_type,
        url=clean_target_uri(headers.get("warc-target-uri")),
        crawl_ts=parse_warc_date(headers.get("warc-date")),
        source_id=headers.get("warc-record-id"),
        source_offset=raw.offset,
    )
    if warc_type not in ("response", "resource", "conversion"):
        # Not a document candidate (request/metadata/warcinfo/revisit, or a type we do
        # not know such as 'continuation'): counted by type, block left unread.
        record.candidate = False
        record.content_type = _mime(headers.get("content-type"))
        return record
    if "warc-truncated" in headers:
        # The crawler cut the payload on purpose and said so: the record is intact as stored.
        record.metadata["warc_truncated"] = headers["warc-truncated"]
    is_http = warc_type == "response" and "application/http" in headers.get("content-type", "http").lower()
    try:
        payload = _read_payload(raw, opts, is_http)
    except _BACKEND_ERRORS as error:
        record.drop_reason = "ingest.corrupt_record"
        record.detail = f"{type(error).__name__}: {error}"[:200]
        return record
    record.content_type = _mime(payload.content_type)
    if payload.http_status is not None:
        record.metadata["http_status"] = str(payload.http_status)
    if payload.drop_reason:
        record.drop_reason, record.detail = payload.drop_reason, payload.detail
        return record
    if payload.http_status is not None and not 200 <= payload.http_status < 300:
        # Redirects and error pages carry server boilerplate, not the page's content.
        record.drop_reason = "ingest.http_status"
        record.detail = f"HTTP {payload.http_status}"
        return record
    text, reason, detail = _payload_to_text(payload, opts, treat_as_text=warc_type == "conversion")
    record.metadata.update(payload.metadata)
    record.text, record.drop_reason, record.detail = text, reason, detail
    return record


# ---------------------------------------------------------------- backends


class _ForwardReader:
    """read/tell over the caller's stream from `start`; never seeks or closes it.

    FastWARC asks its input for tell() (io.RawIOBase pipes answer that by seeking, which
    fails) and closes it when done; the caller owns the stream, so neither may happen.
    `prefix` holds bytes already read from the stream to look at the file's first bytes.
    """

    def __init__(self, stream: BinaryIO, start: int, prefix: bytes = b"") -> None:
        self._stream = stream
        self._position = start
        self._prefix = prefix

    def read(self, size: int = -1) -> bytes:
        if self._prefix:
            if size is None or size < 0:
                data, self._prefix = self._prefix + self._stream.read(), b""
            else:
                data, self._prefix = self._prefix[:size], self._prefix[size:]
        else:
            data = self._stream.read(size)
        self._position += len(data)
        return data

    def tell(self) -> int:
        return self._position

    def close(self) -> None:
        """The caller closes its own stream."""


def _iter_fastwarc(stream: Any) -> Iterator[_RawRecord]:
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    for warc_record in ArchiveIterator(stream, record_types=WarcRecordType.any_type, parse_http=False):
        # stream_pos must be read now: it follows the reader as the block is consumed.
        offset = warc_record.stream_pos
        headers = {name.lower(): value for name, value in warc_record.headers.items()}
        yield _RawRecord(
            offset=offset,
            headers=headers,
            content_length=warc_record.content_length,
            block=warc_record.reader,
        )


def _iter_warcio(stream: Any) -> Iterator[_RawRecord]:
    from warcio.archiveiterator import ArchiveIterator

    iterator = ArchiveIterator(stream, no_record_parse=True, arc2warc=True)
    for warc_record in iterator:
        headers = {name.lower(): value for name, value in warc_record.rec_headers.headers}
        if warc_record.format.startswith("arc") and warc_record.rec_type == "response":
            headers.setdefault("content-type", "application/http; msgtype=response")
        yield _RawRecord(
            # get_record_offset() would read the record to its end first; `offset` is the
            # same number, known before the block is read.
            offset=iterator.offset,
            headers=headers,
            content_length=warc_record.length,
            block=warc_record.raw_stream,
        )


_BACKENDS: dict[str, Callable[[Any], Iterator[_RawRecord]]] = {
    "fastwarc": _iter_fastwarc,
    "warcio": _iter_warcio,
}


# ---------------------------------------------------------------- damage and resync


def _seekable(stream: BinaryIO) -> bool:
    try:
        return bool(stream.seekable())
    except (AttributeError, OSError, ValueError):
        return False


def _container(head: bytes) -> str:
    if head.startswith(_GZIP_MAGIC):
        return "gzip"
    if head.startswith(_LZ4_MAGIC):
        return "lz4"
    return "plain"


def _first_decompressed_bytes(head: bytes, container: str) -> bytes:
    if container != "gzip":
        return head
    try:
        return zlib.decompressobj(31).decompress(head, 64)
    except zlib.error:
        return b""


def _end_of_record(stream: BinaryIO, offset: int, container: str, content_length: int | None) -> int | None:
    """Byte offset just past the record at `offset`, or None when it cannot be told."""
    stream.seek(offset)
    if container == "gzip":
        decompressor = zlib.decompressobj(31)
        consumed = 0
        while not decompressor.eof:
            chunk = stream.read(_READ_CHUNK)
            if not chunk:
                return None
            try:
                decompressor.decompress(chunk)
            except zlib.error:
                return None
            consumed += len(chunk)
        return offset + consumed - len(decompressor.unused_data)
    if container == "plain" and content_length is not None:
        head = stream.read(MAX_HTTP_HEAD_BYTES)
        end = head.find(b"\r\n\r\n")
        if end < 0:
            return None
        return offset + end + 4 + content_length + 4
    return None


def _find_next_record(stream: BinaryIO, start: int, container: str) -> int | None:
    """Offset of the next plausible record start at or after `start`, scanning in chunks."""
    position = start
    while True:
        stream.seek(position)
        chunk = stream.read(_SCAN_CHUNK)
        if not chunk:
            return None
        if container == "gzip":
            search_from = 0
            while (found := chunk.find(_GZIP_MAGIC, search_from)) >= 0:
                # Three magic bytes occur by chance inside compressed data: a member only
                # counts when it really decompresses to a WARC header.
                stream.seek(position + found)
                if _first_decompressed_bytes(stream.read(512), "gzip").startswith(b"WARC/1."):
                    return position + found
                search_from = found + 1
        else:
            match = _WARC_MAGIC.search(chunk)
            if match:
                return position + match.start()
        if len(chunk) < _SCAN_CHUNK:
            return None
        position += len(chunk) - 16  # overlap, so a magic across the chunk edge is seen


def _unreadable(offset: int, detail: str) -> Record:
    return Record(
        locator=f"{offset}!unreadable",
        record_type="unreadable",
        source_offset=offset,
        drop_reason="ingest.unreadable",
        detail=detail[:300],
    )


# ---------------------------------------------------------------- public readers


def _is_reader_failure(error: BaseException) -> bool:
    """Errors that mean the backend cannot parse the next record (not our bugs)."""
    if isinstance(error, _BACKEND_ERRORS):
        return True
    # warcio's ArchiveLoadFailed derives from Exception; a Rust panic inside FastWARC
    # surfaces as pyo3's PanicException, a BaseException. Both are damage in the file.
    return type(error).__name__ in ("ArchiveLoadFailed", "PanicException")


def _read_with(
    backend: Callable[[Any], Iterator[_RawRecord]],
    stream: BinaryIO,
    opts: IngestOptions,
    prefix: bytes,
    container: str,
) -> Iterator[Record]:
    seekable = _seekable(stream)
    start = stream.tell() if seekable else 0
    used_locators: set[str] = set()
    last_offset = -1
    ordinal = 0
    resume_at = start
    source: Any = _ForwardReader(stream, start, prefix)
    while True:
        last_good: _RawRecord | None = None
        try:
            for raw in backend(source):
                ordinal += 1
                locator = str(raw.offset)
                if raw.offset <= last_offset or locator in used_locators:
                    # Several records in one gzip member (whole-file gzip): the member offset
                    # is shared, so the record's ordinal keeps the locator unique and stable.
                    locator = f"{raw.offset}#{ordinal}"
                used_locators.add(locator)
                last_offset = max(last_offset, raw.offset)
                last_good = raw
                yield _to_record(raw, opts, locator)
            return
        except BaseException as error:  # noqa: BLE001 - narrowed by _is_reader_failure
            if not _is_reader_failure(error):
                raise
            failure = f"{type(error).__name__}: {' '.join(str(error).split())}"
        stopped_at = resume_at
        if last_good is not None:
            stopped_at = last_good.offset
            if seekable:
                end = _end_of_record(stream, last_good.offset, container, last_good.content_length)
                stopped_at = end if end is not None and end > last_good.offset else last_good.offset + 1
        next_start = None
        if seekable and container != "lz4":
            next_start = _find_next_record(stream, max(stopped_at, resume_at + 1), container)
        if next_start is None:
            yield _unreadable(stopped_at, f"{failure}; no readable record after offset {stopped_at}")
            return
        yield _unreadable(
            stopped_at, f"{failure}; skipped {next_start - stopped_at} bytes, resumed at offset {next_start}"
        )
        stream.seek(next_start)
        resume_at = next_start
        source = _ForwardReader(stream, next_start)


def _head(stream: BinaryIO) -> bytes:
    """The first bytes of the stream, read once; the readers replay them."""
    return stream.read(512)


def read_warc(stream: BinaryIO, opts: IngestOptions) -> Iterator[Record]:
    """Records of a WARC/WET file (plain, per-record or whole-file gzip, lz4), streaming.

    `opts.warc_reader` picks the backend ('fastwarc' default, 'warcio'). An ARC file
    handed to this reader is recognised by its first bytes and read as ARC.

    >>> import io
    >>> data = (b"WARC/1.0\\r\\nWARC-Type: conversion\\r\\nWARC-Record-ID: <urn:uuid:1>\\r\\n"
    ...         b"WARC-Date: 2024-05-01T10:00:00Z\\r\\nContent-Type: text/plain\\r\\n"
    ...         b"Content-Length: 11\\r\\n\\r\\nHello world\\r\\n\\r\\n")
    >>> [(r.record_type, r.text, r.locator) for r in read_warc(io.BytesIO(data), IngestOptions())]
    [('conversion', 'Hello world', '0')]
    """
    if opts.warc_reader not in _BACKENDS:
        raise ConfigError(f"unknown warc_reader {opts.warc_reader!r}; expected one of {sorted(_BACKENDS)}")
    head, head_for_reader = _peek(stream)
    backend = _BACKENDS[opts.warc_reader]
    if _first_decompressed_bytes(head, _container(head)).startswith(_ARC_MAGIC):
        backend = _iter_warcio
    yield from _read_with(backend, stream, opts, head_for_reader, _container(head))


def _peek(stream: BinaryIO) -> tuple[bytes, bytes]:
    """The first bytes of `stream`, and what of them the reader still has to be given: nothing
    on a seekable stream (it is rewound), the bytes themselves on a pipe."""
    start = stream.tell() if _seekable(stream) else 0
    head = _head(stream)
    if _seekable(stream):
        stream.seek(start)
        return head, b""
    return head, head


def read_arc(stream: BinaryIO, opts: IngestOptions) -> Iterator[Record]:
    r"""Records of an ARC file (plain or gzip) through warcio, which converts them to WARC.

    The ARC file header becomes a `warcinfo` non-candidate; each URL record a `response`.

    >>> import io
    >>> head = b"1 0 test\nURL IP-address Archive-date Content-type Archive-length\n"
    >>> http = b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<p>Hi there.</p>"
    >>> arc = (b"filedesc://x.arc 0.0.0.0 20140216050221 text/plain %d\n" % len(head) + head
    ...        + b"\nhttp://example.com/ 1.2.3.4 20140216050221 text/html %d\n" % len(http) + http + b"\n")
    >>> [(r.record_type, r.candidate, r.text) for r in read_arc(io.BytesIO(arc), IngestOptions())]
    [('warcinfo', False, None), ('response', True, 'Hi there.')]
    """
    head, head_for_reader = _peek(stream)
    yield from _read_with(_iter_warcio, stream, opts, head_for_reader, _container(head))
