"""Gopher quality and repetition rules: each threshold from both sides, and the reason returned."""
from __future__ import annotations

import dataclasses

import pytest

from corpusforge.filters.common import REASONS, ByLanguage
from corpusforge.filters.gopher import (
    GOPHER_QUALITY_DEFAULTS,
    SHORT_TEXT_QUALITY,
    SHORT_TEXT_REPETITION,
    GopherQualityParams,
    GopherRepetitionParams,
    gopher_quality,
    gopher_repetition,
)
from corpusforge.text.segment import configure_segmenter


@pytest.fixture(scope="module", autouse=True)
def _jieba_cache(tmp_path_factory):
    configure_segmenter(cache_dir=str(tmp_path_factory.getbasetemp() / "jieba"))


# Eight distinct 5-letter words, two of them stop words: mean length exactly 5.
def _words(n: int) -> str:
    vocab = ["alpha", "bravo", "delta", "hotel", "oscar", "tango", "the", "with"]
    return " ".join(vocab[i % len(vocab)] for i in range(n))


def _reason(text: str, **overrides) -> str | None:
    return gopher_quality(text, GopherQualityParams(**overrides), "en")[0]


def test_word_count_bounds():
    assert _reason(_words(49)) == "gopher.short_doc"
    assert _reason(_words(50)) is None
    assert _reason(_words(120), max_words=120) is None
    assert _reason(_words(121), max_words=120) == "gopher.long_doc"


def test_mean_word_length_bounds():
    short = " ".join(["ab", "the", "with", "to"] * 15)  # mean 2.75
    assert gopher_quality(short, lang="en")[1]["gopher.mean_word_length"] == pytest.approx(2.75)
    assert _reason(short) == "gopher.mean_word_length"
    assert _reason(short, min_mean_word_length=2.75) is None
    long_words = " ".join(["internationalisation", "the", "with", "counterrevolutionary"] * 15)
    assert _reason(long_words) == "gopher.mean_word_length"  # mean 12.0
    assert _reason(long_words, max_mean_word_length=12.0) is None


def test_symbol_ratio():
    base = _words(100)
    ten_hashes = base + " #" * 10  # 10 symbols over 110 words, below 0.1
    eleven_ellipses = base + " wait..." * 12  # 12 over 112 words, above 0.1
    assert _reason(ten_hashes) is None
    assert _reason(eleven_ellipses) == "gopher.symbol_ratio"
    signals = gopher_quality(eleven_ellipses, lang="en")[1]
    assert signals["gopher.symbol_word_ratio"] == pytest.approx(12 / 112)


def test_bullet_lines():
    lines = [f"• {_words(8)}" for _ in range(9)] + [_words(8)]
    assert _reason("\n".join(lines)) is None  # 0.9 is allowed
    assert _reason("\n".join(lines[:9])) == "gopher.bullet_lines"  # 1.0


def test_ellipsis_lines():
    three_of_ten = "\n".join([f"{_words(8)} …"] * 3 + [_words(8)] * 7)
    four_of_ten = "\n".join([f"{_words(8)} …"] * 4 + [_words(8)] * 6)
    assert _reason(three_of_ten, max_symbol_word_ratio=None) is None
    assert _reason(four_of_ten, max_symbol_word_ratio=None) == "gopher.ellipsis_lines"


def test_alpha_words():
    numbers_20pct = _words(80) + " 1234" * 20  # 80 of 100 words have a letter
    numbers_21pct = _words(79) + " 1234" * 21
    assert _reason(numbers_20pct) is None
    assert _reason(numbers_21pct) == "gopher.alpha_words"


def test_stop_words():
    no_stop = " ".join(["alpha", "bravo", "delta", "hotel"] * 20)
    one_stop = no_stop + " the"
    assert _reason(one_stop) == "gopher.stop_words"
    assert _reason(one_stop + " with") is None
    assert _reason(no_stop, stop_words=frozenset({"alpha"})) is None


def test_language_without_stop_word_list_skips_the_rule():
    german = " ".join(["Garten", "Hovenier", "pflegen", "schnell"] * 20)
    assert gopher_quality(german, GOPHER_QUALITY_DEFAULTS, "de")[0] is None


def test_none_threshold_turns_a_rule_off():
    assert _reason(_words(10), min_words=None) is None


def test_chinese_words_come_from_jieba():
    # 10 copies of a 12-token sentence: enough words, no spaces anywhere.
    sentence = "我们在公园里看到了很多美丽的花朵。"
    reason, signals = gopher_quality(sentence * 6, GOPHER_QUALITY_DEFAULTS, "zh")
    assert reason is None
    assert signals["gopher.n_words"] >= 50
    assert 1.0 <= signals["gopher.mean_word_length"] <= 3.0
    assert signals["gopher.alpha_words_ratio"] == 1.0  # punctuation tokens are not counted
    # With the English defaults the short jieba words would fail the length rule.
    assert gopher_quality(sentence * 6, GopherQualityParams(), "zh")[0] == "gopher.mean_word_length"


def test_disabled_family_computes_signals_only():
    reason, signals = gopher_quality("tiny", SHORT_TEXT_QUALITY, "en")
    assert reason is None and signals["gopher.n_words"] == 1.0


def test_per_language_overrides():
    strict_zh = ByLanguage(default=GopherQualityParams(), overrides={"zh": GopherQualityParams(min_words=1000)})
    assert gopher_quality("我们在公园里看到了很多美丽的花朵。" * 6, strict_zh, "zh")[0] == "gopher.short_doc"


def _rep(text: str, **overrides) -> str | None:
    return gopher_repetition(text, GopherRepetitionParams(**overrides), "en")[0]


def _distinct_lines(n: int) -> list[str]:
    return [f"Line number {i} talks about topic {i * 7} in its own words." for i in range(n)]


# Only the line-count rule on: the repeated lines also repeat n-grams and characters.
_LINE_RULE_ONLY = dict(
    max_dup_para_frac=None, max_dup_para_char_frac=None, max_dup_line_char_frac=None,
    max_top_ngram_char_frac=(), max_dup_ngram_char_frac=(),
)


def test_dup_line_frac():
    lines = _distinct_lines(7) + ["Repeated line here."] * 4  # 3 repeats in 11 lines = 0.27
    assert _rep("\n".join(lines), **_LINE_RULE_ONLY) is None
    lines = _distinct_lines(6) + ["Repeated line here."] * 5  # 4/11 = 0.36 > 0.3
    assert _rep("\n".join(lines), **_LINE_RULE_ONLY) == "gopher.dup_line_frac"
    assert gopher_repetition("\n".join(lines), lang="en")[1]["gopher.dup_line_frac"] == pytest.approx(4 / 11)


def test_dup_line_char_frac():
    long_line = "A long repeated sentence that is the same every single time it appears here."
    text = "\n".join(_distinct_lines(10) + [long_line] * 3)
    signals = gopher_repetition(text, lang="en")[1]
    assert signals["gopher.dup_line_char_frac"] == pytest.approx(2 * len(long_line) / len(text))
    assert _rep(text, max_dup_line_frac=None) == "gopher.dup_line_char_frac"
    assert _rep(text, max_dup_line_frac=None, max_dup_line_char_frac=0.5, max_dup_para_char_frac=None,
                max_top_ngram_char_frac=(), max_dup_ngram_char_frac=()) is None


def test_dup_paragraphs():
    paragraph = "Same paragraph.\nWith two lines."
    text = "\n\n".join([paragraph] * 3 + ["Other paragraph one.", "Other paragraph two."])
    assert _rep(text) == "gopher.dup_para_frac"  # 2 of 5 repeat
    assert _rep(text, max_dup_para_frac=0.4, max_dup_para_char_frac=None, max_dup_line_frac=None,
                max_dup_line_char_frac=None, max_top_ngram_char_frac=(), max_dup_ngram_char_frac=()) is None


def test_top_ngram_char_frac():
    words = [f"w{i:03d}" for i in range(60)]
    text = " ".join(words + ["click here"] * 8)  # top 2-gram covers 8*9 of 60*4+8*9 word chars
    signals = gopher_repetition(text, lang="en")[1]
    assert signals["gopher.top_2_gram_char_frac"] == pytest.approx(72 / 312)
    assert _rep(text) == "gopher.top_2_gram"
    assert _rep(text, max_top_ngram_char_frac=((2, 0.25),), max_dup_ngram_char_frac=()) is None


def test_dup_ngram_char_frac():
    base = [f"word{i:02d}" for i in range(80)]
    repeated = base[:6]  # one 6-word phrase repeated: 5-grams inside it repeat
    text = " ".join(base + repeated + repeated)
    signals = gopher_repetition(text, lang="en")[1]
    covered = 3 * sum(len(w) for w in repeated)
    total = sum(len(w) for w in base) + 2 * sum(len(w) for w in repeated)
    assert signals["gopher.dup_5_gram_char_frac"] == pytest.approx(covered / total)  # 18/92 > 0.15
    assert _rep(text, max_top_ngram_char_frac=()) == "gopher.dup_5_gram"
    assert signals["gopher.dup_7_gram_char_frac"] == 0.0  # no 7-gram repeats
    loose = tuple((n, 0.25) for n in range(5, 11))
    assert _rep(text, max_top_ngram_char_frac=(), max_dup_ngram_char_frac=loose) is None


def test_repetition_disabled_for_short_texts():
    assert gopher_repetition("ok\nok\nok", SHORT_TEXT_REPETITION, "en")[0] is None


def test_every_reason_is_documented():
    texts = ["x", _words(200_001), "\n".join(["• a b c d"] * 60), "ok\nok\nok\nok"]
    params = dataclasses.replace(GopherQualityParams(), max_words=200_000)
    for text in texts:
        for reason in (gopher_quality(text, params, "en")[0], gopher_repetition(text, lang="en")[0]):
            assert reason is None or reason in REASONS
