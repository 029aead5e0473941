"""Stop words: very frequent function words whose presence signals running prose.

English: the eight words the Gopher paper (Rae et al. 2021) checks for. Chinese: common
particles, pronouns, prepositions and conjunctions, chosen so that jieba emits them as
single tokens in ordinary prose (written for this project).
"""
from __future__ import annotations

ENGLISH: frozenset[str] = frozenset({"the", "be", "to", "of", "and", "that", "have", "with"})

CHINESE: frozenset[str] = frozenset(
    {
        "的", "了", "是", "在", "和", "有", "我", "你", "他", "她", "它", "我们", "他们",
        "这", "那", "这个", "也", "就", "都", "而", "与", "及", "并", "或", "但", "但是",
        "因为", "所以", "如果", "对", "把", "被", "从", "向", "让", "给", "为", "以",
        "于", "中", "上", "个", "着", "过", "吗", "呢", "吧", "啊", "不", "没有", "很",
        "还", "又", "再", "之", "其", "该", "将", "已", "已经", "可以", "要", "会", "能",
    }
)

JAPANESE: frozenset[str] = frozenset(
    {"の", "に", "は", "を", "た", "が", "で", "て", "と", "し", "れ", "さ", "ある", "いる", "も", "な"}
)

BY_LANGUAGE: dict[str, frozenset[str]] = {"en": ENGLISH, "zh": CHINESE, "ja": JAPANESE}
