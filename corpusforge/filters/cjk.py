"""Rules specific to Chinese and Japanese pages, and the CJK-aware defaults of all families.

The other families already branch on the language (jieba words, 。！？… as terminal
punctuation, Chinese stop words, shorter "short line"); this module adds what only makes sense
for CJK text: a page labelled Chinese or Japanese whose visible characters are mostly not CJK
(an English or numeric page with a Chinese menu, a lottery-number table) is not Chinese text.
Nothing here, or anywhere in the filters, looks at spaces: Chinese has none between words.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from corpusforge.filters.common import CJK_OR_KANA, SEGMENTED_LANGUAGES, ByLanguage, cjk_ratio, resolve_params


@dataclass(frozen=True, kw_only=True)
class CjkParams:
    """Thresholds of the CJK rules for one language (None = rule off)."""

    enabled: bool = True  # False: no rule runs, only the signals are computed
    languages: frozenset[str] = SEGMENTED_LANGUAGES  # the rules apply to documents of these languages
    min_cjk_ratio: float | None = 0.3  # CJK ideographs + kana / non-whitespace characters
    # Punctuation marks per CJK character. Prose has about one mark per 8–15 characters (~0.1);
    # SEO spam that wraps every character in brackets (【随】【着】) to dodge dedup has ~2.
    max_punct_ratio: float | None = 0.5


CJK_DEFAULTS: ByLanguage[CjkParams] = ByLanguage(default=CjkParams())

# Short labelled texts: a Chinese review full of product codes and digits is still a review.
SHORT_TEXT: ByLanguage[CjkParams] = ByLanguage(default=CjkParams(enabled=False))


def cjk_quality(
    text: str,
    params: CjkParams | ByLanguage[CjkParams] = CJK_DEFAULTS,
    lang: str | None = None,
) -> tuple[str | None, dict[str, float]]:
    """Return (the first CJK rule `text` breaks or None, the signals); other languages pass.

    >>> reason, signals = cjk_quality("今天天气很好，我们去公园。", lang="zh")  # 11 of 13 are CJK
    >>> reason, round(signals["cjk.cjk_ratio"], 3), signals["cjk.n_cjk_chars"]
    (None, 0.846, 11.0)
    >>> cjk_quality("Tel 0512-55111066 Fax 0512-55111088 联系", lang="zh")[0]
    'cjk.low_cjk_ratio'
    >>> cjk_quality("【随】【着】【经】【济】【社】【会】【的】【发】【展】", lang="zh")[0]
    'cjk.punct_ratio'
    >>> cjk_quality("Plain English.", lang="en")
    (None, {})
    """
    p = resolve_params(params, lang)
    if lang not in p.languages:
        return None, {}
    n_cjk = len(CJK_OR_KANA.findall(text))
    n_punct = sum(1 for char in text if unicodedata.category(char).startswith("P"))
    signals = {
        "cjk.cjk_ratio": cjk_ratio(text),
        "cjk.n_cjk_chars": float(n_cjk),
        "cjk.punct_ratio": n_punct / max(n_cjk, 1),
    }
    if not p.enabled:
        return None, signals
    if p.min_cjk_ratio is not None and signals["cjk.cjk_ratio"] < p.min_cjk_ratio:
        return "cjk.low_cjk_ratio", signals
    if p.max_punct_ratio is not None and signals["cjk.punct_ratio"] > p.max_punct_ratio:
        return "cjk.punct_ratio", signals
    return None, signals
