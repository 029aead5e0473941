"""Language identification: determinism, code normalization across backends, drop reasons."""
from __future__ import annotations

import multiprocessing

import pytest

from corpusforge.filters.common import REASONS
from corpusforge.text.langid import (
    LangIdParams,
    detect_batch,
    detect_language,
    langid_reason,
    lite_model_path,
    normalize_language_code,
)

TEXTS = {
    "en": "The committee will publish its final report on water quality early next spring.",
    "zh": "今天下午，市图书馆举办了一场关于城市历史的讲座，吸引了很多市民参加。",
    "zh_tw": "今天下午，市圖書館舉辦了一場關於城市歷史的講座，吸引了很多市民參加。",
    "de": "Der Gärtner pflegt den Garten und schneidet die Hecken jeden Sommer.",
    "ru": "Мы проектируем и обслуживаем системы пожарной безопасности для магазинов.",
}
# Short and mixed texts are where an unseeded langdetect flips between runs.
AMBIGUOUS = ["ok merci", "Hallo hello", "si no", "Tel Fax E-mail", "ciao bella ragazza"]
BACKENDS = ("langdetect", "fasttext")


@pytest.mark.parametrize("backend", BACKENDS)
def test_languages_and_codes(backend):
    params = LangIdParams(backend=backend)
    for expected, text in [("en", TEXTS["en"]), ("zh", TEXTS["zh"]), ("zh", TEXTS["zh_tw"]),
                           ("de", TEXTS["de"]), ("ru", TEXTS["ru"])]:
        lang, score = detect_language(text, params)
        assert lang == expected, (backend, text)
        assert 0.5 < score <= 1.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_letters_is_no_text(backend):
    params = LangIdParams(backend=backend)
    for text in ("", "   ", "12 345 -- 67.8 %", "!!! ??? ..."):
        assert detect_language(text, params) == (None, 0.0)
    assert langid_reason(*detect_language("2024-01-01", params), params) == "langid.no_text"


def test_langdetect_is_deterministic_and_order_independent():
    params = LangIdParams()
    forward = [detect_language(text, params) for text in AMBIGUOUS]
    backward = [detect_language(text, params) for text in reversed(AMBIGUOUS)][::-1]
    assert forward == backward
    assert [detect_language(text, params) for text in AMBIGUOUS] == forward


def _detect_in_child(texts: list[str]) -> list[tuple[str | None, float]]:
    return detect_batch(texts, LangIdParams())


def test_langdetect_is_seeded_inside_a_fresh_process():
    # A spawned process never sees the parent's factory, like a Spark Python worker.
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        child = pool.apply(_detect_in_child, (AMBIGUOUS,))
    assert child == [detect_language(text) for text in AMBIGUOUS]


def test_prefix_bound():
    text = TEXTS["de"] + " " + TEXTS["en"] * 50
    assert detect_language(text, LangIdParams(prefix_chars=len(TEXTS["de"])))[0] == "de"
    assert detect_language(text, LangIdParams(prefix_chars=100_000))[0] == "en"


def test_code_normalization():
    assert [normalize_language_code(c) for c in ("zh-cn", "zh-tw", "__label__zh", "en", "iw", "in")] == [
        "zh", "zh", "zh", "en", "he", "id",
    ]


def test_reasons():
    params = LangIdParams(keep=("en", "zh"), min_score=0.8)
    assert langid_reason("en", 0.8, params) is None  # min_score is inclusive
    assert langid_reason("en", 0.79, params) == "langid.low_score"
    assert langid_reason("de", 0.99, params) == "langid.unwanted_language"
    assert langid_reason(None, 0.0, params) == "langid.no_text"
    assert langid_reason("de", 0.99, LangIdParams(keep=())) is None  # empty keep = all languages
    for reason in ("langid.no_text", "langid.low_score", "langid.unwanted_language"):
        assert reason in REASONS


def test_lite_model_ships_in_the_wheel():
    path = lite_model_path()
    assert path.name == "lid.176.ftz" and path.stat().st_size < 2_000_000  # not the 126 MB .bin


def test_unknown_backend_is_named():
    with pytest.raises(ValueError, match="nope"):
        detect_language("hello world", LangIdParams(backend="nope"))  # type: ignore[arg-type]
