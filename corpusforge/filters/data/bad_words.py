"""Bad-word lists for the C4 bad-words rule, written for this project (Apache-2.0).

Only unambiguous terms: C4 drops a whole page on one hit, so a word with an innocent reading
("cock", "强奸" in a court report, "彩票" in lottery news) must not be here. The Chinese list
also names the gambling-spam phrases that, with pornography, make up most Chinese web spam
(送彩金 "free betting credit", 最高占成 "highest agent share"): no ordinary page uses them.
English terms are matched as whole words, case-insensitively; Chinese terms as substrings,
since jieba may split a phrase such as 送彩金 into 送 / 彩金. "porn" alone is left out: research
and news pages discuss "revenge porn" (one of the real dolma test pages does).
"""
from __future__ import annotations

ENGLISH: frozenset[str] = frozenset(
    {
        "fuck", "fucked", "fucker", "fuckers", "fucking", "motherfucker", "cunt", "cunts",
        "blowjob", "blowjobs", "handjob", "cumshot", "gangbang", "bukkake", "porno",
        "pornhub", "xvideos", "milf", "hentai", "dildo", "deepthroat", "shemale", "camgirls",
        "anal sex", "hardcore sex", "sex videos", "xxx videos",
    }
)

CHINESE: frozenset[str] = frozenset(
    {
        # pornography
        "色情片", "成人小说", "成人电影", "成人视频", "乱伦", "黄色网站", "自拍偷拍", "欧美色图",
        "激情小说", "裸聊", "一夜情", "av女优", "无码", "性爱视频", "操逼", "肏",
        # gambling spam
        "送彩金", "博彩公司", "网上赌场", "百家乐", "老虎机", "六合彩", "时时彩", "现金网",
        "最高占成", "最高返水", "开奖现场直播", "娱乐开户", "真人娱乐", "彩票网投",
    }
)

BY_LANGUAGE: dict[str, frozenset[str]] = {"en": ENGLISH, "zh": CHINESE}
