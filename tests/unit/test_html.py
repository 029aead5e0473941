"""Charset resolution and extraction (corpusforge.ingest.html)."""
from __future__ import annotations

import pytest

from corpusforge.errors import ConfigError
from corpusforge.ingest.html import (
    charset_from_content_type,
    decode_html,
    html_to_text,
    normalize_charset,
    sniff_meta_charset,
)

PAGE = "<html><head><title>t</title></head><body><article><p>{}</p></article></body></html>"


def test_normalize_charset_maps_to_supersets() -> None:
    assert normalize_charset("gb2312") == "gb18030"
    assert normalize_charset("GBK") == "gb18030"
    assert normalize_charset("ISO-8859-1") == "cp1252"
    assert normalize_charset("windows-1251") == "cp1251"
    assert normalize_charset("x-euc-jp") == "euc_jp"
    assert normalize_charset("bogus-charset") is None
    # Changed on purpose: labels the WHATWG table does not know but Python does decode with
    # Python's codec of that name (they were taken as UTF-8 before).
    assert normalize_charset("cp949") == "cp949" and normalize_charset("big5hkscs") == "big5hkscs"
    assert decode_html("<p>한국어</p>".encode("cp949"), "text/html; charset=cp949").charset_source == "http"
    assert normalize_charset("") is None and normalize_charset(None) is None


def test_charset_sources() -> None:
    assert charset_from_content_type("text/html;charset=UTF-8") == "UTF-8"
    assert sniff_meta_charset(b"<meta http-equiv='content-type' content='text/html; charset=gbk'>") == "gbk"
    assert sniff_meta_charset(b" " * 5000 + b"<meta charset=gbk>") is None  # beyond the sniff window


def test_http_charset_wins_when_it_decodes() -> None:
    body = PAGE.format("Привет, мир").encode("cp1251")
    decoded = decode_html(body, "text/html; charset=windows-1251")
    assert decoded is not None and "Привет, мир" in decoded.text and decoded.charset_source == "http"


def test_wrong_http_charset_falls_through_to_meta() -> None:
    body = ("<meta charset='gb2312'>" + PAGE.format("中文内容，简体字")).encode("gb18030")
    decoded = decode_html(body, "text/html; charset=utf-8")
    assert decoded is not None and decoded.charset_source == "meta" and "中文内容" in decoded.text


def test_latin1_label_on_utf8_bytes_reads_utf8() -> None:
    body = PAGE.format("Crème brûlée").encode("utf-8")
    decoded = decode_html(body, "text/html; charset=iso-8859-1")
    assert decoded is not None and "Crème brûlée" in decoded.text and "Ã" not in decoded.text


def test_detection_without_labels() -> None:
    text = "这是一个没有声明字符集的中文网页，我们需要通过统计检测来识别它的编码。" * 5
    decoded = decode_html(PAGE.format(text).encode("gb18030"))
    assert decoded is not None and text in decoded.text and decoded.charset_source == "detected"


def test_bom_overrides_labels() -> None:
    decoded = decode_html(b"\xef\xbb\xbf" + PAGE.format("naïve").encode(), "text/html; charset=cp1251")
    assert decoded is not None and decoded.charset_source == "bom" and "naïve" in decoded.text


def test_bytes_no_charset_reads_cleanly_are_undecodable() -> None:
    # Every high byte, repeated: invalid UTF-8, and the detector finds no charset in which
    # it decodes without replacement characters.
    assert decode_html(b"<html>" + bytes(range(0x80, 0x100)) * 40, "text/html; charset=utf-8") is None


@pytest.mark.parametrize("extractor", ["resiliparse", "trafilatura"])
def test_extractors_keep_main_text(extractor: str) -> None:
    paragraph = "The committee met on Tuesday and agreed the budget for the next year after a long debate."
    html = (
        "<html><body><nav><a href='/'>Home</a> <a href='/x'>About</a></nav>"
        f"<article><h1>Budget agreed</h1><p>{paragraph}</p><p>{paragraph}</p></article>"
        "<footer>Copyright 2024</footer></body></html>"
    )
    text = html_to_text(html, extractor)
    assert paragraph in text
    assert "Copyright 2024" not in text


def test_empty_page_extracts_to_empty_string() -> None:
    assert html_to_text("<html><body></body></html>") == ""


def test_unknown_extractor_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="html_extractor"):
        html_to_text("<p>x</p>", "nope")
