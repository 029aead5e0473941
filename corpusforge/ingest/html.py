"""HTML bytes → Unicode → plain text: charset resolution and main-content extraction.

The charset order is the one browsers use, HTTP first: the `charset` of the HTTP
Content-Type, then a byte-order mark, then `<meta charset>` / `http-equiv` in the first
few KB, then statistical detection (uchardet through resiliparse). A declared charset is
only used when the bytes decode under it without errors, so a wrong label falls through to
the next source instead of producing mojibake.

Labels are resolved with the WHATWG Encoding Standard's table (resiliparse's
`map_encoding_to_html5`) and detection is uchardet (resiliparse's `detect_encoding`).
w3lib's `html_to_unicode` was weighed against this and not taken: its label resolution is
Python's codec aliases plus a short table, so WHATWG labels that real pages use (`x-gbk`,
`x-euc-jp`, `windows-949`, `x-mac-roman`) resolve to nothing, and it decodes with the first
declared charset using replacement characters, so a mislabelled page becomes mojibake where
this module falls through to the next candidate.

Extraction is behind one function, `html_to_text(html, extractor)`, so the extractor is a
config value ('resiliparse' by default, 'trafilatura' as the alternative); the choice was
measured in benchmarks/compare_readers.py.
"""
from __future__ import annotations

from collections.abc import Iterator

import codecs
import re
from dataclasses import dataclass

from resiliparse.parse.encoding import detect_encoding, map_encoding_to_html5

from corpusforge.errors import ConfigError

EXTRACTORS = ("resiliparse", "trafilatura")

# Browsers look for <meta charset> in the first 1024 bytes; pages with long <head>
# boilerplate put it later, so we look a little further.
META_SNIFF_BYTES = 4096
# Share of U+FFFD tolerated when no charset decodes cleanly: a few bad bytes in a long page
# are damage we keep; more means we are guessing the charset and would store mojibake.
MAX_REPLACEMENT_RATIO = 0.001

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:\-]+)""", re.IGNORECASE)
_CT_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([A-Za-z0-9_.:\-]+)""", re.IGNORECASE)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Labels that are subsets of a wider encoding in practice: decoding with the superset
# never loses characters that servers emit under the narrower label.
_SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "ascii": "cp1252",
    "latin-1": "cp1252",
    "iso8859-1": "cp1252",
    "euc_kr": "cp949",
    "shift_jis": "cp932",
}


@dataclass(frozen=True, kw_only=True)
class DecodedHtml:
    """Unicode text of a page and where its charset came from."""

    text: str
    encoding: str  # Python codec name actually used
    charset_source: str  # bom | http | meta | detected | fallback


def normalize_charset(label: str | None) -> str | None:
    """Map a charset label to the Python codec to decode it with, or None if unknown.

    Labels go through the WHATWG mapping first (so 'latin1', 'x-gbk', 'utf8' are
    understood), then to a superset codec where servers mislabel the narrower one.

    >>> normalize_charset("GB2312")
    'gb18030'
    >>> normalize_charset("utf8")
    'utf-8'
    >>> normalize_charset("no-such-charset") is None
    True
    >>> normalize_charset("cp949"), normalize_charset("x-mac-roman")
    ('cp949', 'mac-roman')
    """
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    if not label:
        return None
    try:
        python_knows_label = bool(codecs.lookup(label))
    except LookupError:
        python_knows_label = False
    mapped = map_encoding_to_html5(label)
    # The WHATWG mapping answers 'utf-8' for labels it does not know; only believe that
    # when the label really is a UTF-8 alias. A label only Python knows (cp949, big5hkscs,
    # mac_roman) is decoded with Python's codec of that name.
    if mapped == "utf-8":
        if not python_knows_label:
            return None
        mapped = label  # a UTF-8 alias is still utf-8 below; cp949 stays cp949
    try:
        codec_name = codecs.lookup(mapped).name
    except LookupError:
        return None
    return _SUPERSETS.get(codec_name, codec_name)


def charset_from_content_type(content_type: str | None) -> str | None:
    """The raw charset label of an HTTP Content-Type value, or None.

    >>> charset_from_content_type('text/html; charset="GBK"')
    'GBK'
    >>> charset_from_content_type("text/html") is None
    True
    """
    if not content_type:
        return None
    match = _CT_CHARSET.search(content_type)
    return match.group(1) if match else None


def sniff_meta_charset(body: bytes, limit: int = META_SNIFF_BYTES) -> str | None:
    """The charset label of `<meta charset>` or `<meta http-equiv content=...charset=>`.

    >>> sniff_meta_charset(b'<html><head><meta charset="gb2312"></head>')
    'gb2312'
    >>> sniff_meta_charset(b'<meta http-equiv="Content-Type" content="text/html; charset=windows-1251">')
    'windows-1251'
    """
    match = _META_CHARSET.search(body[:limit])
    return match.group(1).decode("ascii") if match else None


def _strict(body: bytes, encoding: str) -> str | None:
    try:
        return body.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def decode_html(body: bytes, http_content_type: str | None = None) -> DecodedHtml | None:
    """Decode an HTML (or text) payload; None when no charset gives clean enough text.

    >>> decode_html("<p>中文</p>".encode("gbk"), "text/html; charset=gb2312").text
    '<p>中文</p>'
    >>> decode_html(b"<meta charset=utf-8><p>caf\\xc3\\xa9</p>").charset_source
    'meta'
    """
    bom_encoding = None
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            # A BOM is unambiguous and overrides labels (WHATWG "BOM sniffing").
            bom_encoding, body = encoding, body[len(bom):]
            break
    candidates: list[tuple[str, str]] = []
    tried: set[str] = set()
    for encoding, source in _charset_candidates(body, bom_encoding, http_content_type):
        candidates.append((encoding, source))
        if encoding in tried:
            continue
        tried.add(encoding)
        text = _strict(body, encoding)
        if text is not None:
            return DecodedHtml(text=text, encoding=encoding, charset_source=source)
    # Nothing decodes cleanly: keep the first candidate that loses only a few bytes.
    for encoding, source in candidates:
        try:
            text = body.decode(encoding, errors="replace")
        except LookupError:
            continue
        if text.count("\ufffd") <= MAX_REPLACEMENT_RATIO * max(len(text), 1):
            return DecodedHtml(text=text, encoding=encoding, charset_source=source)
    return None


def _charset_candidates(body: bytes, bom_encoding: str | None,
                        http_content_type: str | None) -> Iterator[tuple[str, str]]:
    """Charsets to try, in order; detection runs only when every declared one failed, since
    it costs about a quarter of the reader's time and most pages declare a charset that works."""
    if bom_encoding:
        yield bom_encoding, "bom"
    http_encoding = normalize_charset(charset_from_content_type(http_content_type))
    if http_encoding:
        if http_encoding == "cp1252" and not body.isascii() and _strict(body, "utf-8") is not None:
            # Servers default to latin-1 for pages that are really UTF-8; valid non-ASCII
            # UTF-8 is almost never intended cp1252 text.
            yield "utf-8", "http"
        yield http_encoding, "http"
    meta_encoding = normalize_charset(sniff_meta_charset(body))
    if meta_encoding:
        yield meta_encoding, "meta"
    detected = normalize_charset(detect_encoding(body))
    if detected:
        yield detected, "detected"
    yield "utf-8", "fallback"


def html_to_text(html: str, extractor: str = "resiliparse") -> str:
    """Main-content plain text of an HTML page ('' when there is none).

    >>> html_to_text("<html><body><main><p>Hello, world. This is a page.</p></main></body></html>")
    'Hello, world. This is a page.'
    """
    if extractor == "resiliparse":
        from resiliparse.extract.html2text import extract_plain_text

        return extract_plain_text(html, main_content=True).strip()
    if extractor == "trafilatura":
        import trafilatura

        return (trafilatura.extract(html, include_comments=False) or "").strip()
    raise ConfigError(f"unknown html_extractor {extractor!r}; expected one of {list(EXTRACTORS)}")
