"""What every quality-filter family shares: the drop reasons, word splitting, punctuation sets,
and per-language parameters.

All drop reasons of langid and the filters are defined here, once (DESIGN.md, "Drop keys"):
`REASONS` maps each stable `<family>.<rule>` key to the one line a user reads in the report.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from corpusforge.filters.data import bad_words, stop_words
from corpusforge.text.segment import segment_words
from corpusforge.text.scripts import script_class
from corpusforge.text.zh import CJK_CHAR

REASONS: dict[str, str] = {
    # language identification (corpusforge.text.langid)
    "langid.no_text": "no letters to identify a language from",
    "langid.low_score": "the language identifier's confidence is below min_score",
    "langid.unwanted_language": "the identified language is not in the keep list",
    # Gopher quality (Rae et al. 2021, appendix A)
    "gopher.short_doc": "fewer words than min_words",
    "gopher.long_doc": "more words than max_words",
    "gopher.mean_word_length": "mean word length outside [min_mean_word_length, max_mean_word_length]",
    "gopher.symbol_ratio": "too many '#' and ellipses per word",
    "gopher.bullet_lines": "too many lines start with a bullet",
    "gopher.ellipsis_lines": "too many lines end with an ellipsis",
    "gopher.alpha_words": "too few words contain a letter",
    "gopher.stop_words": "too few stop words: not running prose",
    # Gopher repetition
    "gopher.dup_para_frac": "too many paragraphs are repeats of earlier ones",
    "gopher.dup_para_char_frac": "too many characters are in repeated paragraphs",
    "gopher.dup_line_frac": "too many lines are repeats of earlier ones",
    "gopher.dup_line_char_frac": "too many characters are in repeated lines",
    "gopher.top_2_gram": "the most frequent word 2-gram covers too many characters",
    "gopher.top_3_gram": "the most frequent word 3-gram covers too many characters",
    "gopher.top_4_gram": "the most frequent word 4-gram covers too many characters",
    "gopher.dup_5_gram": "too many characters are in repeated word 5-grams",
    "gopher.dup_6_gram": "too many characters are in repeated word 6-grams",
    "gopher.dup_7_gram": "too many characters are in repeated word 7-grams",
    "gopher.dup_8_gram": "too many characters are in repeated word 8-grams",
    "gopher.dup_9_gram": "too many characters are in repeated word 9-grams",
    "gopher.dup_10_gram": "too many characters are in repeated word 10-grams",
    # C4 (Raffel et al. 2020)
    "c4.lorem_ipsum": "contains 'lorem ipsum' placeholder text",
    "c4.curly_bracket": "contains '{': code, not prose",
    "c4.bad_words": "contains a word of the bad-words list",
    "c4.too_few_sentences": "fewer than min_sentences sentences left after line cleaning",
    # FineWeb (Penedo et al. 2024)
    "fineweb.line_punct_ratio": "too few lines end with terminal punctuation",
    "fineweb.short_line_ratio": "too many short lines: navigation or lists",
    "fineweb.char_dup_ratio": "too many characters are in duplicated lines",
    "fineweb.list_ratio": "too many newlines per word: a list, not prose",
    # Chinese / Japanese
    "cjk.low_cjk_ratio": "labelled Chinese/Japanese but too few CJK characters",
    "cjk.punct_ratio": "too many punctuation marks per CJK character (e.g. every character bracketed)",
}

# Languages written without spaces between words: words come from jieba, not str.split().
SEGMENTED_LANGUAGES: frozenset[str] = frozenset({"zh", "ja"})

# Hiragana, katakana and CJK ideographs: the characters of Chinese and Japanese text.
CJK_OR_KANA = script_class("kana", "han")

# A line "ends a sentence" when its last character is one of these (closing quotes count:
# `He said "yes."` and 「好。」 end sentences). Latin set as in C4; CJK adds 。！？… and
# the full-width forms.
TERMINAL_PUNCTUATION: tuple[str, ...] = (
    ".", "!", "?", '"', "'", "\u201d", "\u2019", "\u2026",  # . ! ? " ' ” ’ …
    "\u3002", "\uff01", "\uff1f", "\uff0e", "\u300d", "\u300f", "\uff09",  # 。！？．」』）
)

# Sentence ends inside a text: a run of terminal marks (ASCII ones followed by a space or the
# end, so "3.5" and "e.g.x" are not splits; CJK ones anywhere, they are never decimal points).
SENTENCE_END = re.compile(r"(?:[.!?]+[\"'\u201d\u2019)]*(?=\s|$))|[\u3002\uff01\uff1f\u2026]+[\u201d\u300d\u300f]*")

P = TypeVar("P")


@dataclass(frozen=True, kw_only=True)
class ByLanguage(Generic[P]):
    """Parameters of one filter family per language, with a default for all other languages.

    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Params:
    ...     min_words: int = 50
    >>> by_lang = ByLanguage(default=Params(), overrides={"zh": Params(min_words=80)})
    >>> by_lang.for_lang("zh").min_words, by_lang.for_lang("en").min_words, by_lang.for_lang(None).min_words
    (80, 50, 50)
    """

    default: P  # parameters for any language without an override (and for lang=None)
    overrides: Mapping[str, P] = field(default_factory=dict)  # language code -> parameters

    def for_lang(self, lang: str | None) -> P:
        """The parameters that apply to documents of `lang`."""
        if lang is not None and lang in self.overrides:
            return self.overrides[lang]
        return self.default


def resolve_params(params: P | ByLanguage[P], lang: str | None) -> P:
    """Return the parameters for `lang`, whether given per language or as one set.

    >>> resolve_params(ByLanguage(default=1, overrides={"zh": 2}), "zh"), resolve_params(3, "zh")
    (2, 3)
    """
    if isinstance(params, ByLanguage):
        return params.for_lang(lang)
    return params


def cjk_ratio(text: str) -> float:
    """Fraction of non-whitespace characters that are CJK ideographs or kana.

    >>> round(cjk_ratio("中文 ab"), 2)
    0.5
    """
    n_visible = sum(1 for char in text if not char.isspace())
    if n_visible == 0:
        return 0.0
    return len(CJK_OR_KANA.findall(text)) / n_visible


def uses_segmentation(text: str, lang: str | None) -> bool:
    """Whether words of `text` come from jieba: a CJK language, or unknown language but mostly CJK.

    >>> uses_segmentation("hello", "zh"), uses_segmentation("今天天气很好", None), uses_segmentation("hi", None)
    (True, True, False)
    """
    if lang is not None:
        return lang in SEGMENTED_LANGUAGES
    return CJK_CHAR.search(text) is not None and cjk_ratio(text) >= 0.3


def split_words(text: str, lang: str | None) -> list[str]:
    """Words of `text`: jieba tokens for Chinese/Japanese, whitespace-separated tokens otherwise.

    Punctuation stays attached in space-separated text ("world," is one word), as in Gopher;
    jieba returns punctuation marks as their own tokens, which `is_symbol_word` recognises.

    >>> split_words("Hello, big world", "en")
    ['Hello,', 'big', 'world']
    >>> split_words("我爱北京。", "zh")
    ['我', '爱', '北京', '。']
    """
    if uses_segmentation(text, lang):
        return segment_words(text)
    return text.split()


def is_symbol_word(word: str) -> bool:
    """True when a word has no letter and no digit (punctuation, bullets, emoji).

    >>> is_symbol_word("..."), is_symbol_word("。"), is_symbol_word("a."), is_symbol_word("42")
    (True, True, False, False)
    """
    return not any(char.isalnum() for char in word)


def strip_punctuation(word: str) -> str:
    """Strip leading and trailing non-alphanumeric characters, for stop-word and bad-word lookups.

    >>> strip_punctuation('"The,')
    'The'
    """
    start, end = 0, len(word)
    while start < end and not word[start].isalnum():
        start += 1
    while end > start and not word[end - 1].isalnum():
        end -= 1
    return word[start:end]


def ends_with_terminal_punctuation(line: str, marks: tuple[str, ...] = TERMINAL_PUNCTUATION) -> bool:
    """True when the line (trailing whitespace ignored) ends with a sentence-final mark.

    >>> ends_with_terminal_punctuation("这是一句话。 "), ends_with_terminal_punctuation("Menu")
    (True, False)
    """
    return line.rstrip().endswith(marks)


def count_sentences(text: str) -> int:
    """Number of sentence ends in `text` (Latin . ! ? before a space or the end; 。！？… anywhere).

    A final run of text without a terminal mark is not counted: C4 counts only finished sentences.

    >>> count_sentences("One. Two! Pi is 3.14 here? 四。五！")
    5
    """
    return len(SENTENCE_END.findall(text))


def stop_words_for(lang: str | None) -> frozenset[str]:
    """The built-in stop words of `lang`: English when the language is unknown, empty (the rule is
    skipped) for a language without a list, since English stop words say nothing about German.

    >>> "的" in stop_words_for("zh"), "the" in stop_words_for(None), len(stop_words_for("de"))
    (True, True, 0)
    """
    return stop_words.BY_LANGUAGE.get(lang or "en", frozenset())


def bad_words_for(lang: str | None) -> frozenset[str]:
    """The built-in bad words of `lang`; empty for languages without a list.

    >>> len(bad_words_for("de")), len(bad_words_for("zh")) > 0
    (0, True)
    """
    return bad_words.BY_LANGUAGE.get(lang or "en", frozenset())
