"""C4 line cleaning and page rules, English and Chinese."""
from __future__ import annotations

import pytest

from corpusforge.filters.c4 import C4_DEFAULTS, SHORT_TEXT, C4Params, c4_quality
from corpusforge.filters.common import REASONS
from corpusforge.text.segment import configure_segmenter


@pytest.fixture(scope="module", autouse=True)
def _jieba_cache(tmp_path_factory):
    configure_segmenter(cache_dir=str(tmp_path_factory.getbasetemp() / "jieba"))


SENTENCES = [
    "The river rose quickly after three days of heavy rain.",
    "Farmers moved their cattle to higher ground before dawn.",
    "Local volunteers filled sandbags outside the town hall.",
    "The mayor thanked everyone who helped during the night.",
    "Officials expect the water to recede by the end of the week.",
]


def test_five_sentences_are_kept_four_are_not():
    text = "\n".join(SENTENCES)
    cleaned, reason, signals = c4_quality(text, lang="en")
    assert reason is None and cleaned == text and signals["c4.n_sentences"] == 5.0
    cleaned, reason, signals = c4_quality("\n".join(SENTENCES[:4]), lang="en")
    assert reason == "c4.too_few_sentences" and signals["c4.n_sentences"] == 4.0


def test_line_cleaning_removes_non_prose_lines():
    page = "\n".join(
        ["Home | News | Contact", "Please enable JavaScript to view comments.",
         "This site uses cookies to improve your experience.", "Read our privacy policy.", "Too short."]
        + SENTENCES
    )
    cleaned, reason, signals = c4_quality(page, lang="en")
    assert reason is None
    assert cleaned == "\n".join(SENTENCES)
    assert signals["c4.n_lines_removed"] == 5.0
    assert signals["c4.lines_removed_frac"] == pytest.approx(5 / 10)


def test_three_words_per_line():
    assert c4_quality("Two words.", C4Params(min_sentences=None), "en")[0] == ""
    assert c4_quality("Three words here.", C4Params(min_sentences=None), "en")[0] == "Three words here."


def test_long_word_line_removed():
    line = "A line with a " + "x" * 1001 + " word."
    assert c4_quality(line, C4Params(min_sentences=None), "en")[0] == ""
    assert c4_quality(line, C4Params(min_sentences=None, max_word_length=2000), "en")[0] == line


def test_citations_are_stripped_not_the_line():
    text = "\n".join(s[:-1] + "[1]." if i == 0 else s for i, s in enumerate(SENTENCES))
    text = text.replace("rain", "rain[citation needed]")
    cleaned, reason, _ = c4_quality(text, lang="en")
    assert reason is None and "[" not in cleaned


@pytest.mark.parametrize(
    ("extra", "reason"),
    [("Lorem ipsum dolor sit amet.", "c4.lorem_ipsum"),
     ("function f() { return 1; }", "c4.curly_bracket"),
     ("Watch the best porno clips here.", "c4.bad_words")],
)
def test_page_rules(extra, reason):
    assert c4_quality("\n".join(SENTENCES + [extra]), lang="en")[1] == reason
    assert reason in REASONS


def test_page_rules_can_be_turned_off():
    text = "\n".join(SENTENCES + ["Lorem ipsum dolor sit amet, a { b."])
    params = C4Params(drop_lorem_ipsum=False, drop_curly_bracket=False)
    assert c4_quality(text, params, "en")[1] is None


def test_bad_word_needs_a_whole_word():
    # "Scunthorpe" contains a listed word but is a town.
    assert c4_quality("\n".join(SENTENCES + ["We drove to Scunthorpe last week."]), lang="en")[1] is None


CHINESE = [
    "昨天下午，市图书馆举办了一场关于城市历史的讲座。",
    "主讲人是一位在本地生活了四十多年的老教师。",
    "他用许多老照片讲述了街道和建筑的变化。",
    "现场的听众有老人，也有带着孩子的年轻父母。",
    "讲座结束后，不少人留下来和他交流自己的回忆。",
]


def test_chinese_sentences_and_lines():
    text = "\n".join(["首页 > 新闻 > 本地"] + CHINESE + ["隐私政策与使用条款。"])
    cleaned, reason, signals = c4_quality(text, C4_DEFAULTS, "zh")
    assert reason is None
    assert cleaned == "\n".join(CHINESE)  # menu line (no 。) and policy line removed
    assert signals["c4.n_sentences"] == 5.0
    assert c4_quality("\n".join(CHINESE[:4]), C4_DEFAULTS, "zh")[1] == "c4.too_few_sentences"


def test_chinese_bad_words_match_inside_the_text():
    spam = "\n".join(CHINESE + ["注册即送彩金，欢迎加入我们的平台。"])
    assert c4_quality(spam, C4_DEFAULTS, "zh")[1] == "c4.bad_words"


def test_short_text_preset_keeps_text_unchanged():
    review = "Great phone, battery lasts two days"
    assert c4_quality(review, SHORT_TEXT, "en")[:2] == (review, None)
