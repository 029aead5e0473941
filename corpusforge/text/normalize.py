"""Normalization of the stored text.

`normalize_text` applies the configured steps in a fixed order: mojibake repair first (ftfy
needs the raw bytes-as-characters it detects), then Unicode normalization, control/zero-width
removal, full-width → half-width, optional traditional → simplified, whitespace last (the
earlier steps can create or reveal runs of spaces).

Lines repeated across documents (boilerplate, corpus-wide repeats) are removed by the one
line mechanism of `corpusforge.dedup.lines`, not here.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

import ftfy
from ftfy.badness import BADNESS_RE, MOJIBAKE_CATEGORIES

from corpusforge.text.scripts import OTHER_WHITESPACE
from corpusforge.text.zh import to_simplified


@dataclass(frozen=True, kw_only=True)
class NormalizeParams:
    """Which normalization steps run; each is on by default where it cannot change meaning."""

    form: Literal["NFC", "NFKC"] = "NFC"  # NFKC also folds ligatures, superscripts, ㎏ → kg
    fix_mojibake: bool = True  # repair UTF-8 decoded as cp1252/latin-1 ("cafÃ©" → "café") with ftfy
    strip_control: bool = True  # drop control and zero-width characters, keeping \n and \t
    collapse_whitespace: bool = True  # spaces → one, ≥3 newlines → 2, lines stripped
    fullwidth_ascii: bool = True  # full-width letters and digits (Ａ１) → ASCII (A1)
    # Full-width punctuation (，！？：) is the norm in Chinese text, so it stays unless asked.
    fullwidth_punctuation: bool = False
    to_simplified: bool = False  # traditional → simplified Chinese (OpenCC t2s); changes the text


DEFAULT_PARAMS = NormalizeParams()

# ftfy limited to encoding repair: its other fixes (curly quotes → straight, HTML unescaping,
# width folding, its own NFC) would change text that is not broken, or duplicate our steps.
_FTFY_CONFIG = ftfy.TextFixerConfig(
    unescape_html=False,
    remove_terminal_escapes=False,
    fix_encoding=True,
    restore_byte_a0=True,
    replace_lossy_sequences=True,
    decode_inconsistent_utf8=True,
    fix_c1_controls=True,
    fix_latin_ligatures=False,
    fix_character_width=False,
    uncurl_quotes=False,
    fix_line_breaks=False,
    fix_surrogates=True,
    remove_control_chars=False,
    normalization=None,
    explain=False,
)

# ftfy (pinned) changes a line only when its badness regex matches there, or when the line holds
# a C1 control or a surrogate (our config turns its other fixes off). Every alternative of that
# regex has one of the characters below among its first three, so a match starts at most two
# characters before one of them: trying the regex at those few positions answers what ftfy's
# own search over the whole line would, for a fraction of the time (most lines have no such
# character, and most that do are curly quotes or bullets ftfy leaves alone).
_MOJIBAKE_CLUES = re.compile("[" + "".join(MOJIBAKE_CATEGORIES[name] for name in (
    "c1", "bad", "law", "currency", "start_punctuation", "end_punctuation", "numeric",
    "upper_accented", "lower_accented", "box")) + "ŒœÂÃÎÐ×ØÙà√≈‚вВГРСβΒΓΞΟā\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_LINE = re.compile(r"[^\n]*\n|[^\n]+")  # ftfy's segments: lines, each with its newline
_FTFY_SEGMENT = ftfy.TextFixerConfig().max_decode_length  # ftfy cuts longer lines, and looks at each cut


def fix_mojibake(text: str) -> str:
    """ftfy's `fix_text` (encoding repair only), run on the lines it would change.

    >>> fix_mojibake("ok line\\n“quoted” • bullet\\ncafÃ© au lait\\n")
    'ok line\\n“quoted” • bullet\\ncafé au lait\\n'
    """
    if len(text) <= _FTFY_SEGMENT and not _MOJIBAKE_CLUES.search(text):
        return text  # no line of it has a clue (a quarter of the e2e corpus's non-ASCII texts)
    return "".join(ftfy.fix_text(line, _FTFY_CONFIG) if _ftfy_would_look(line) else line
                   for line in _LINE.findall(text))


def _ftfy_would_look(line: str) -> bool:
    """Whether ftfy could change `line`: its badness regex matches somewhere, or the line holds a
    C1 control (a badness alternative of its own) or a surrogate.

    >>> _ftfy_would_look("“quoted” • bullet"), _ftfy_would_look("cafÃ© au lait"), _ftfy_would_look("x\\ud800")
    (False, True, True)
    """
    if len(line) > _FTFY_SEGMENT:
        return True
    tried = -1  # positions up to here were tried
    for clue in _MOJIBAKE_CLUES.finditer(line):
        at = clue.start()
        for start in range(max(at - 2, tried + 1), at + 1):
            if BADNESS_RE.match(line, start):
                return True
        tried = at
    return bool(_SURROGATE.search(line)) if tried >= 0 else False


# Invisible characters with no linguistic role: zero-width space, word joiner, BOM / zero-width
# no-break space, Mongolian vowel separator, soft hyphen. ZWJ/ZWNJ (U+200C/D) are kept: they
# change how Persian, Indic scripts and emoji sequences render and read.
_ZERO_WIDTH = "\u200b\u2060\ufeff\u180e\u00ad"
_CONTROL = re.compile(
    "[" + "".join(chr(c) for c in range(0x20) if chr(c) not in "\n\t") + "\x7f-\x9f" + _ZERO_WIDTH + "]"
)
_LINE_BREAKS = re.compile(r"\r\n|\r|\u2028|\u2029|\x85|\x0b|\x0c")
_BLANK_LINES = re.compile(r"\n{3,}")

# Full-width forms U+FF01..U+FF5E map to ASCII U+0021..U+007E by a fixed offset.
_FULLWIDTH_OFFSET = 0xFEE0
_FULLWIDTH_ALNUM = {
    c: c - _FULLWIDTH_OFFSET
    for c in range(0xFF01, 0xFF5F)
    if chr(c - _FULLWIDTH_OFFSET).isalnum()
}
_FULLWIDTH_ALL = {c: c - _FULLWIDTH_OFFSET for c in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
# translate looks every character up in the table, a slow miss for nearly all of them; most texts
# hold no full-width form it would change, and a search says so at a fraction of the cost (by
# default only letters and digits change: Chinese text is full of full-width punctuation)
_FULLWIDTH_ANY = re.compile("[\uff01-\uff5e\u3000]")
_FULLWIDTH_ALNUM_ANY = re.compile("[" + "".join(map(chr, _FULLWIDTH_ALNUM)) + "]")


def normalize_text(text: str, params: NormalizeParams = DEFAULT_PARAMS) -> str:
    """Return `text` with the steps `params` turns on.

    >>> normalize_text("cafÃ©\\u200b  ＡＢＣ１２３，好\\r\\n\\n\\n\\nnext  ")
    'café ABC123，好\\n\\nnext'
    >>> normalize_text("ＡＢ，", NormalizeParams(fullwidth_punctuation=True))
    'AB,'
    """
    if params.fix_mojibake and not text.isascii():
        text = fix_mojibake(text)
    if not text.isascii():
        text = unicodedata.normalize(params.form, text)
    if params.strip_control:
        text = _LINE_BREAKS.sub("\n", text)
        text = _CONTROL.sub("", text)
    if params.fullwidth_punctuation and _FULLWIDTH_ANY.search(text):
        text = text.translate(_FULLWIDTH_ALL)
    elif params.fullwidth_ascii and _FULLWIDTH_ALNUM_ANY.search(text):
        text = text.translate(_FULLWIDTH_ALNUM)
    if params.to_simplified:
        text = to_simplified(text)
    if params.collapse_whitespace:
        text = _collapse_whitespace(text)
    return text


def _collapse_whitespace(text: str) -> str:
    """Runs of whitespace in a line → one space, lines stripped, ≥ 3 newlines → 2, the text
    stripped. `str.split()` splits on what a regex's \\s matches, in C: 2x faster than a regex.

    >>> _collapse_whitespace(" a \\t b \\n \\n\\n\\n c\\u3000")
    'a b\\n\\nc'
    """
    if _is_collapsed(text):  # most texts: a few scans instead of a list of every word
        return text
    lines = "\n".join([" ".join(line.split()) for line in text.split("\n")])
    return _BLANK_LINES.sub("\n\n", lines).strip()


# Whitespace other than U+0020 and the newline
_OTHER_WHITESPACE = re.compile("[" + re.escape(OTHER_WHITESPACE.replace("\n", "")) + "]")


def _is_collapsed(text: str) -> bool:
    """True when `_collapse_whitespace` would leave `text` as it is.

    >>> _is_collapsed("a b\\n\\nc"), _is_collapsed("a  b"), _is_collapsed("a\\n\\n\\nb"), _is_collapsed("a\\xa0b")
    (True, False, False, False)
    """
    return not (text[:1].isspace() or text[-1:].isspace() or "  " in text or " \n" in text or "\n " in text
                or "\n\n\n" in text or _OTHER_WHITESPACE.search(text))


def normalize_batch(texts: list[str | None], params: NormalizeParams = DEFAULT_PARAMS) -> list[str | None]:
    """Normalize a batch (one Arrow batch's text column); None stays None.

    >>> normalize_batch(["a  b", None])
    ['a b', None]
    """
    return [None if text is None else normalize_text(text, params) for text in texts]
