"""Chinese/Japanese rules, realistic documents every default rule keeps, and the snapshot of
which real pages of ../shared/data/warc the default rules keep and why the others go.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from corpusforge.filters.c4 import c4_quality
from corpusforge.filters.cjk import SHORT_TEXT, CjkParams, cjk_quality
from corpusforge.filters.common import REASONS
from corpusforge.filters.fineweb import fineweb_quality
from corpusforge.filters.gopher import gopher_quality, gopher_repetition
from corpusforge.text.langid import LangIdParams, detect_language
from corpusforge.text.normalize import normalize_text
from corpusforge.text.segment import configure_segmenter

WARC_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "warc"


@pytest.fixture(scope="module", autouse=True)
def _jieba_cache(tmp_path_factory):
    configure_segmenter(cache_dir=str(tmp_path_factory.getbasetemp() / "jieba"))


def first_reason(text: str, lang: str | None) -> tuple[str | None, list[str]]:
    """The default web pipeline's filter order: (first reason, every rule the page breaks)."""
    broken = [
        gopher_quality(text, lang=lang)[0],
        gopher_repetition(text, lang=lang)[0],
        cjk_quality(text, lang=lang)[0],
        c4_quality(text, lang=lang)[1],
        fineweb_quality(text, lang=lang)[0],
    ]
    reasons = [reason for reason in broken if reason is not None]
    return (reasons[0] if reasons else None), reasons


ZH_NEWS = """\
近日，市农业农村局发布消息，今年全市早稻种植面积比去年增加了百分之五，预计七月中旬开始收割。

据介绍，今年春季气温回升较快，雨水也比较充足，对秧苗的生长十分有利。为了帮助农民提高产量，农技人员深入田间地头，手把手地指导农户科学施肥、合理灌溉。在城东的一个种粮大户家里，记者看到新买的插秧机正在田里来回作业。他告诉记者，过去插秧要请十几个工人忙上一个星期，现在两台机器三天就能干完。

与此同时，各地还在积极推广稻田养鱼、稻虾共作等新的种养模式。这些模式不仅能减少农药的使用，还能让农民多一份收入。一位合作社负责人说，去年他们的稻虾田每亩增收了两千多元，今年报名加入的农户明显多了起来。

专家提醒，夏季是病虫害高发的季节，农户要注意及时查看田间情况。如果发现稻飞虱等害虫，应当在农技人员的指导下用药，不要盲目加大用量。市里还开通了咨询热线，农户遇到问题可以随时打电话询问。
"""

ZH_TRADITIONAL = """\
每年春天，台北的植物園都會吸引許多遊客前來賞花。園區裡種植了上千種植物，其中最受歡迎的是荷花池和蕨類植物區。

管理處的工作人員表示，為了讓民眾更了解植物的生長過程，他們每個週末都會舉辦免費的導覽活動。導覽員會帶著大家一邊散步，一邊介紹各種植物的特點和用途。很多家長帶著孩子來參加，希望孩子能在大自然中學到課本以外的知識。

一位退休的老師說，她幾乎每週都來這裡走走。她覺得在城市裡能有這樣一片安靜的綠地，是一件很幸福的事情。她也提醒遊客，不要隨意採摘花草，讓後來的人也能欣賞到美麗的風景。
"""

EN_ARTICLE = """\
The town council approved a plan on Tuesday to restore the old railway bridge that crosses the river at the north end of the valley. The bridge has been closed to traffic for almost a decade, and residents have long complained that the detour adds twenty minutes to their commute.

Engineers who inspected the structure last year found that the steel frame is still in good condition, but the deck and the supports on the eastern bank need to be replaced. The council expects the work to take about eighteen months and to cost less than building a new crossing.

Several speakers at the meeting asked whether the bridge would be open to cyclists and pedestrians. The mayor said that a separate lane for bikes is part of the design, and that the council will hold another public session before construction begins in the spring.

Local business owners welcomed the decision. One of them said that customers from the other side of the river had stopped coming since the bridge closed, and that reopening it would bring them back.
"""


@pytest.mark.parametrize(("text", "lang"), [(ZH_NEWS, "zh"), (ZH_TRADITIONAL, "zh"), (EN_ARTICLE, "en")])
def test_realistic_documents_are_kept_by_every_rule(text, lang):
    normalized = normalize_text(text)
    for backend in ("langdetect", "fasttext"):
        detected, score = detect_language(normalized, LangIdParams(backend=backend))
        assert detected == lang and score > LangIdParams().min_score
    assert first_reason(normalized, lang) == (None, [])
    cleaned, _, _ = c4_quality(normalized, lang=lang)
    assert cleaned == normalized  # C4's line cleaning removes nothing from real prose


def test_chinese_without_spaces_is_not_penalised():
    normalized = normalize_text(ZH_NEWS)
    assert " " not in normalized.replace("\n", "")
    signals = gopher_quality(normalized, lang="zh")[1] | fineweb_quality(normalized, lang="zh")[1]
    assert signals["gopher.n_words"] > 150  # jieba words, not whitespace tokens
    assert signals["fineweb.newline_word_ratio"] < 0.05


def test_cjk_ratio_rule():
    mostly_latin = "KUNSHAN TRADING CO. LTD is the only agent in China. 联系我们。"
    assert cjk_quality(mostly_latin, lang="zh")[0] == "cjk.low_cjk_ratio"
    assert cjk_quality(mostly_latin, CjkParams(min_cjk_ratio=0.05, max_punct_ratio=None), "zh")[0] is None
    assert cjk_quality(mostly_latin, lang="en") == (None, {})  # only for zh/ja documents
    assert cjk_quality(mostly_latin, SHORT_TEXT, "zh")[0] is None


def test_cjk_punct_ratio_rule():
    bracketed = "".join(f"【{char}】" for char in "随着经济社会的发展")  # 2 marks per character
    reason, signals = cjk_quality(bracketed, lang="zh")
    assert reason == "cjk.punct_ratio" and signals["cjk.punct_ratio"] == pytest.approx(2.0)
    assert cjk_quality(normalize_text(ZH_NEWS), lang="zh")[1]["cjk.punct_ratio"] < 0.15
    assert cjk_quality(bracketed, CjkParams(max_punct_ratio=2.0), "zh")[0] is None


# The 16 HTML responses of resiliparse/warcfile.warc.gz (a 2020 Common Crawl sample), through
# resiliparse main-content extraction, default normalization, langdetect and the default filters.
# The 11 Chinese pages are all spam or have no prose; each is named with why a Chinese reader
# drops it too.
WARCFILE_SNAPSHOT: dict[str, tuple[str, str | None, str]] = {
    "<urn:uuid:c4c112a5-3503-4483-abf8-51a0dd86dd53>": (
        "zh", "cjk.punct_ratio",
        "003338.cn: SEO spam, news snippets stitched together with every character wrapped as 【随】【着】"
        " and a mojibake keyword repeated; not readable text",
    ),
    "<urn:uuid:8ed3a686-65da-4101-830e-298f87a11487>": (
        "zh", "c4.bad_words", "035.psb556.com: a 404 page followed by gambling-site links (现金网, 最高占成, 老虎机)",
    ),
    "<urn:uuid:342e0cfd-c2b7-45c7-a66e-a38fac0c6611>": (
        "zh", "gopher.alpha_words", "041696.com: steel price list and phone numbers, mostly digits, no sentences",
    ),
    "<urn:uuid:bed28f39-c643-401a-b49c-7e936df0cac6>": (
        "zh", "c4.bad_words", "044545.com: gambling 'plan' advertisement (充值, 六合彩, 老虎机, QQ contact)",
    ),
    "<urn:uuid:dda783c9-b4da-466c-b336-d7f0c0dc4ad8>": (
        "zh", "c4.bad_words", "0513mt.com: pornographic novel site (成人小说, 乱伦)",
    ),
    "<urn:uuid:d83e05b0-35af-4d6a-83c9-712ce5448f9a>": (
        "zh", "gopher.short_doc", "05925.net: 19 characters, a porn-category breadcrumb",
    ),
    "<urn:uuid:142fdccd-c2db-48a9-8481-694f3dfe9664>": (
        "zh", "gopher.alpha_words", "0615235.com: product-code catalogue (WJ-BJB_1, 点击：1290), no prose",
    ),
    "<urn:uuid:227065ee-6bae-4612-a57b-e538345a71f2>": (
        "zh", "gopher.short_doc", "0755krk.com: only a pagination bar (首页 1 2 3 … 下一页)",
    ),
    "<urn:uuid:dd19c4f1-355e-4551-a27f-a7038a8c77a6>": (
        "zh", "c4.bad_words", "0760.jxtdw.com: job-site menu stuffed with gambling spam (送彩金, 博彩公司)",
    ),
    "<urn:uuid:8b2d385d-71ab-4711-b957-0f4a7d1737e1>": (
        "zh", "gopher.bullet_lines", "077678u.info: a list of lottery-tip link titles (特马, 开马)",
    ),
    "<urn:uuid:5caf7c30-270f-4422-b8a8-39520a630f93>": (
        "zh", "gopher.short_doc", "096355.com: the title of a porn video, 50 characters",
    ),
    "<urn:uuid:29666a04-2c62-44ca-b0e5-83178f324260>": ("en", None, "037426.cn: English company profile"),
    "<urn:uuid:e9e41f63-d478-42d0-bca8-1af2be3245a3>": ("ru", None, "01spb.ru: fire-safety company page"),
    "<urn:uuid:2be52b4e-8dbf-4d7e-8050-990fcfdeab0b>": ("nl", None, "0900-hovenier.nl: gardener service page"),
    "<urn:uuid:7323c152-4ff3-4722-abab-0c34486605bc>": (
        "de", "gopher.short_doc", "live-radsport.ch: empty rider-statistics template with a SQL error",
    ),
    "<urn:uuid:4a39d927-39b4-4e51-b0cb-6747fa3b26a9>": (
        "de", "gopher.alpha_words", "live-radsport.ch: tipping-game menu of archive years",
    ),
}


def _warc_pages(path: Path) -> dict[str, str]:
    fastwarc = pytest.importorskip("fastwarc.warc")
    encoding = pytest.importorskip("resiliparse.parse.encoding")
    html2text = pytest.importorskip("resiliparse.extract.html2text")
    pages = {}
    with path.open("rb") as stream:
        for record in fastwarc.ArchiveIterator(stream, record_types=fastwarc.WarcRecordType.response):
            body = record.reader.read()
            html = encoding.bytes_to_str(body, encoding.detect_encoding(body))  # GBK pages decode here
            pages[record.record_id] = html2text.extract_plain_text(html, main_content=True)
    return pages


def test_real_pages_of_warcfile_snapshot():
    path = WARC_DIR / "resiliparse" / "warcfile.warc.gz"
    if not path.is_file():
        pytest.skip(f"shared test data not found at {path}")
    pages = _warc_pages(path)
    assert set(pages) == set(WARCFILE_SNAPSHOT)
    observed = {}
    for record_id, raw_text in pages.items():
        text = normalize_text(raw_text)
        lang, _ = detect_language(text)
        observed[record_id] = (lang, first_reason(text, lang)[0])
    expected = {record_id: (lang, reason) for record_id, (lang, reason, _) in WARCFILE_SNAPSHOT.items()}
    assert observed == expected
    assert sum(1 for lang, _ in observed.values() if lang == "zh") == 11
    assert all(reason is None or reason in REASONS for _, reason in observed.values())
