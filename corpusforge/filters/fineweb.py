"""FineWeb's additional quality rules (Penedo et al. 2024, "The FineWeb Datasets", section 3.5).

Four line-statistics rules that catch what Gopher and C4 miss on modern crawls: pages whose lines
rarely end in punctuation, pages made mostly of short lines (menus, lists), pages with many
duplicated lines, and pages with more newlines than prose has.

The duplicated-line threshold is the paper's 0.1 (datatrove's class default is 0.01). Blank lines
are ignored. Chinese/Japanese: terminal punctuation includes 。！？…, "short" is measured in
characters and set lower (a Chinese character carries about what 3–4 English letters do), and
words for the newline/word ratio are jieba tokens.
"""
from __future__ import annotations

from dataclasses import dataclass

from corpusforge.filters.common import (
    TERMINAL_PUNCTUATION,
    ByLanguage,
    ends_with_terminal_punctuation,
    is_symbol_word,
    resolve_params,
    split_words,
)


@dataclass(frozen=True, kw_only=True)
class FineWebParams:
    """Thresholds of the FineWeb rules for one language (None = rule off)."""

    enabled: bool = True  # False: no rule runs, only the signals are computed
    min_line_punct_ratio: float | None = 0.12  # lines ending in terminal punctuation / lines
    line_punct_exclude_zero: bool = False  # True: a page with no punctuated line is not dropped
    terminal_punctuation: tuple[str, ...] = TERMINAL_PUNCTUATION  # what counts as a line end
    short_line_length: int = 30  # a line of at most this many characters is short
    max_short_line_ratio: float | None = 0.67  # short lines / lines
    max_char_dup_ratio: float | None = 0.1  # characters in repeated lines / non-newline characters
    max_newline_word_ratio: float | None = 0.3  # newlines / words


_CJK = FineWebParams(short_line_length=10)

FINEWEB_DEFAULTS: ByLanguage[FineWebParams] = ByLanguage(
    default=FineWebParams(), overrides={"zh": _CJK, "ja": _CJK}
)

# Short labelled texts: one line without final punctuation is a fine sentence or review.
SHORT_TEXT: ByLanguage[FineWebParams] = ByLanguage(default=FineWebParams(enabled=False))


def fineweb_quality(
    text: str,
    params: FineWebParams | ByLanguage[FineWebParams] = FINEWEB_DEFAULTS,
    lang: str | None = None,
) -> tuple[str | None, dict[str, float]]:
    """Return (the first FineWeb rule `text` breaks or None, the signals computed).

    >>> menu = "\\n".join(["Home", "Products", "About us", "Contact"])
    >>> fineweb_quality(menu, lang="en")[0]
    'fineweb.line_punct_ratio'
    >>> prose = "This paragraph is a long line of ordinary prose that ends with a full stop."
    >>> fineweb_quality(prose, lang="en")
    (None, {'fineweb.line_punct_ratio': 1.0, 'fineweb.short_line_ratio': 0.0, 'fineweb.char_dup_ratio': 0.0, 'fineweb.newline_word_ratio': 0.0})
    """
    p = resolve_params(params, lang)
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    n_lines = max(len(lines), 1)
    seen: set[str] = set()
    dup_chars = 0
    for line in lines:
        if line in seen:
            dup_chars += len(line)
        else:
            seen.add(line)
    n_words = sum(1 for word in split_words(text, lang) if not is_symbol_word(word))
    signals = {
        "fineweb.line_punct_ratio": sum(
            1 for line in lines if ends_with_terminal_punctuation(line, p.terminal_punctuation)
        ) / n_lines,
        "fineweb.short_line_ratio": sum(1 for line in lines if len(line) <= p.short_line_length) / n_lines,
        "fineweb.char_dup_ratio": dup_chars / max(len(text) - text.count("\n"), 1),
        "fineweb.newline_word_ratio": text.strip().count("\n") / max(n_words, 1),
    }
    if not p.enabled:
        return None, signals
    punct_ratio = signals["fineweb.line_punct_ratio"]
    if (
        p.min_line_punct_ratio is not None
        and punct_ratio < p.min_line_punct_ratio
        and not (punct_ratio == 0.0 and p.line_punct_exclude_zero)
    ):
        return "fineweb.line_punct_ratio", signals
    if p.max_short_line_ratio is not None and signals["fineweb.short_line_ratio"] > p.max_short_line_ratio:
        return "fineweb.short_line_ratio", signals
    if p.max_char_dup_ratio is not None and signals["fineweb.char_dup_ratio"] > p.max_char_dup_ratio:
        return "fineweb.char_dup_ratio", signals
    if p.max_newline_word_ratio is not None and signals["fineweb.newline_word_ratio"] > p.max_newline_word_ratio:
        return "fineweb.list_ratio", signals
    return None, signals
