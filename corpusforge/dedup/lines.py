"""Repeated-line removal, the pure part of the one mechanism both line stages use.

Two stages remove lines that repeat across documents, and differ only in what "repeats" means:

- `dedup_lines` (stage `dedup.lines`, cc_net-style): a line whose key occurs more than
  `max_occurrences` times among the live documents of the run is removed everywhere
  (`LineDedupParams`, config `[dedup_lines]`);
- `boilerplate`: a line on enough of one host's documents (cookie banners, navigation,
  footers) is removed from that host's documents (`text.boilerplate.BoilerplateParams`).

Both identify a line by the hash of its dedup key (`line_hashes`: case, punctuation, spacing
and the Chinese script do not make a banner look new) and remove lines by number
(`remove_lines`); the Spark side is `corpusforge.stages.line_dedup` (counting and the shared
removal pass) and `corpusforge.stages.boilerplate`. A document left without a line of text is
dropped (`dedup.all_lines_repeated`, `boilerplate.empty_text`).

Config (`[dedup_lines]`; the stage runs when `pipeline.stages` lists it)::

    [dedup_lines]
    max_occurrences = 10   # a line seen more often than this in the run is removed everywhere
    min_line_chars = 1     # shorter lines (in dedup-key characters) are never counted nor removed
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from corpusforge.errors import ConfigError
from corpusforge.text.dedup_key import dedup_key

ALL_LINES_REPEATED = "dedup.all_lines_repeated"
REMOVED_LINES = "dedup_lines.removed_lines"  # quality signals written per document
REMOVED_CHARS = "dedup_lines.removed_chars"
_BLANK_LINES = re.compile(r"\n{3,}")  # runs of blank lines a removal leaves behind


@dataclass(frozen=True, kw_only=True)
class LineDedupParams:
    """The `[dedup_lines]` config section.

    >>> LineDedupParams().max_occurrences
    10
    """

    max_occurrences: int = 10  # lines seen more often than this in the run are removed everywhere
    min_line_chars: int = 1  # lines with a shorter dedup key are ignored (never counted, never removed)

    def __post_init__(self) -> None:
        if self.max_occurrences < 1:
            raise ConfigError(f"dedup_lines.max_occurrences must be ≥ 1, got {self.max_occurrences!r}")
        if self.min_line_chars < 1:
            raise ConfigError(f"dedup_lines.min_line_chars must be ≥ 1, got {self.min_line_chars!r}")


def line_hashes(text: str, min_line_chars: int = 1) -> list[tuple[int, int]]:
    """(line number, signed 64-bit hash of the line's dedup key) of each countable line.

    A line whose dedup key is shorter than `min_line_chars` (a blank line, a row of dashes) is
    neither counted nor removed.

    >>> [n for n, _ in line_hashes("Home | About\\n\\nreal text\\nHOME about!")]
    [0, 2, 3]
    >>> line_hashes("Home | About")[0][1] == line_hashes("HOME about!")[0][1]
    True
    """
    out = []
    for number, line in enumerate(text.split("\n")):
        key = dedup_key(line)
        if len(key) >= min_line_chars:
            digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
            out.append((number, int.from_bytes(digest, "little", signed=True)))
    return out


def remove_lines(text: str, numbers: set[int] | frozenset[int]) -> tuple[str, int, int]:
    """`text` without the given line numbers; also (lines removed, characters removed).

    Runs of blank lines the removal leaves behind are squeezed to one blank line.

    >>> remove_lines("a\\nnav\\nb", {1})
    ('a\\nb', 1, 3)
    >>> remove_lines("banner\\n\\nPara one.\\n\\nbanner\\n\\nPara two.", {0, 4})
    ('Para one.\\n\\nPara two.', 2, 12)
    """
    if not numbers:
        return text, 0, 0
    kept, removed_chars = [], 0
    lines = text.split("\n")
    for number, line in enumerate(lines):
        if number in numbers:
            removed_chars += len(line)
        else:
            kept.append(line)
    removed = len(lines) - len(kept)
    if not removed:
        return text, 0, 0
    return _BLANK_LINES.sub("\n\n", "\n".join(kept)).strip("\n"), removed, removed_chars
