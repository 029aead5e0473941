"""The process-wide jieba segmenter: its cache directory, user dictionary and output."""
from __future__ import annotations

import pytest

from corpusforge.text import segment
from corpusforge.text.segment import configure_segmenter, segment_batch, segment_words


@pytest.fixture(autouse=True)
def _restore(tmp_path_factory):
    yield
    configure_segmenter(cache_dir=str(tmp_path_factory.getbasetemp() / "jieba"))


def test_cache_file_goes_to_the_configured_directory(tmp_path):
    configure_segmenter(cache_dir=str(tmp_path / "cache"))
    assert segment_words("我爱北京天安门") == ["我", "爱", "北京", "天安门"]
    assert (tmp_path / "cache" / "jieba.cache").is_file()


def test_env_variable_names_the_cache_directory(tmp_path, monkeypatch):
    monkeypatch.setenv(segment.CACHE_ENV, str(tmp_path / "from_env"))
    configure_segmenter(cache_dir=None)
    segment_words("测试")
    assert (tmp_path / "from_env" / "jieba.cache").is_file()


def test_tokenizer_is_built_once_per_process(tmp_path):
    configure_segmenter(cache_dir=str(tmp_path))
    segment_words("第一次")
    first = segment._tokenizer
    segment_words("第二次")
    assert segment._tokenizer is first
    configure_segmenter(cache_dir=str(tmp_path))  # same settings: the loaded dictionary stays
    assert segment._tokenizer is first


def test_user_dictionary(tmp_path):
    user_dict = tmp_path / "user.txt"
    user_dict.write_text("语料锻造 10 n\n", encoding="utf-8")
    configure_segmenter(cache_dir=str(tmp_path), user_dict=None)
    assert "语料锻造" not in segment_words("语料锻造很好用")
    configure_segmenter(cache_dir=str(tmp_path), user_dict=str(user_dict))
    assert segment_words("语料锻造很好用")[0] == "语料锻造"


def test_no_whitespace_tokens_and_mixed_text(tmp_path):
    configure_segmenter(cache_dir=str(tmp_path))
    words = segment_words("  北京 欢迎你 \n Hello  world\t2024年 ")
    assert all(word.strip() for word in words)
    assert "Hello" in words and "world" in words and "北京" in words
    assert segment_words("") == []
    assert segment_batch(["北京", ""]) == [["北京"], []]
