"""The dedup key: the canonical form of a text that exact and near dedup compare.

It is independent of how the stored text is normalized (DESIGN.md, "Dedup key"): NFKC,
case-folded, traditional → simplified Chinese, punctuation and symbols removed, runs of
whitespace collapsed to one space. Its recipe is versioned; the cross-run indexes store the
version and refuse to compare keys of another one.
"""
from __future__ import annotations

import hashlib
import unicodedata

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
    spaced = folded.translate(_KEY_CHARS)
    return " ".join(spaced.split())


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
