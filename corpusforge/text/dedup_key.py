"""The dedup key: the canonical form of a text that exact and near dedup compare.

It is independent of how the stored text is normalized (DESIGN.md, "Dedup key"): NFKC,
case-folded, traditional → simplified Chinese, punctuation and symbols removed, runs of
whitespace collapsed to one space. Its recipe is versioned; the cross-run indexes store the
version and refuse to compare keys of another one.
"""
from __future__ import annotations

import functools
import hashlib
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


class _KeyCharTable(dict):
    """`_key_char` as a `str.translate` table, filled as characters are first met: all of
    Unicode is too large to build up front, and translate does in C what a per-character
    Python call did (3-4x faster on the e2e corpus, benchmarks/RESULTS.md)."""

    def __missing__(self, codepoint: int) -> str:
        self[codepoint] = value = _key_char(chr(codepoint))
        return value


_KEY_CHARS = _KeyCharTable()

_KEPT, _SPACE, _REMOVED = 0, 1, 2


@functools.cache
def _bmp_kinds() -> np.ndarray:
    """`_key_char` of every code point of the Basic Multilingual Plane, as one of the three
    kinds; built on the first non-ASCII text, not at import (65,536 calls)."""
    return np.array([_KEPT if value == char else _SPACE if value == " " else _REMOVED
                     for char, value in ((chr(c), _key_char(chr(c))) for c in range(0x10000))], dtype=np.uint8)


def _spaced(folded: str) -> str:
    """`folded.translate(_KEY_CHARS)`. For text beyond ASCII, translate calls the table once per
    character; a lookup of all the code points at once in `_bmp_kinds()` is ≈ 1.7x faster on the e2e
    corpus. ASCII keeps translate's own fast path, and text with a character beyond the BMP
    (rare: emoji, CJK extension B) takes translate too.

    >>> _spaced("a—b\u200bc") == "a—b\u200bc".translate(_KEY_CHARS) == "a b" + "c"
    True
    """
    if folded.isascii():
        return folded.translate(_KEY_CHARS)
    points = np.frombuffer(folded.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    if points.max() > 0xFFFF:
        return folded.translate(_KEY_CHARS)
    kinds = _bmp_kinds()[points]
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
    folded = to_simplified(unicodedata.normalize("NFKC", text)).casefold()
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
