"""Gopher quality and repetition rules (Rae et al. 2021, "Scaling Language Models", appendix A).

Each family is one pure function `(text, params, lang) -> (reason | None, signals)`. The
signals are every value computed on the way (`gopher.n_words`, ratios, ...), stored in the
documents table's `quality` map so a user can re-filter with other thresholds later; the
reason is the first rule broken, in the order the rules are listed in the params.

Chinese and Japanese: words are jieba tokens (common.split_words), so no rule depends on
spaces; jieba words are short (1–3 characters), hence the lower word-length bounds of the
`zh`/`ja` defaults. A threshold set to None turns its rule off (its signal is still computed).
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from corpusforge.filters.common import (
    ByLanguage,
    is_symbol_word,
    resolve_params,
    split_words,
    stop_words_for,
    strip_punctuation,
    uses_segmentation,
)

_BULLETS = ("•", "●", "○", "◦", "▪", "▫", "■", "□", "►", "▶", "-", "*", "·", "‣", "⁃", "◆", "◇", "★", "☆", "→")
_ELLIPSES = ("...", "\u2026")
# One symbol per '#' and per ellipsis; a run of ellipsis characters is one ellipsis ("……" is
# the standard Chinese ellipsis, two characters wide).
_SYMBOLS = re.compile(r"#|\.{3,}|\u2026+")


@dataclass(frozen=True, kw_only=True)
class GopherQualityParams:
    """Thresholds of the Gopher quality rules for one language (None = rule off)."""

    enabled: bool = True  # False: no rule runs, only the signals are computed
    min_words: int | None = 50  # fewer non-symbol words → gopher.short_doc
    max_words: int | None = 100_000  # more non-symbol words → gopher.long_doc
    min_mean_word_length: float | None = 3.0  # in characters, over non-symbol words
    max_mean_word_length: float | None = 10.0  # beyond: URLs, hashes, concatenated junk
    max_symbol_word_ratio: float | None = 0.1  # ('#' + ellipses) per word
    max_bullet_lines_ratio: float | None = 0.9  # lines starting with a bullet / lines
    max_ellipsis_lines_ratio: float | None = 0.3  # lines ending with '...' or '…' / lines
    min_alpha_words_ratio: float | None = 0.8  # words with at least one letter / words
    min_stop_words: int | None = 2  # stop words present (counted with repeats)
    stop_words: frozenset[str] | None = None  # None = the language's built-in list


# jieba words average under 2 characters and Chinese needs no '#'-free check changes; Chinese
# stop words are single tokens, so 2 of them is as weak a bar as in English.
_CJK_QUALITY = GopherQualityParams(min_mean_word_length=1.0, max_mean_word_length=6.0)

GOPHER_QUALITY_DEFAULTS: ByLanguage[GopherQualityParams] = ByLanguage(
    default=GopherQualityParams(), overrides={"zh": _CJK_QUALITY, "ja": _CJK_QUALITY}
)


@dataclass(frozen=True, kw_only=True)
class GopherRepetitionParams:
    """Thresholds of the Gopher repetition rules for one language (None = rule off)."""

    enabled: bool = True  # False: no rule runs, only the signals are computed
    max_dup_para_frac: float | None = 0.30  # repeated paragraphs / paragraphs
    max_dup_para_char_frac: float | None = 0.20  # characters in repeated paragraphs / characters
    max_dup_line_frac: float | None = 0.30  # repeated lines / lines
    max_dup_line_char_frac: float | None = 0.20  # characters in repeated lines / characters
    # n → max fraction of word characters covered by the most frequent n-gram
    max_top_ngram_char_frac: tuple[tuple[int, float], ...] = ((2, 0.20), (3, 0.18), (4, 0.16))
    # n → max fraction of word characters covered by n-grams that occur more than once
    max_dup_ngram_char_frac: tuple[tuple[int, float], ...] = (
        (5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10),
    )


GOPHER_REPETITION_DEFAULTS: ByLanguage[GopherRepetitionParams] = ByLanguage(default=GopherRepetitionParams())

# Short labelled texts (sentences, reviews): a 20-word review is not a bad web page.
SHORT_TEXT_QUALITY: ByLanguage[GopherQualityParams] = ByLanguage(default=GopherQualityParams(enabled=False))
SHORT_TEXT_REPETITION: ByLanguage[GopherRepetitionParams] = ByLanguage(
    default=GopherRepetitionParams(enabled=False)
)


def gopher_quality(
    text: str,
    params: GopherQualityParams | ByLanguage[GopherQualityParams] = GOPHER_QUALITY_DEFAULTS,
    lang: str | None = None,
) -> tuple[str | None, dict[str, float]]:
    """Return (the first Gopher quality rule `text` breaks or None, the signals computed).

    >>> gopher_quality("too short", lang="en")[0]
    'gopher.short_doc'
    >>> prose = "The cat sat on the mat and looked at the birds with great interest. " * 5
    >>> reason, signals = gopher_quality(prose, lang="en")
    >>> reason, signals["gopher.n_words"]
    (None, 70.0)
    """
    p = resolve_params(params, lang)
    words = split_words(text, lang)
    content_words = [word for word in words if not is_symbol_word(word)]
    n_words = len(content_words)
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    n_lines = max(len(lines), 1)
    stop_words = p.stop_words if p.stop_words is not None else stop_words_for(lang)

    n_symbols = len(_SYMBOLS.findall(text))
    # jieba returns each punctuation mark as a token, where str.split() would leave it attached
    # to a word: drop those tokens from the alpha-words base, or Chinese prose fails the rule.
    alpha_base = content_words if uses_segmentation(text, lang) else words
    signals = {
        "gopher.n_words": float(n_words),
        "gopher.mean_word_length": (sum(len(word) for word in content_words) / n_words) if n_words else 0.0,
        "gopher.symbol_word_ratio": n_symbols / max(len(alpha_base), 1),
        "gopher.bullet_lines_ratio": sum(1 for line in lines if line.startswith(_BULLETS)) / n_lines,
        "gopher.ellipsis_lines_ratio": sum(1 for line in lines if line.endswith(_ELLIPSES)) / n_lines,
        "gopher.alpha_words_ratio": (
            sum(1 for word in alpha_base if any(char.isalpha() for char in word)) / len(alpha_base)
            if alpha_base
            else 0.0
        ),
        "gopher.n_stop_words": float(
            sum(1 for word in content_words if strip_punctuation(word).lower() in stop_words)
        ),
    }
    if not p.enabled:
        return None, signals
    return _first_quality_reason(signals, p, bool(stop_words)), signals


def _first_quality_reason(signals: dict[str, float], p: GopherQualityParams, has_stop_words: bool) -> str | None:
    n_words = signals["gopher.n_words"]
    if p.min_words is not None and n_words < p.min_words:
        return "gopher.short_doc"
    if p.max_words is not None and n_words > p.max_words:
        return "gopher.long_doc"
    mean_length = signals["gopher.mean_word_length"]
    if p.min_mean_word_length is not None and mean_length < p.min_mean_word_length:
        return "gopher.mean_word_length"
    if p.max_mean_word_length is not None and mean_length > p.max_mean_word_length:
        return "gopher.mean_word_length"
    if p.max_symbol_word_ratio is not None and signals["gopher.symbol_word_ratio"] > p.max_symbol_word_ratio:
        return "gopher.symbol_ratio"
    if p.max_bullet_lines_ratio is not None and signals["gopher.bullet_lines_ratio"] > p.max_bullet_lines_ratio:
        return "gopher.bullet_lines"
    if (
        p.max_ellipsis_lines_ratio is not None
        and signals["gopher.ellipsis_lines_ratio"] > p.max_ellipsis_lines_ratio
    ):
        return "gopher.ellipsis_lines"
    if p.min_alpha_words_ratio is not None and signals["gopher.alpha_words_ratio"] < p.min_alpha_words_ratio:
        return "gopher.alpha_words"
    # A language without a stop-word list skips the rule rather than failing every page.
    if p.min_stop_words is not None and has_stop_words and signals["gopher.n_stop_words"] < p.min_stop_words:
        return "gopher.stop_words"
    return None


_PARAGRAPH_SPLIT = re.compile(r"\n{2,}")


def _duplicate_stats(elements: list[str]) -> tuple[int, int]:
    """(number of elements that repeat an earlier one, characters in those repeats)."""
    seen: set[str] = set()
    n_dup = 0
    dup_chars = 0
    for element in elements:
        if element in seen:
            n_dup += 1
            dup_chars += len(element)
        else:
            seen.add(element)
    return n_dup, dup_chars


def _top_ngram_char_frac(words: list[str], n: int, total_chars: int) -> float:
    if len(words) < n or total_chars == 0:
        return 0.0
    counts = Counter(zip(*(words[i:] for i in range(n))))
    ngram, count = counts.most_common(1)[0]
    if count < 2:
        return 0.0
    return count * sum(len(word) for word in ngram) / total_chars


def _dup_ngram_char_frac(words: list[str], n: int, total_chars: int) -> float:
    # Characters of words covered by any n-gram occurring more than once; a word inside two
    # overlapping repeated n-grams counts once.
    if len(words) < n or total_chars == 0:
        return 0.0
    ngrams = list(zip(*(words[i:] for i in range(n))))
    counts = Counter(ngrams)
    covered = bytearray(len(words))
    for start, ngram in enumerate(ngrams):
        if counts[ngram] > 1:
            covered[start : start + n] = b"\x01" * n
    return sum(len(word) for word, flag in zip(words, covered) if flag) / total_chars


def gopher_repetition(
    text: str,
    params: GopherRepetitionParams | ByLanguage[GopherRepetitionParams] = GOPHER_REPETITION_DEFAULTS,
    lang: str | None = None,
) -> tuple[str | None, dict[str, float]]:
    """Return (the first Gopher repetition rule `text` breaks or None, the signals computed).

    >>> gopher_repetition("Buy now!\\nBuy now!\\nBuy now!\\nWelcome to our shop.", lang="en")[0]
    'gopher.dup_line_frac'
    >>> gopher_repetition("One line.\\n\\nAnother, different paragraph.", lang="en")[0] is None
    True
    """
    p = resolve_params(params, lang)
    n_chars = max(len(text), 1)
    paragraphs = [para.strip() for para in _PARAGRAPH_SPLIT.split(text.strip()) if para.strip()]
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    n_dup_paras, dup_para_chars = _duplicate_stats(paragraphs)
    n_dup_lines, dup_line_chars = _duplicate_stats(lines)
    words = [word for word in split_words(text, lang) if not is_symbol_word(word)]
    words = [word.lower() for word in words]
    word_chars = sum(len(word) for word in words)

    signals: dict[str, float] = {
        "gopher.dup_para_frac": n_dup_paras / max(len(paragraphs), 1),
        "gopher.dup_para_char_frac": dup_para_chars / n_chars,
        "gopher.dup_line_frac": n_dup_lines / max(len(lines), 1),
        "gopher.dup_line_char_frac": dup_line_chars / n_chars,
    }
    for n, _ in p.max_top_ngram_char_frac:
        signals[f"gopher.top_{n}_gram_char_frac"] = _top_ngram_char_frac(words, n, word_chars)
    for n, _ in p.max_dup_ngram_char_frac:
        signals[f"gopher.dup_{n}_gram_char_frac"] = _dup_ngram_char_frac(words, n, word_chars)
    if not p.enabled:
        return None, signals

    for key, limit in (
        ("dup_para_frac", p.max_dup_para_frac),
        ("dup_para_char_frac", p.max_dup_para_char_frac),
        ("dup_line_frac", p.max_dup_line_frac),
        ("dup_line_char_frac", p.max_dup_line_char_frac),
    ):
        if limit is not None and signals[f"gopher.{key}"] > limit:
            return f"gopher.{key}", signals
    for n, limit in p.max_top_ngram_char_frac:
        if signals[f"gopher.top_{n}_gram_char_frac"] > limit:
            return f"gopher.top_{n}_gram", signals
    for n, limit in p.max_dup_ngram_char_frac:
        if signals[f"gopher.dup_{n}_gram_char_frac"] > limit:
            return f"gopher.dup_{n}_gram", signals
    return None, signals
