"""C4's cleaning and page rules (Raffel et al. 2020, "Exploring the Limits of Transfer Learning").

Unlike the other families, C4 edits the text: lines that are not prose (no terminal
punctuation, under 3 words, "enable javascript", cookie/policy notices) are removed, as are
Wikipedia-style citation marks ([1], [edit]). Then the page is dropped when it contains
'lorem ipsum', a '{' (code), a bad word, or fewer than 5 sentences remain.
`c4_quality` returns (cleaned text, reason or None, signals).

Chinese/Japanese: a line ends a sentence with 。！？… (common.TERMINAL_PUNCTUATION), its words
are jieba tokens, sentences are counted on the same marks, and the policy phrases include
their Chinese forms (隐私政策 ...).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from corpusforge.filters.common import (
    TERMINAL_PUNCTUATION,
    ByLanguage,
    bad_words_for,
    count_sentences,
    ends_with_terminal_punctuation,
    is_symbol_word,
    resolve_params,
    split_words,
    uses_segmentation,
)

_POLICY_PHRASES = (
    "terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies",
)
_POLICY_PHRASES_ZH = _POLICY_PHRASES + (
    "隐私政策", "隐私条款", "使用条款", "服务条款", "用户协议", "使用cookie", "cookie政策",
)

# [1], [23], [citation needed], [edit], and their Chinese-Wikipedia forms [来源请求] [编辑].
_CITATION = re.compile(r"\[\d*\]|\[(?:edit|citation needed|编辑|來源請求|来源请求)\]", re.IGNORECASE)
_BLANK_LINES = re.compile(r"\n{3,}")


@dataclass(frozen=True, kw_only=True)
class C4Params:
    """C4 cleaning and page rules for one language (None = rule off)."""

    enabled: bool = True  # False: the text is returned unchanged, only signals are computed
    remove_citations: bool = True  # strip [1], [edit], [citation needed] marks from lines
    require_terminal_punctuation: bool = True  # remove lines not ending in . ! ? " 。！？…
    terminal_punctuation: tuple[str, ...] = TERMINAL_PUNCTUATION  # what counts as a line end
    min_words_per_line: int | None = 3  # remove lines with fewer words (jieba words for zh/ja)
    max_word_length: int | None = 1000  # remove lines containing a longer "word" (minified junk)
    remove_javascript_lines: bool = True  # remove "please enable JavaScript" lines
    policy_phrases: tuple[str, ...] = _POLICY_PHRASES  # remove lines containing any (lowercased)
    drop_lorem_ipsum: bool = True  # drop the page: placeholder text
    drop_curly_bracket: bool = True  # drop the page: '{' means code or templates
    drop_bad_words: bool = True  # drop the page when it contains a bad word
    bad_words: frozenset[str] | None = None  # None = the language's built-in list
    min_sentences: int | None = 5  # drop the page with fewer sentences after cleaning


_ZH = C4Params(policy_phrases=_POLICY_PHRASES_ZH)

C4_DEFAULTS: ByLanguage[C4Params] = ByLanguage(default=C4Params(), overrides={"zh": _ZH, "ja": _ZH})

# Short labelled texts: leave the sentence or review exactly as it is, drop nothing.
SHORT_TEXT: ByLanguage[C4Params] = ByLanguage(default=C4Params(enabled=False))


def _bad_word_pattern(words: frozenset[str], segmented: bool) -> re.Pattern[str] | None:
    if not words:
        return None
    alternatives = "|".join(re.escape(word) for word in sorted(words, key=len, reverse=True))
    if segmented:
        # Chinese phrases are matched as substrings: the script has no word boundaries, and
        # jieba may split a listed phrase into two tokens.
        return re.compile(rf"(?:{alternatives})", re.IGNORECASE)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


_PATTERN_CACHE: dict[tuple[frozenset[str], bool], re.Pattern[str] | None] = {}


def _cached_bad_word_pattern(words: frozenset[str], segmented: bool) -> re.Pattern[str] | None:
    key = (words, segmented)
    if key not in _PATTERN_CACHE:
        _PATTERN_CACHE[key] = _bad_word_pattern(words, segmented)
    return _PATTERN_CACHE[key]


def _keep_line(line: str, p: C4Params, lang: str | None, segmented: bool) -> bool:
    lowered = line.lower()
    if p.remove_javascript_lines and "javascript" in lowered:
        return False
    if any(phrase in lowered for phrase in p.policy_phrases):
        return False
    if p.require_terminal_punctuation and not ends_with_terminal_punctuation(line, p.terminal_punctuation):
        return False
    if p.min_words_per_line is not None or p.max_word_length is not None:
        words = split_words(line, "zh" if segmented else lang)
        if p.min_words_per_line is not None:
            if sum(1 for word in words if not is_symbol_word(word)) < p.min_words_per_line:
                return False
        if p.max_word_length is not None and any(len(word) > p.max_word_length for word in words):
            return False
    return True


def c4_quality(
    text: str,
    params: C4Params | ByLanguage[C4Params] = C4_DEFAULTS,
    lang: str | None = None,
) -> tuple[str, str | None, dict[str, float]]:
    """Clean `text` line by line as C4 does; return (cleaned text, reason or None, signals).

    >>> page = "Home | About\\n" + "This is a sentence with enough words in it. " * 5 + "\\nWe use cookies."
    >>> cleaned, reason, signals = c4_quality(page, lang="en")
    >>> reason, cleaned.startswith("This is"), signals["c4.n_lines_removed"]
    (None, True, 2.0)
    >>> c4_quality("Only one sentence here, sadly.", lang="en")[1]
    'c4.too_few_sentences'
    """
    p = resolve_params(params, lang)
    segmented = uses_segmentation(text, lang)
    lowered = text.lower()
    bad_words = p.bad_words if p.bad_words is not None else bad_words_for("zh" if segmented else lang)
    pattern = _cached_bad_word_pattern(bad_words, segmented) if p.drop_bad_words else None
    n_bad_words = len(pattern.findall(text)) if pattern is not None else 0

    kept_lines: list[str] = []
    n_lines = 0
    n_removed = 0
    for raw_line in text.split("\n"):
        line = raw_line.strip()
        if not line:
            kept_lines.append("")  # paragraph breaks survive; runs are squeezed below
            continue
        n_lines += 1
        if p.remove_citations:
            line = _CITATION.sub("", line).strip()
        if line and _keep_line(line, p, lang, segmented):
            kept_lines.append(line)
        else:
            n_removed += 1
    cleaned = _BLANK_LINES.sub("\n\n", "\n".join(kept_lines)).strip()
    n_sentences = count_sentences(cleaned)
    signals = {
        "c4.n_lines": float(n_lines),
        "c4.n_lines_removed": float(n_removed),
        "c4.lines_removed_frac": n_removed / n_lines if n_lines else 0.0,
        "c4.n_sentences": float(n_sentences),
        "c4.n_bad_words": float(n_bad_words),
    }
    if not p.enabled:
        return text, None, signals
    if p.drop_lorem_ipsum and "lorem ipsum" in lowered:
        return cleaned, "c4.lorem_ipsum", signals
    if p.drop_curly_bracket and "{" in text:
        return cleaned, "c4.curly_bracket", signals
    if n_bad_words > 0:
        return cleaned, "c4.bad_words", signals
    if p.min_sentences is not None and n_sentences < p.min_sentences:
        return cleaned, "c4.too_few_sentences", signals
    return cleaned, None, signals
