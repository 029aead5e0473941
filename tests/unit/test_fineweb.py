"""FineWeb quality rules: each threshold from both sides, and the reason returned."""
from __future__ import annotations

import pytest

from corpusforge.filters.common import REASONS
from corpusforge.filters.fineweb import FINEWEB_DEFAULTS, SHORT_TEXT, FineWebParams, fineweb_quality
from corpusforge.text.segment import configure_segmenter


@pytest.fixture(scope="module", autouse=True)
def _jieba_cache(tmp_path_factory):
    configure_segmenter(cache_dir=str(tmp_path_factory.getbasetemp() / "jieba"))


PROSE = "This line is long enough to not count as short and it ends well."  # 66 chars
NO_PUNCT = "This line is long enough to not count as short but has no end mark"


def _only(**overrides) -> FineWebParams:
    off = dict(min_line_punct_ratio=None, max_short_line_ratio=None, max_char_dup_ratio=None,
               max_newline_word_ratio=None)
    return FineWebParams(**(off | overrides))


def _numbered(line: str, n: int) -> list[str]:
    return [f"{i} {line}" for i in range(n)]  # distinct lines, so no duplicate-line effect


def test_line_punct_ratio():
    lines_12 = _numbered(PROSE, 12) + _numbered(NO_PUNCT, 88)  # exactly 0.12
    lines_11 = _numbered(PROSE, 11) + _numbered(NO_PUNCT, 89)
    params = _only(min_line_punct_ratio=0.12)
    assert fineweb_quality("\n".join(lines_12), params, "en")[0] is None
    reason, signals = fineweb_quality("\n".join(lines_11), params, "en")
    assert reason == "fineweb.line_punct_ratio" and signals["fineweb.line_punct_ratio"] == pytest.approx(0.11)


def test_line_punct_exclude_zero():
    text = "\n".join(_numbered(NO_PUNCT, 5))
    assert fineweb_quality(text, _only(min_line_punct_ratio=0.12), "en")[0] == "fineweb.line_punct_ratio"
    assert fineweb_quality(text, _only(min_line_punct_ratio=0.12, line_punct_exclude_zero=True), "en")[0] is None


def test_short_line_ratio():
    two_thirds = _numbered("Short one.", 2) + _numbered(PROSE, 1)  # 0.667 <= 0.67
    three_quarters = _numbered("Short one.", 3) + _numbered(PROSE, 1)
    params = _only(max_short_line_ratio=0.67)
    assert fineweb_quality("\n".join(two_thirds), params, "en")[0] is None
    assert fineweb_quality("\n".join(three_quarters), params, "en")[0] == "fineweb.short_line_ratio"


def test_char_dup_ratio():
    text = "\n".join(_numbered(PROSE, 9) + [PROSE, PROSE])  # one repeat of 66 chars
    signals = fineweb_quality(text, lang="en")[1]
    assert signals["fineweb.char_dup_ratio"] == pytest.approx(len(PROSE) / (len(text) - text.count("\n")))
    assert fineweb_quality(text, _only(max_char_dup_ratio=0.1), "en")[0] is None  # ~0.09
    assert fineweb_quality(text, _only(max_char_dup_ratio=0.05), "en")[0] == "fineweb.char_dup_ratio"


def test_list_ratio():
    # 4 newlines over 10 words = 0.4 > 0.3; over 20 words = 0.2.
    ten_words = "\n".join(["one two.", "three four.", "five six.", "seven eight.", "nine ten."])
    twenty = "\n".join(["one two three four.", "five six seven eight.", "a b c d.", "e f g h.", "i j k l."])
    params = _only(max_newline_word_ratio=0.3)
    assert fineweb_quality(ten_words, params, "en")[0] == "fineweb.list_ratio"
    assert fineweb_quality(twenty, params, "en")[0] is None


def test_chinese_lines_end_with_chinese_punctuation():
    lines = ["今天上午，学校组织全体学生参加了植树活动。", "同学们分成小组，在操场旁边种下了二十棵树。"] * 1
    reason, signals = fineweb_quality("\n".join(lines), FINEWEB_DEFAULTS, "zh")
    assert reason is None and signals["fineweb.line_punct_ratio"] == 1.0
    # 20 characters is a full Chinese sentence: not short for zh, short for the English default.
    assert signals["fineweb.short_line_ratio"] == 0.0
    assert fineweb_quality("\n".join(lines), FineWebParams(), "zh")[1]["fineweb.short_line_ratio"] == 1.0


def test_short_text_preset():
    assert fineweb_quality("Nice", SHORT_TEXT, "en")[0] is None
    assert fineweb_quality("Nice", lang="en")[0] in REASONS
