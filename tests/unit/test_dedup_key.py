import sys

from corpusforge.text.dedup_key import doc_id, dedup_key, text_hash


def test_key_ignores_case_width_punctuation_and_spacing():
    assert dedup_key("Hello,  World!") == dedup_key("hello world") == "hello world"
    assert dedup_key("ＨＥＬＬＯ\tworld…") == "hello world"


def test_key_maps_traditional_to_simplified():
    assert dedup_key("今天上午，市政府召開新聞發佈會。") == dedup_key("今天上午，市政府召开新闻发布会。")


def test_key_keeps_words_apart():
    assert dedup_key("don't stop") != dedup_key("dont stop")
    assert dedup_key("a b c") != dedup_key("a c b")


def test_text_hash_and_doc_id_are_stable_hex():
    assert text_hash("hello world") == text_hash("hello world")
    assert len(text_hash("x")) == 32 and int(text_hash("x"), 16) >= 0
    a = doc_id("sample/a.jsonl", "1")
    assert a == doc_id("sample/a.jsonl", "1") and len(a) == 32
    assert a != doc_id("sample/a.jsonl", "2") != doc_id("sample/b.jsonl", "1")
    # NUL-separated: the key/locator boundary cannot be forged by concatenation.
    assert doc_id("ab", "c") != doc_id("a", "bc")


def test_the_lookup_maps_every_code_point_as_the_per_character_rule_does() -> None:
    # dedup_key's speed-up must not change a key: the keys are stored in cross-run indexes
    from corpusforge.text.dedup_key import _key_char, _spaced

    every = "".join(chr(cp) for cp in range(0x80, sys.maxunicode + 1) if not 0xD800 <= cp <= 0xDFFF)
    assert _spaced(every) == "".join(map(_key_char, every))


def test_the_vectorized_lookup_gives_what_the_rule_gives() -> None:
    # `_spaced` looks the characters up all at once: every BMP code point (surrogates included),
    # each before a non-ASCII letter, and random mixes of ASCII, BMP and astral characters,
    # give what the per-character rule gives
    import random

    from corpusforge.text.dedup_key import _key_char, _spaced

    def by_rule(text):
        return "".join(map(_key_char, text))

    every_bmp = "".join(chr(cp) for cp in range(0x80, 0x10000))
    assert _spaced(every_bmp) == by_rule(every_bmp)
    for cp in range(0x10000):
        assert _spaced(chr(cp) + "é") == by_rule(chr(cp) + "é"), hex(cp)
    rng = random.Random(3)
    pools = [range(0x20, 0x80), range(0x80, 0x3000), range(0x3000, 0x10000), range(0x10000, 0x20000)]
    for _ in range(3000):
        text = "".join(chr(rng.choice(rng.choice(pools))) for _ in range(rng.randrange(1, 40)))
        assert _spaced(text) == by_rule(text), ascii(text)


def _reference_key(text: str) -> str:
    # the recipe as DESIGN.md states it, one step after another: what the fast paths must give
    import unicodedata

    from corpusforge.text.dedup_key import _key_char
    from corpusforge.text.zh import to_simplified

    return " ".join("".join(map(_key_char, to_simplified(unicodedata.normalize("NFKC", text)).casefold())).split())


def test_the_fast_paths_give_the_reference_key() -> None:
    # ASCII text is keyed in bytes, and the compatibility characters NFKC maps to ASCII are
    # replaced before it: every BMP code point beside ASCII, beside a combining accent (which
    # composes with a replaced letter) and in random mixes gives the reference key
    import random

    from corpusforge.text.dedup_key import _ASCII_COMPAT

    every_ascii = "".join(map(chr, range(128)))
    assert dedup_key(every_ascii) == _reference_key(every_ascii)
    for cp in range(0x10000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        for text in (f"a{chr(cp)}b", f"{chr(cp)}\u0301 ｘ，"):
            assert dedup_key(text) == _reference_key(text), hex(cp)
    rng = random.Random(5)
    pool = [*map(chr, range(0x20, 0x80)), "\t", "\n", "\x1c", "\x00", *_ASCII_COMPAT, "\u0301", "\u0327",
            "開", "放", "é", "ß", "İ", "ﬁ", "\u200b", "\U0001f600"]
    for _ in range(5000):
        text = "".join(rng.choice(pool) for _ in range(rng.randrange(1, 30)))
        assert dedup_key(text) == _reference_key(text), ascii(text)
