"""The dedup key: the canonical form of a text that exact and near dedup compare.

It is independent of how the stored text is normalized (DESIGN.md, "Dedup key"): NFKC,
case-folded, traditional → simplified Chinese, punctuation and symbols removed, runs of
whitespace collapsed to one space. Its recipe is versioned; the cross-run indexes store the
version and refuse to compare keys of another one.
"""
from __future__ import annotations

import functools
import hashlib
import re
import unicodedata

import numpy as np

from corpusforge.text.zh import to_simplified

DEDUP_KEY_VERSION = 1  # bump when dedup_key() changes; indexes of older versions are refused


# Punctuation and symbols separate words (they become a space); control and format
# characters (zero-width space, soft hyphen, ...) are invisible and vanish, as they do in
# normalize's strip_control, so that step cannot change the key.
def _key_char(char: str) -> str:
    if char.isspace():
        return " "
    category = unicodedata.category(char)
    if category in ("Cc", "Cf"):
        return ""
    return " " if category[0] in ("P", "S") else char


def _ascii_tables() -> tuple[bytes, bytes]:
    """`_key_char` of the ASCII characters as `bytes.translate`'s (table, delete)."""
    table, delete = bytearray(range(256)), bytearray()
    for code in range(128):
        value = _key_char(chr(code))
        if value:
            table[code] = ord(value)
        else:
            delete.append(code)
    return bytes(table), bytes(delete)


# ASCII text (most English) is keyed in bytes: NFKC and traditional → simplified leave it alone,
# casefold is lower() there, and bytes.translate applies `_key_char` from a 256-entry table
# instead of a dict lookup per character (the key ≈ 3.5x faster on ASCII texts).
_ASCII_TABLE, _ASCII_DELETE = _ascii_tables()

# Compatibility characters of everyday text whose NFKC form is plain ASCII: the full-width forms
# (，？！（） are the norm in Chinese), the ideographic and no-break spaces, the ellipsis and the
# superscript digits. One of them sends unicodedata.normalize down its slow path for the whole
# text (≈ 10x its quick check); replaced first, most texts pass the quick check. Replacing a
# character by its own compatibility decomposition never changes the NFKC form of the text.
_ASCII_COMPAT = {char: unicodedata.normalize("NFKC", char) for char in (
    *map(chr, range(0xFF01, 0xFF5F)), "\u3000", "\u00a0", "\u2026", "\u00b9", "\u00b2", "\u00b3", "\u00aa", "\u00ba")}
_ASCII_COMPAT_CHAR = re.compile("[" + re.escape("".join(_ASCII_COMPAT)) + "]")


def _nfkc(text: str) -> str:
    """`unicodedata.normalize("NFKC", text)`, with `_ASCII_COMPAT` replaced first.

    >>> _nfkc("好，很好！…ｘ²") == unicodedata.normalize("NFKC", "好，很好！…ｘ²") == "好,很好!...x2"
    True
    """
    if unicodedata.is_normalized("NFKC", text):
        return text
    for char in set(_ASCII_COMPAT_CHAR.findall(text)):  # a few distinct ones, each many times
        text = text.replace(char, _ASCII_COMPAT[char])
    return unicodedata.normalize("NFKC", text)


_KEPT, _SPACE, _REMOVED = 0, 1, 2


def _kind_of(codepoint: int) -> int:
    value = _key_char(chr(codepoint))
    return _KEPT if value == chr(codepoint) else _SPACE if value == " " else _REMOVED


@functools.cache
def _bmp_kinds() -> np.ndarray:
    """`_key_char` of every code point of the Basic Multilingual Plane, as one of the three
    kinds; built on the first non-ASCII text, not at import (65,536 calls)."""
    return np.array([_kind_of(c) for c in range(0x10000)], dtype=np.uint8)


_astral_kind = functools.cache(_kind_of)  # the few code points beyond the BMP a corpus holds


def _spaced(folded: str) -> str:
    """`_key_char` of every character of `folded`, for text beyond ASCII (`dedup_key` keys ASCII
    in bytes): all the code points are looked up at once in `_bmp_kinds()`, ≈ 1.7x faster on the
    e2e corpus than `str.translate` with a table; the few beyond the BMP (emoji, CJK extension B)
    one by one.

    >>> _spaced("a—b\u200bc😀d") == "".join(map(_key_char, "a—b\u200bc😀d")) == "a b" + "c d"
    True
    """
    points = np.frombuffer(folded.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    kinds = _bmp_kinds()[np.minimum(points, 0xFFFF)]
    for at in np.flatnonzero(points > 0xFFFF):
        kinds[at] = _astral_kind(int(points[at]))
    if not kinds.any():
        return folded
    points = np.where(kinds == _SPACE, np.uint32(ord(" ")), points)[kinds != _REMOVED]
    return points.tobytes().decode("utf-32-le", "surrogatepass")


def dedup_key(text: str) -> str:
    """Return the canonical form of `text` used by exact and MinHash dedup.

    >>> dedup_key("  Hello,   WORLD!\\n\\nＨｅｌｌｏ…")
    'hello world hello'
    >>> dedup_key("開放中文轉換。") == dedup_key("开放中文转换")
    True
    >>> dedup_key("zero\u200bwidth")
    'zerowidth'

    """
    if text.isascii():
        return " ".join(text.encode("ascii").lower().translate(_ASCII_TABLE, _ASCII_DELETE).decode("ascii").split())
    folded = to_simplified(_nfkc(text)).casefold()
    return " ".join(_spaced(folded).split())


def text_hash(key: str) -> str:
    """Hex BLAKE2b-128 of a dedup key (the `text_hash` column).

    >>> len(text_hash("hello world"))
    32
    """
    return hashlib.blake2b(key.encode("utf-8"), digest_size=16).hexdigest()


def doc_id(source_key: str, locator: str) -> str:
    """The stable id of a document: BLAKE2b-128 of source key, NUL, locator (DESIGN.md).

    >>> doc_id("sample/a.jsonl", "3") == doc_id("sample/a.jsonl", "3")
    True
    """
    payload = f"{source_key}\x00{locator}".encode("utf-8")
    return hashlib.blake2b(payload, digest_size=16).hexdigest()
