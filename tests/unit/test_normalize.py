"""Normalization steps one by one."""
from __future__ import annotations

from corpusforge.text.dedup_key import dedup_key
from corpusforge.text.normalize import NormalizeParams, normalize_batch, normalize_text

ALL_OFF = NormalizeParams(fix_mojibake=False, strip_control=False, collapse_whitespace=False, fullwidth_ascii=False)


def test_mojibake_is_repaired_and_curly_quotes_kept():
    assert normalize_text("The cafÃ© said â€œhelloâ€\x9d") == "The café said “hello”"
    assert normalize_text("cafÃ©", NormalizeParams(fix_mojibake=False)) == "cafÃ©"


def test_unicode_forms():
    decomposed = "e\u0301"
    assert normalize_text(decomposed) == "\u00e9"  # NFC composes
    assert normalize_text("ﬁ ㎏", NormalizeParams(form="NFKC")) == "fi kg"
    assert normalize_text("ﬁ", NormalizeParams()) == "ﬁ"  # NFC leaves compatibility characters


def test_control_and_zero_width_removed_but_joiners_and_tabs_kept():
    text = "a\u200bb\x00c\ufeffd\u00ade\x07f"
    assert normalize_text(text, NormalizeParams(collapse_whitespace=False)) == "abcdef"
    persian = "می\u200cخواهم"  # ZWNJ is part of the spelling
    assert normalize_text(persian) == persian
    assert normalize_text("a\tb\r\nc", NormalizeParams(collapse_whitespace=False)) == "a\tb\nc"
    assert normalize_text("a\u200bb", NormalizeParams(strip_control=False)) == "a\u200bb"


def test_whitespace_collapsing():
    text = "  first   line  \n\n\n\n second\u3000\u3000line \n"
    assert normalize_text(text) == "first line\n\nsecond line"
    assert normalize_text(text, ALL_OFF) == text


def test_fullwidth_letters_and_digits_but_not_chinese_punctuation():
    assert normalize_text("ＧＤＰ增长５％，好！") == "GDP增长５％，好！".replace("５", "5")
    assert normalize_text("ＡＢ，！", NormalizeParams(fullwidth_punctuation=True)) == "AB,!"
    assert normalize_text("ＡＢ", NormalizeParams(fullwidth_ascii=False)) == "ＡＢ"


def test_to_simplified_is_opt_in():
    assert normalize_text("開放中文轉換") == "開放中文轉換"
    assert normalize_text("開放中文轉換", NormalizeParams(to_simplified=True)) == "开放中文转换"


def test_dedup_key_does_not_depend_on_normalization():
    raw = "ＨＥＬＬＯ\u200b  world!\n\n\n\n開放"
    assert dedup_key(normalize_text(raw)) == dedup_key(normalize_text(raw, ALL_OFF)) == dedup_key(raw)


def test_batch_keeps_nulls():
    assert normalize_batch(["a   b", None, ""]) == ["a b", None, ""]


def test_mojibake_repair_skips_only_lines_ftfy_would_leave_alone():
    # fix_mojibake runs ftfy on the lines with a clue; it must equal ftfy on the whole text
    import json
    from pathlib import Path

    import ftfy

    from corpusforge.text.normalize import _FTFY_CONFIG, fix_mojibake

    sample = Path(__file__).parents[2] / "corpusforge" / "data" / "sample" / "jsonl" / "mixed-news.jsonl"
    texts = []
    for line in sample.read_text(encoding="utf-8").splitlines():
        try:
            texts.append(json.loads(line)["text"])
        except (ValueError, KeyError, TypeError):  # the sample's deliberately malformed records
            continue
    mangled = []
    for text in texts:
        for codec in ("cp1252", "latin-1", "mac_roman", "cp1251", "cp437", "cp1253"):
            broken = text.encode("utf-8").decode(codec, errors="replace")
            mangled.append(f"{text}\n{broken}\r\nÂ tail\n\n{broken[:40]}")  # good and broken lines mixed
    mangled += ["Ã ", "caf\x81e\n", "“quoted” • bullet\nplain", "x\ud800y", "\n\n", ""]
    assert sum(fix_mojibake(t) != t for t in mangled) > len(texts)  # the repair does happen
    assert [fix_mojibake(t) for t in texts + mangled] == [ftfy.fix_text(t, _FTFY_CONFIG) for t in texts + mangled]


def test_whitespace_collapses_over_the_whole_text_as_it_did_line_by_line():
    import random
    import re

    from corpusforge.text.normalize import _collapse_whitespace

    def line_by_line(text):  # the rule as first written
        lines = [re.sub(r"[^\S\n]+", " ", line).strip() for line in text.split("\n")]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()

    rng = random.Random(7)
    texts = ["".join(rng.choice("ab \t\n\u3000\x1c\u00a0") for _ in range(rng.randrange(40))) for _ in range(20000)]
    assert [_collapse_whitespace(t) for t in texts] == [line_by_line(t) for t in texts]


def test_the_collapsed_check_knows_every_whitespace_character():
    # `_is_collapsed` lets a text through untouched: it must see every character split() splits on
    import sys

    from corpusforge.text.normalize import _OTHER_WHITESPACE, _collapse_whitespace, _is_collapsed

    whitespace = [chr(cp) for cp in range(sys.maxunicode + 1) if chr(cp).isspace()]
    assert [c for c in whitespace if not _OTHER_WHITESPACE.match(c)] == ["\n", " "]
    assert all(not _OTHER_WHITESPACE.match(chr(cp)) for cp in range(sys.maxunicode + 1) if not chr(cp).isspace())
    for run in [c * 2 for c in whitespace if c != "\n"] + ["\n" * 3]:
        assert not _is_collapsed(f"a{run}b") and _collapse_whitespace(f"a{run}b") != f"a{run}b"


def test_ftfy_gate_answers_what_the_badness_search_does():
    # fix_mojibake tries ftfy's badness regex only near clue characters; on lines made of those
    # characters and the ones the regex pairs them with, the answer must equal a whole-line search
    import random

    from ftfy.badness import BADNESS_RE, MOJIBAKE_CATEGORIES

    from corpusforge.text.normalize import _ftfy_would_look

    alphabet = "".join(sorted(set("".join(MOJIBAKE_CATEGORIES.values()) + "ŒœÂÃÎÐ×ØÙà√≈‚вВГРСβΒΓΞΟāЂў€°¢π±∂†≠®™´≤≥¥µø"
                                  "abcxyzABC .,?!\t\u00a0\u3001好“”•")))
    rng = random.Random(11)
    lines = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 9))) for _ in range(60000)]
    lines += ["x\ud800", "plain ascii", "", "“quoted” • bullet", "Ã ", "caf\x81e"]
    expected = [bool(BADNESS_RE.search(line)) or "\ud800" in line for line in lines]
    assert 0.05 < sum(expected) / len(lines) < 0.95  # both answers are well exercised
    assert [_ftfy_would_look(line) for line in lines] == expected
