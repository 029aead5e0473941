"""Chinese text helpers: traditional → simplified conversion (OpenCC, phrase-aware).

OpenCC's converters are built once per process (per Python worker in Spark).
"""
from __future__ import annotations

import functools

import opencc

from corpusforge.text.scripts import script_class

CJK_CHAR = script_class("han")  # CJK Unified Ideographs, Extension A and compatibility ideographs


@functools.lru_cache(maxsize=None)
def _converter(config: str) -> opencc.OpenCC:
    return opencc.OpenCC(config)


def has_cjk(text: str) -> bool:
    """True when `text` contains at least one CJK ideograph.

    >>> has_cjk("hello 世界"), has_cjk("hello")
    (True, False)
    """
    return CJK_CHAR.search(text) is not None


def to_simplified(text: str) -> str:
    """Convert traditional Chinese to simplified with OpenCC's phrase tables (t2s).

    >>> to_simplified("開放中文轉換")
    '开放中文转换'
    """
    if not has_cjk(text):
        return text
    return _converter("t2s").convert(text)
