"""The one table of CJK script ranges; every CJK character class in the package is built from it.

Chinese detection (`text.zh.CJK_CHAR`), the CJK filters (`filters.common.CJK_OR_KANA`), the
script checks of language ID (`text.langid`) and MinHash's choice of character shingles
(`dedup.minhash`) each take the scripts they need from here, so a range is written once.
"""
from __future__ import annotations

import re

# Code point ranges (inclusive) by script.
CJK_SCRIPT_RANGES: dict[str, tuple[tuple[int, int], ...]] = {
    "han": ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF)),  # ideographs: Extension A, unified, compatibility
    "kana": ((0x3040, 0x30FF), (0x31F0, 0x31FF)),  # hiragana and katakana, katakana phonetic extensions
    "hangul": ((0xAC00, 0xD7AF), (0x1100, 0x11FF)),  # syllables, jamo
    "hangul_compat": ((0x3130, 0x318F),),  # compatibility jamo
}


# Whitespace of str.split() other than U+0020 (every c with c.isspace(); a unit test recomputes it).
OTHER_WHITESPACE = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f\x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + (
    "\u2028\u2029\u202f\u205f\u3000"
)


def script_ranges(*scripts: str) -> tuple[tuple[int, int], ...]:
    """The ranges of `scripts`, in the order given.

    >>> script_ranges("kana")
    ((12352, 12543), (12784, 12799))
    """
    return tuple(r for script in scripts for r in CJK_SCRIPT_RANGES[script])


def script_class(*scripts: str) -> re.Pattern[str]:
    """A regex matching one character of any of `scripts`.

    >>> bool(script_class("han").match("中")), bool(script_class("han").match("か")), bool(script_class("kana").match("か"))
    (True, False, True)
    """
    return re.compile("[" + "".join(f"{chr(low)}-{chr(high)}" for low, high in script_ranges(*scripts)) + "]")
