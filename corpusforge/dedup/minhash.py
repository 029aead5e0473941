"""MinHash of the dedup key: shingles, 64-bit shingle hashes, exact permutations, bands.

Pure numpy, no Spark: the Spark stage (`corpusforge.stages.lsh`) calls these functions on each
Arrow batch, and the single-process reference path calls the very same ones, so the two cannot
drift apart.

Shingles are taken from the dedup key (`corpusforge.text.dedup_key`): word n-grams split on its
spaces for space-separated text; for Chinese, Japanese and Korean (by `lang`, or text that is
mostly CJK) character n-grams with spaces skipped, or jieba word n-grams on request. The key
already maps traditional to simplified Chinese, so both scripts shingle alike.

Hashing of one shingle: each token (a word, or a character) gets a 64-bit hash (FNV-1a of a
word's UTF-8 bytes finished with SplitMix64; a SplitMix64 mix of a character's code point), and
the n token hashes of a shingle are folded left to right with SplitMix64, so a shingle's hash
is a function of the shingle's string only. A compiled (numba) loop tokenizes and hashes a whole
Arrow batch straight from its UTF-8 buffer; a Python reference computes the same numbers. The
permutation `(a·x + b) mod (2^61 − 1)` is computed exactly in uint64 (see `permute`).
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpusforge.dedup.components import DEFAULT_MAX_ITERATIONS
from corpusforge.errors import ConfigError
from corpusforge.text.dedup_key import DEDUP_KEY_VERSION
from corpusforge.text.scripts import OTHER_WHITESPACE, script_class, script_ranges

MERSENNE_PRIME = (1 << 61) - 1  # modulus of the permutations: 2^61 ≡ 1, so reduction is a fold
EMPTY_SIGNATURE_VALUE = MERSENNE_PRIME  # signature of a document without shingles: no real value reaches p
_P = np.uint64(MERSENNE_PRIME)
_MASK_32 = np.uint64((1 << 32) - 1)  # low half of a 61-bit operand
_MASK_29 = np.uint64((1 << 29) - 1)  # bits of a 2^32-multiple that stay below 2^61
_SHIFT_61 = np.uint64(61)
_SHIFT_32 = np.uint64(32)
_SHIFT_29 = np.uint64(29)
_SHIFT_3 = np.uint64(3)  # 2^64 = 2^3 · 2^61 ≡ 2^3 (mod p)

# SplitMix64 (Steele, Lea, Flood 2014) constants: a fast 64-bit bijective mixer.
_SPLITMIX_GAMMA = np.uint64(0x9E3779B97F4A7C15)  # golden-ratio increment
_SPLITMIX_M1 = np.uint64(0xBF58476D1CE4E5B9)
_SPLITMIX_M2 = np.uint64(0x94D049BB133111EB)
_CHAR_DOMAIN = np.uint64(0x43484152_00000000)  # "CHAR" tag: a character never hashes like a word
_BAND_DOMAIN = np.uint64(0x42414E44_00000000)  # "BAND" tag mixed with the band index

CJK_LANGS = frozenset({"zh", "ja", "ko"})  # languages shingled by characters (by their primary subtag)
MOSTLY_CJK_FRACTION = 0.5  # above this share of CJK characters a text of another lang is shingled by characters
# Han ideographs (incl. Extension A and compatibility), kana, hangul syllables and jamo.
_CJK_RANGES = script_ranges("han", "kana", "hangul")
_CJK_CHAR = script_class("han", "kana", "hangul")
_CJK_TABLE = np.zeros(0x10000, dtype=np.bool_)  # the same ranges, for the compiled letter count
_CJK_TABLE[np.concatenate([np.arange(low, high + 1) for low, high in _CJK_RANGES])] = True
_WHITESPACE_TABLE = np.zeros(0x3001, dtype=np.bool_)  # code point → str.isspace(), for the compiled tokenizer
_WHITESPACE_TABLE[[0x20, *map(ord, OTHER_WHITESPACE)]] = True
_FNV_OFFSET, _FNV_PRIME = 0xCBF29CE484222325, 0x100000001B3  # FNV-1a 64-bit parameters
_MASK_64 = (1 << 64) - 1
_SHINGLE_CHUNK = 1 << 9  # shingles per permutation block: 3 buffers of 512 × 112 uint64 ≈ 1.4 MB stay in cache

CjkShingles = Literal["char", "jieba"]


@dataclass(frozen=True, kw_only=True)
class MinHashParams:
    """Parameters of MinHash LSH; an index built with one set is never compared with another.

    >>> p = MinHashParams()
    >>> (p.num_perm, p.bands, p.rows, p.ngram)
    (112, 14, 8, 5)
    """

    num_perm: int = 112  # permutations per signature (FineWeb's default)
    bands: int = 14  # LSH bands; bands × rows must not exceed num_perm
    rows: int = 8  # signature values per band (threshold ≈ (1/bands)^(1/rows) ≈ 0.72)
    ngram: int = 5  # tokens per shingle (words, or CJK characters/jieba words)
    seed: int = 42  # seed of the permutation coefficients a, b
    cjk_shingles: CjkShingles = "char"  # CJK documents: character n-grams, or jieba word n-grams

    def __post_init__(self) -> None:
        for name in ("num_perm", "bands", "rows", "ngram"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"MinHashParams: {name!r} must be a positive integer, got {value!r}")
        if self.bands * self.rows > self.num_perm:
            raise ConfigError(
                f"MinHashParams: bands × rows = {self.bands} × {self.rows} exceeds num_perm={self.num_perm}"
            )
        if self.cjk_shingles not in ("char", "jieba"):
            raise ConfigError(f"MinHashParams: 'cjk_shingles' must be 'char' or 'jieba', got {self.cjk_shingles!r}")

    def fingerprint(self) -> dict[str, object]:
        """Everything that must match for two signatures or band hashes to be comparable.

        >>> MinHashParams().fingerprint()["dedup_key_version"] == DEDUP_KEY_VERSION
        True
        """
        return {**asdict(self), "dedup_key_version": DEDUP_KEY_VERSION, "hash": "fnv1a64-splitmix64-mod61"}

    def permutations(self) -> tuple[np.ndarray, np.ndarray]:
        """The coefficients (a, b) of the permutations, uint64, 1 ≤ a < p, 0 ≤ b < p.

        >>> a, b = MinHashParams(num_perm=4, bands=2, rows=2).permutations()
        >>> a.shape, bool((a >= 1).all() and (a < MERSENNE_PRIME).all())
        ((4,), True)
        """
        return _permutations(self.num_perm, self.seed)


@dataclass(frozen=True, kw_only=True)
class MinHashConfig:
    """The `[minhash]` config section: MinHash parameters and how the `minhash_dedup` stage uses
    them. Whether it also compares against earlier runs is `dedup.scope`, shared with exact dedup.

    >>> MinHashConfig().params() == MinHashParams()
    True
    """

    verify: Literal["none", "signature", "exact"] = "signature"  # check of candidate pairs before merging
    threshold: float | None = None  # Jaccard a verified pair needs (None or false: the S-curve's, ≈ 0.72 for 14 × 8)
    num_perm: int = 112  # permutations per signature (FineWeb's default)
    bands: int = 14  # LSH bands
    rows: int = 8  # signature values per band
    ngram: int = 5  # words (or CJK characters) per shingle
    seed: int = 42  # seed of the permutation coefficients
    cjk_shingles: CjkShingles = "char"  # CJK documents: character n-grams, or jieba word n-grams
    max_iterations: int = DEFAULT_MAX_ITERATIONS  # bound on large/small-star rounds

    def params(self) -> MinHashParams:
        """The MinHashParams of this section (validated there)."""
        return MinHashParams(
            num_perm=self.num_perm, bands=self.bands, rows=self.rows, ngram=self.ngram,
            seed=self.seed, cjk_shingles=self.cjk_shingles,
        )


def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    generator = np.random.Generator(np.random.PCG64(seed))
    a = generator.integers(1, MERSENNE_PRIME, size=num_perm, dtype=np.uint64)
    b = generator.integers(0, MERSENNE_PRIME, size=num_perm, dtype=np.uint64)
    return a, b


# ---------------------------------------------------------------------------------------------
# Shingles
# ---------------------------------------------------------------------------------------------


def is_cjk_text(key: str, lang: str | None) -> bool:
    """True when `key` is shingled by characters: its lang is zh/ja/ko, or it is mostly CJK.

    >>> is_cjk_text("今天 天气 很好", None), is_cjk_text("hello world", "en"), is_cjk_text("x", "zh-TW")
    (True, False, True)
    """
    if lang and lang.split("-")[0].split("_")[0].lower() in CJK_LANGS:
        return True
    letters = len(key) - key.count(" ")
    if letters == 0:
        return False
    return len(_CJK_CHAR.findall(key)) > MOSTLY_CJK_FRACTION * letters


def _tokens(key: str, lang: str | None, cjk_mode: CjkShingles) -> tuple[list[str], str]:
    """Tokens of a key and the string that joins them back into a shingle."""
    if is_cjk_text(key, lang):
        if cjk_mode == "jieba":
            from corpusforge.text.segment import segment_words  # lazy: jieba loads its dictionary

            return [word for word in segment_words(key) if word.strip()], " "
        return list(key.replace(" ", "")), ""
    return key.split(), " "


def shingles(key: str, ngram: int = 5, lang: str | None = None, cjk_mode: CjkShingles = "char") -> list[str]:
    """The n-gram shingles of a dedup key, in order (duplicates kept).

    Word n-grams of space-separated text; character n-grams (spaces skipped) for CJK text.
    A key with fewer than `ngram` tokens has no shingle: it is left to exact dedup.

    >>> shingles("the quick brown fox jumps over", 5)
    ['the quick brown fox jumps', 'quick brown fox jumps over']
    >>> shingles("今天 天气很好", 4, "zh")
    ['今天天气', '天天气很', '天气很好']
    >>> shingles("too short", 5)
    []
    """
    tokens, joiner = _tokens(key, lang, cjk_mode)
    return [joiner.join(tokens[start : start + ngram]) for start in range(len(tokens) - ngram + 1)]


def jaccard(a_shingles: Sequence[str] | set[str], b_shingles: Sequence[str] | set[str]) -> float:
    """Exact Jaccard similarity of two shingle sets (0.0 when both are empty).

    >>> jaccard(["a", "b", "c"], ["b", "c", "d"])
    0.5
    """
    a_set, b_set = set(a_shingles), set(b_shingles)
    union = len(a_set | b_set)
    return len(a_set & b_set) / union if union else 0.0


# ---------------------------------------------------------------------------------------------
# Hashing
# ---------------------------------------------------------------------------------------------


def splitmix64(values: np.ndarray) -> np.ndarray:
    """SplitMix64's finalizer on uint64 (wrap-around multiplication is the intended mod 2^64).

    >>> int(splitmix64(np.array([0], dtype=np.uint64))[0]) == int(splitmix64(np.array([0], dtype=np.uint64))[0])
    True
    """
    z = values + _SPLITMIX_GAMMA
    z ^= z >> np.uint64(30)
    z *= _SPLITMIX_M1
    z ^= z >> np.uint64(27)
    z *= _SPLITMIX_M2
    z ^= z >> np.uint64(31)
    return z


def _char_hashes(code_points: np.ndarray) -> np.ndarray:
    return splitmix64(code_points.astype(np.uint64) | _CHAR_DOMAIN)


def word_hash(word: str) -> int:
    """64-bit hash of one word: FNV-1a over its UTF-8 bytes, finished with SplitMix64 (FNV alone
    mixes its last bytes poorly). The reference of the compiled tokenizer, which computes the
    same number while it scans the batch's bytes.

    >>> word_hash("fox") == word_hash("fox") != word_hash("fix")
    True
    """
    value = _FNV_OFFSET
    for byte in word.encode("utf-8"):
        value = ((value ^ byte) * _FNV_PRIME) & _MASK_64
    return int(splitmix64(np.array([value], dtype=np.uint64))[0])


def _fold_ngrams(token_hashes: np.ndarray, lengths: np.ndarray, ngram: int) -> tuple[np.ndarray, np.ndarray]:
    """Shingle hashes of documents whose token hashes are concatenated; returns (hashes, counts).
    Shingle = its first token's hash, then h = splitmix64(h ^ t) for each following token."""
    lengths = np.asarray(lengths, dtype=np.int64)
    counts = np.maximum(lengths - ngram + 1, 0)
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, dtype=np.uint64), counts
    token_starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    shingle_starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    # start index of every shingle in the token array: its doc's first token + its rank in the doc
    starts = np.repeat(token_starts - shingle_starts, counts) + np.arange(total, dtype=np.int64)
    folded = token_hashes[starts].copy()
    for offset in range(1, ngram):
        folded = splitmix64(folded ^ token_hashes[starts + offset])
    return folded, counts


def shingle_hashes(key: str, ngram: int = 5, lang: str | None = None, cjk_mode: CjkShingles = "char") -> np.ndarray:
    """64-bit hashes (uint64) of `shingles(key, ngram, lang, cjk_mode)`, in the same order.

    The hash of a shingle depends only on the shingle's string, never on the document or the
    process (no Python `hash()`).

    >>> h = shingle_hashes("a b c d e f", 5)
    >>> h.dtype, len(h), int(h[0]) == int(shingle_hashes("x a b c d e", 5)[1])
    (dtype('uint64'), 2, True)
    """
    hashes, _ = batch_shingle_hashes([key], [lang], ngram=ngram, cjk_mode=cjk_mode)
    return hashes


def _is_cjk_lang(lang: str | None) -> bool:
    return bool(lang) and lang.split("-")[0].split("_")[0].lower() in CJK_LANGS


def _string_array(values: Sequence[str | None] | pa.Array | pa.ChunkedArray) -> pa.Array:
    """A string Arrow array of `values`, nulls as empty strings."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    array = values if isinstance(values, pa.Array) else pa.array(values, type=pa.string())
    return pc.fill_null(array, "") if array.null_count else array


def _utf8_buffers(keys: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The UTF-8 bytes of a string array and each string's start offset into them (n + 1)."""
    offsets_buffer, data_buffer = keys.buffers()[1:3]
    offset_type = np.int64 if pa.types.is_large_string(keys.type) else np.int32
    offsets = np.frombuffer(offsets_buffer, dtype=offset_type)[keys.offset : keys.offset + len(keys) + 1]
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.empty(0, np.uint8)
    return data, offsets.astype(np.int64)


def _python_shingle_hashes(
    keys: Sequence[str], modes: np.ndarray, ngram: int
) -> tuple[np.ndarray, np.ndarray]:
    """The reference tokenizer: `str.split()` words hashed by `word_hash` (mode 0), or the
    characters of `key.replace(" ", "")` (mode 1), folded by the numpy `_fold_ngrams`."""
    cache: dict[str, int] = {}
    token_hashes: list[int] = []
    lengths = np.zeros(len(keys), dtype=np.int64)
    char_docs: list[tuple[int, str]] = []
    for index, (key, mode) in enumerate(zip(keys, modes.tolist())):
        if mode:
            text = key.replace(" ", "")
            char_docs.append((len(token_hashes), text))
            token_hashes.extend([0] * len(text))
            lengths[index] = len(text)
        else:
            words = key.split()
            for word in words:
                if word not in cache:
                    cache[word] = word_hash(word)
            token_hashes.extend(cache[word] for word in words)
            lengths[index] = len(words)
    hashes = np.array(token_hashes, dtype=np.uint64)
    for start, text in char_docs:
        hashes[start : start + len(text)] = _char_hashes(np.frombuffer(text.encode("utf-32-le"), dtype="<u4"))
    return _fold_ngrams(hashes, lengths, ngram)


def batch_shingle_hashes(
    keys: Sequence[str | None] | pa.Array | pa.ChunkedArray,
    langs: Sequence[str | None] | pa.Array | None = None,
    *,
    ngram: int = 5,
    cjk_mode: CjkShingles = "char",
) -> tuple[np.ndarray, np.ndarray]:
    """Shingle hashes of a batch of keys, concatenated, and each document's shingle count.

    Documents keep their order: document i's hashes are `hashes[offsets[i]:offsets[i + 1]]`
    with `offsets = [0, *cumsum(counts)]`. `keys` may be a list or an Arrow string array
    (the Spark stage passes its batch's column as it is); a null key is an empty one.
    Compiled loops read the batch's UTF-8 bytes twice, to count letters (words or characters,
    per document) and to hash the tokens, then fold the n-grams; without numba (or with
    CORPUSFORGE_MINHASH_KERNEL=numpy) the Python reference computes the same numbers.

    >>> hashes, counts = batch_shingle_hashes(["a b c d e f", "short", "今天天气很好"], [None, None, "zh"])
    >>> counts.tolist()
    [2, 0, 2]
    """
    key_array = _string_array(keys)
    n_docs = len(key_array)
    if langs is None:
        lang_list: list[str | None] = [None] * n_docs
    elif isinstance(langs, (pa.Array, pa.ChunkedArray)):
        lang_list = langs.to_pylist()
    else:
        lang_list = list(langs)
    is_cjk = np.fromiter((_is_cjk_lang(lang) for lang in lang_list), dtype=bool, count=n_docs)
    count_kernel = _compiled("letters") if os.environ.get(KERNEL_ENV) != "numpy" else None
    shingle_kernel = _compiled("tokens") if count_kernel is not None else None
    if count_kernel is not None:
        data, offsets = _utf8_buffers(key_array)
        letters, cjk_letters = count_kernel(data, offsets, _CJK_TABLE)
        # is_cjk_text for the whole batch: by lang, or more than MOSTLY_CJK_FRACTION CJK letters
        is_cjk |= (letters > 0) & (cjk_letters > MOSTLY_CJK_FRACTION * letters)
    else:
        key_list = key_array.to_pylist()
        is_cjk |= np.fromiter((is_cjk_text(key, None) for key in key_list), dtype=bool, count=n_docs)
    modes = is_cjk.astype(np.uint8)  # 0: words split on whitespace, 1: characters
    if cjk_mode == "jieba" and is_cjk.any():
        # jieba words joined by spaces are tokenized as words
        values = key_array.to_pylist()
        for index in np.flatnonzero(is_cjk).tolist():
            values[index] = " ".join(_tokens(values[index], lang_list[index], "jieba")[0])
        key_array, modes = pa.array(values, type=pa.string()), np.zeros(n_docs, dtype=np.uint8)
    if shingle_kernel is None:
        return _python_shingle_hashes(key_array.to_pylist(), modes, ngram)
    data, offsets = _utf8_buffers(key_array)
    token_hashes, lengths = shingle_kernel(data, offsets, modes, _WHITESPACE_TABLE)
    counts = np.maximum(lengths - ngram + 1, 0)
    hashes = np.empty(int(counts.sum()), dtype=np.uint64)
    token_starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    _compiled("fold")(token_hashes, token_starts, counts, ngram, hashes)
    return hashes, counts


def _letters_loop(data, offsets, cjk_table):  # pragma: no cover - runs compiled by numba
    """Per string: code points other than U+0020, and those in the CJK ranges (all 3-byte;
    `cjk_table` marks them among the 2^16 code points)."""
    n = offsets.shape[0] - 1
    letters = np.zeros(n, dtype=np.int64)
    cjk = np.zeros(n, dtype=np.int64)
    for doc in range(n):
        count = 0
        cjk_count = 0
        for position in range(offsets[doc], offsets[doc + 1]):
            byte = data[position]
            if (byte & 0xC0) == 0x80 or byte == 0x20:
                continue  # a continuation byte, or U+0020
            count += 1
            if (byte & 0xF0) == 0xE0 and position + 2 < offsets[doc + 1]:
                cp = ((np.int64(byte) & 0x0F) << 12) | ((np.int64(data[position + 1]) & 0x3F) << 6) | (
                    np.int64(data[position + 2]) & 0x3F
                )
                if cjk_table[cp]:
                    cjk_count += 1
        letters[doc] = count
        cjk[doc] = cjk_count
    return letters, cjk


def _tokens_loop(data, offsets, modes, whitespace):  # pragma: no cover - runs compiled by numba
    """The tokenizer of `_python_shingle_hashes` on UTF-8 bytes: (token hashes, tokens per
    string). Mode 0 splits on every code point that `str.isspace()` holds (`whitespace` is
    their table) and hashes a word's bytes with FNV-1a + SplitMix64; mode 1 takes every code
    point but U+0020 and hashes it as `_char_hashes`. A token has at least one byte, so the
    output never outgrows len(data)."""
    n = offsets.shape[0] - 1
    gamma = np.uint64(0x9E3779B97F4A7C15)
    m1 = np.uint64(0xBF58476D1CE4E5B9)
    m2 = np.uint64(0x94D049BB133111EB)
    fnv_offset = np.uint64(0xCBF29CE484222325)
    fnv_prime = np.uint64(0x100000001B3)
    char_domain = np.uint64(0x43484152_00000000)
    table_size = whitespace.shape[0]
    out = np.empty(data.shape[0], dtype=np.uint64)
    lengths = np.zeros(n, dtype=np.int64)
    written = 0
    for doc in range(n):
        first = written
        position = offsets[doc]
        end = offsets[doc + 1]
        in_word = False
        value = fnv_offset
        while position <= end:  # one step past the end: a space there ends the last word
            if position == end:
                cp, width = np.int64(0x20), 1
            else:
                byte = np.int64(data[position])
                if byte < 0x80:
                    cp, width = byte, 1
                elif byte < 0xE0:
                    cp, width = ((byte & 0x1F) << 6) | (np.int64(data[position + 1]) & 0x3F), 2
                elif byte < 0xF0:
                    cp = ((byte & 0x0F) << 12) | ((np.int64(data[position + 1]) & 0x3F) << 6) | (
                        np.int64(data[position + 2]) & 0x3F)
                    width = 3
                else:
                    cp = ((byte & 0x07) << 18) | ((np.int64(data[position + 1]) & 0x3F) << 12) | (
                        (np.int64(data[position + 2]) & 0x3F) << 6) | (np.int64(data[position + 3]) & 0x3F)
                    width = 4
            emit, raw = False, np.uint64(0)
            if modes[doc] == 1:
                if cp != 0x20:
                    raw, emit = np.uint64(cp) | char_domain, True
            elif cp < table_size and whitespace[cp]:
                if in_word:
                    raw, emit = value, True
                    in_word, value = False, fnv_offset
            else:
                in_word = True
                for k in range(width):
                    value = (value ^ np.uint64(data[position + k])) * fnv_prime
            if emit:  # SplitMix64 of the word's FNV-1a, or of the tagged code point
                z = raw + gamma
                z = (z ^ (z >> np.uint64(30))) * m1
                z = (z ^ (z >> np.uint64(27))) * m2
                out[written] = z ^ (z >> np.uint64(31))
                written += 1
            position += width
        lengths[doc] = written - first
    return out[:written], lengths


def _fold_loop(token_hashes, token_starts, counts, ngram, out):  # pragma: no cover - runs compiled by numba
    """`_fold_ngrams`' numpy fold one shingle at a time: h = t0, then h = splitmix64(h ^ t_i)."""
    gamma = np.uint64(0x9E3779B97F4A7C15)
    m1 = np.uint64(0xBF58476D1CE4E5B9)
    m2 = np.uint64(0x94D049BB133111EB)
    position = 0
    for doc in range(counts.shape[0]):
        base = token_starts[doc]
        for rank in range(counts[doc]):
            h = token_hashes[base + rank]
            for offset in range(1, ngram):
                z = (h ^ token_hashes[base + rank + offset]) + gamma
                z = (z ^ (z >> np.uint64(30))) * m1
                z = (z ^ (z >> np.uint64(27))) * m2
                h = z ^ (z >> np.uint64(31))
            out[position] = h
            position += 1


# ---------------------------------------------------------------------------------------------
# Permutations and signatures
# ---------------------------------------------------------------------------------------------


def _fold_mod(values: np.ndarray) -> np.ndarray:
    """values < 2^64 → a value ≡ values (mod p) below 2^61 + 8 (2^61 ≡ 1)."""
    return (values & _P) + (values >> _SHIFT_61)


def _reduce_below_p(values: np.ndarray) -> np.ndarray:
    """values < 2^61 + 8 → values mod p. When values < p, values − p wraps above 2^63 and loses the minimum."""
    return np.minimum(values, values - _P)


def permute(x: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(a·x + b) mod (2^61 − 1), exactly, in uint64; x, a, b < 2^61 broadcast together.

    Why it is exact: split x = x1·2^32 + x0 and a = a1·2^32 + a0 (x1, a1 < 2^29; x0, a0 < 2^32).
    Every partial product then fits in 64 bits: a0·x0 < 2^64, a1·x0 + a0·x1 < 2^62, a1·x1 < 2^58.
    Modulo p = 2^61 − 1, 2^61 ≡ 1, so a1·x1·2^64 ≡ 8·a1·x1 (< 2^61), and the middle term
    m·2^32 with m = mh·2^29 + ml ≡ mh + ml·2^32 (< 2^33 + 2^61); a0·x0 folds to
    (v mod 2^61) + (v >> 61) < 2^61 + 8. The sum of these three and b stays below 2^63, one more
    fold brings it below 2^61 + 8, and one conditional subtraction below p. No step wraps.

    >>> x = np.array([MERSENNE_PRIME - 1, 12345], dtype=np.uint64)
    >>> a = np.array([MERSENNE_PRIME - 2], dtype=np.uint64)
    >>> b = np.array([MERSENNE_PRIME - 3], dtype=np.uint64)
    >>> [int(v) for v in permute(x, a, b)] == [(int(a[0]) * int(v) + int(b[0])) % MERSENNE_PRIME for v in x]
    True
    """
    x0, x1 = x & _MASK_32, x >> _SHIFT_32
    a0, a1 = a & _MASK_32, a >> _SHIFT_32
    return _permute_split(x0, x1, a0, a1, b)


def _permute_split(
    x0: np.ndarray,
    x1: np.ndarray,
    a0: np.ndarray,
    a1: np.ndarray,
    b: np.ndarray,
    buffers: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """`permute` on pre-split operands; with `buffers` (3 arrays of the broadcast shape) in place."""
    if buffers is None:
        shape = np.broadcast_shapes(x0.shape, a0.shape)
        buffers = (np.empty(shape, np.uint64), np.empty(shape, np.uint64), np.empty(shape, np.uint64))
    scratch, middle, out = buffers
    np.multiply(x0, a0, out=out)  # a0·x0 < 2^64, folded: < 2^61 + 8
    np.right_shift(out, _SHIFT_61, out=scratch)
    np.bitwise_and(out, _P, out=out)
    out += scratch
    np.multiply(x0, a1, out=middle)  # a1·x0 + a0·x1 < 2^62
    np.multiply(x1, a0, out=scratch)
    middle += scratch
    np.right_shift(middle, _SHIFT_29, out=scratch)  # (mh·2^29 + ml)·2^32 ≡ mh + ml·2^32
    out += scratch
    np.bitwise_and(middle, _MASK_29, out=middle)
    np.left_shift(middle, _SHIFT_32, out=middle)
    out += middle
    np.multiply(x1, a1, out=scratch)  # a1·x1·2^64 ≡ 8·a1·x1 < 2^61
    np.left_shift(scratch, _SHIFT_3, out=scratch)
    out += scratch
    out += b  # total < 2^63
    np.right_shift(out, _SHIFT_61, out=scratch)
    np.bitwise_and(out, _P, out=out)
    out += scratch  # < 2^61 + 8
    np.subtract(out, _P, out=scratch)
    np.minimum(out, scratch, out=out)  # subtract p once when out ≥ p
    return out


SignatureKernel = Literal["auto", "numba", "numpy"]
KERNEL_ENV = "CORPUSFORGE_MINHASH_KERNEL"  # overrides kernel="auto" (same results, another speed)


def signatures_from_hashes(
    hashes: np.ndarray, counts: np.ndarray, params: MinHashParams, *, kernel: SignatureKernel = "auto"
) -> np.ndarray:
    """MinHash signatures (n_docs, num_perm) uint64 from concatenated shingle hashes and counts.

    `kernel` picks the implementation of the same exact arithmetic: "numba" (a compiled loop,
    ~10–20× faster), "numpy" (vectorized blocks; the reference), or "auto" (the environment
    variable CORPUSFORGE_MINHASH_KERNEL when set, e.g. by a benchmark for the Spark workers,
    else numba when it imports). Both give the same bits (tests/unit/test_minhash.py checks it). A document
    without shingles gets EMPTY_SIGNATURE_VALUE.

    >>> hashes, counts = batch_shingle_hashes(["a b c d e f", "x"])
    >>> sig = signatures_from_hashes(hashes, counts, MinHashParams())
    >>> sig.shape, bool((sig[1] == EMPTY_SIGNATURE_VALUE).all())
    ((2, 112), True)
    >>> bool((sig == signatures_from_hashes(hashes, counts, MinHashParams(), kernel="numpy")).all())
    True
    """
    if kernel == "auto":
        kernel = os.environ.get(KERNEL_ENV, "auto") or "auto"
    if kernel not in ("auto", "numba", "numpy"):
        raise ConfigError(f"signatures_from_hashes: kernel must be 'auto', 'numba' or 'numpy', got {kernel!r}")
    compiled = None if kernel == "numpy" else _numba_kernel()
    if kernel == "numba" and compiled is None:
        raise ConfigError("signatures_from_hashes: kernel='numba' but numba is not installed (pip install numba)")
    if compiled is None:
        return _signatures_numpy(hashes, counts, params)
    counts = np.asarray(counts, dtype=np.int64)
    result = np.empty((len(counts), params.num_perm), dtype=np.uint64)
    offsets = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
    a, b = params.permutations()
    x = _reduce_below_p(_fold_mod(np.asarray(hashes, dtype=np.uint64)))  # x < p: x1 < 2^29 holds
    compiled(x, offsets, a, b, result)
    return result


_COMPILED: dict[str, object] = {}  # name → compiled function (or None without numba), per process


def numba_available() -> bool:
    """True when the compiled signature kernel can be used in this process.

    >>> isinstance(numba_available(), bool)
    True
    """
    return _numba_kernel() is not None


def _compiled(name: str):
    """The numba-compiled `_signature_loop` ("signature"), `_letters_loop` ("letters"),
    `_tokens_loop` ("tokens") or `_fold_loop` ("fold"), compiled once per process and cached on disk by numba;
    None when numba does not import."""
    if name not in _COMPILED:
        try:
            import numba
        except ImportError:
            _COMPILED[name] = None
        else:
            function = {"signature": _signature_loop, "letters": _letters_loop, "tokens": _tokens_loop,
                        "fold": _fold_loop}[name]
            _COMPILED[name] = numba.njit(cache=True, nogil=True, boundscheck=False)(function)
    return _COMPILED[name]


def _numba_kernel():
    """The compiled signature kernel, or None."""
    return _compiled("signature")


def _signature_loop(x, offsets, a, b, out):  # pragma: no cover - runs compiled by numba
    """out[d, k] = min over document d's shingles s of (a[k]·x[s] + b[k]) mod p, exactly.

    The arithmetic of `permute` (32/29-bit split, folds by 2^61 ≡ 1), one shingle at a time
    with the permutations innermost: a0, a1 are kept as uint32 so every partial product is a
    32 × 32 → 64-bit multiply, which the compiler vectorizes; nothing touches memory but the
    document's signature row.
    """
    p = np.uint64(MERSENNE_PRIME)
    low32 = np.uint64(0xFFFFFFFF)
    low29 = np.uint64((1 << 29) - 1)
    a0 = (a & low32).astype(np.uint32)
    a1 = (a >> np.uint64(32)).astype(np.uint32)
    n_perm = a.shape[0]
    for doc in range(offsets.shape[0] - 1):
        row = out[doc]
        for k in range(n_perm):
            row[k] = p  # EMPTY_SIGNATURE_VALUE: no real value reaches p
        for s in range(offsets[doc], offsets[doc + 1]):
            x0 = x[s] & low32
            x1 = x[s] >> np.uint64(32)
            for k in range(n_perm):
                a0k = np.uint64(a0[k])
                a1k = np.uint64(a1[k])
                low = x0 * a0k  # < 2^64, folded below 2^61 + 8
                value = (low & p) + (low >> np.uint64(61))
                middle = x0 * a1k + x1 * a0k  # < 2^62; middle·2^32 ≡ mh + ml·2^32
                value += (middle >> np.uint64(29)) + ((middle & low29) << np.uint64(32))
                value += (x1 * a1k) << np.uint64(3)  # a1·x1·2^64 ≡ 8·a1·x1
                value += b[k]  # < 2^63
                value = (value & p) + (value >> np.uint64(61))
                value = min(value, value - p)  # subtract p once when value ≥ p (else it wraps high)
                row[k] = min(row[k], value)


def _signatures_numpy(hashes: np.ndarray, counts: np.ndarray, params: MinHashParams) -> np.ndarray:
    """The numpy reference: one vectorized permutation over all shingles of the batch (in
    cache-sized blocks), then `np.minimum.reduceat` per document."""
    counts = np.asarray(counts, dtype=np.int64)
    n_docs = len(counts)
    result = np.full((n_docs, params.num_perm), EMPTY_SIGNATURE_VALUE, dtype=np.uint64)
    if len(hashes) == 0:
        return result
    a, b = params.permutations()
    a0, a1 = (a & _MASK_32)[None, :], (a >> _SHIFT_32)[None, :]
    b = b[None, :]
    x = _reduce_below_p(_fold_mod(hashes))  # x ≡ hash (mod p) and x < p, so x1 < 2^29 holds
    x0, x1 = (x & _MASK_32)[:, None], (x >> _SHIFT_32)[:, None]
    docs_with = np.flatnonzero(counts)
    doc_offsets = np.concatenate(([0], np.cumsum(counts[docs_with])))
    total = int(doc_offsets[-1])
    full = tuple(np.empty((_SHINGLE_CHUNK, params.num_perm), np.uint64) for _ in range(3))
    # fixed-size blocks of shingles; a block may hold pieces of several documents, each piece's
    # minimum is merged into its document's row (a document appears once per block)
    for first in range(0, total, _SHINGLE_CHUNK):
        last = min(first + _SHINGLE_CHUNK, total)
        buffers = full if last - first == _SHINGLE_CHUNK else tuple(buffer[: last - first] for buffer in full)
        permuted = _permute_split(x0[first:last], x1[first:last], a0, a1, b, buffers)
        doc_low = int(np.searchsorted(doc_offsets, first, side="right")) - 1
        doc_high = int(np.searchsorted(doc_offsets, last, side="left"))
        piece_starts = np.maximum(doc_offsets[doc_low:doc_high], first) - first
        rows = docs_with[doc_low:doc_high]
        result[rows] = np.minimum(result[rows], np.minimum.reduceat(permuted, piece_starts, axis=0))
    return result


def signatures(
    keys: Sequence[str],
    params: MinHashParams | None = None,
    langs: Sequence[str | None] | None = None,
) -> np.ndarray:
    """MinHash signatures of a batch of dedup keys: uint64 array (n_docs, num_perm), values < p.

    >>> sig = signatures(["the quick brown fox jumps over the lazy dog"] * 2)
    >>> sig.shape, bool((sig[0] == sig[1]).all())
    ((2, 112), True)
    """
    params = params or MinHashParams()
    hashes, counts = batch_shingle_hashes(keys, langs, ngram=params.ngram, cjk_mode=params.cjk_shingles)
    return signatures_from_hashes(hashes, counts, params)


def band_hashes(signature_matrix: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """64-bit hash of each band (rows consecutive signature values), as int64 (n_docs, bands).

    Band i covers values [i·rows, (i+1)·rows); its hash also mixes in i, so equal values in two
    different bands never share a bucket by accident.

    >>> sig = signatures(["a b c d e f g", "a b c d e f g"])
    >>> bh = band_hashes(sig, 14, 8)
    >>> bh.shape, bh.dtype, bool((bh[0] == bh[1]).all())
    ((2, 14), dtype('int64'), True)
    """
    signature_matrix = np.asarray(signature_matrix, dtype=np.uint64)
    if bands * rows > signature_matrix.shape[1]:
        raise ConfigError(f"band_hashes: bands × rows = {bands * rows} exceeds the {signature_matrix.shape[1]} values")
    n_docs = signature_matrix.shape[0]
    banded = signature_matrix[:, : bands * rows].reshape(n_docs, bands, rows)
    accumulator = np.broadcast_to(
        splitmix64(np.arange(bands, dtype=np.uint64) | _BAND_DOMAIN), (n_docs, bands)
    ).copy()
    for row in range(rows):
        accumulator = splitmix64(accumulator ^ banded[:, :, row])
    return accumulator.view(np.int64)


def estimate_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> float | np.ndarray:
    """Jaccard similarity estimated as the fraction of equal signature values (last axis).

    >>> sig = signatures(["a b c d e f g h", "a b c d e f g x"])
    >>> float(estimate_jaccard(sig[0], sig[0]))
    1.0
    """
    equal = np.asarray(sig_a) == np.asarray(sig_b)
    fraction = equal.mean(axis=-1)
    return float(fraction) if np.ndim(fraction) == 0 else fraction


# ---------------------------------------------------------------------------------------------
# LSH parameters from the S-curve
# ---------------------------------------------------------------------------------------------

_CURVE_POINTS = 2001  # integration points over [0, 1] of the S-curve


def collision_probability(similarity: float | np.ndarray, bands: int, rows: int) -> float | np.ndarray:
    """Probability that two documents of Jaccard `similarity` share at least one bucket.

    >>> round(float(collision_probability(0.72, 14, 8)), 3)
    0.65
    """
    return 1.0 - (1.0 - np.asarray(similarity, dtype=np.float64) ** rows) ** bands


def optimal_params(
    threshold: float,
    num_perm: int,
    false_positive_weight: float = 0.5,
    false_negative_weight: float = 0.5,
) -> tuple[int, int]:
    """(bands, rows) with bands × rows ≤ num_perm minimizing the weighted false-positive area
    (S-curve below `threshold`) plus false-negative area (1 − S-curve above it).

    >>> optimal_params(0.72, 112)
    (12, 9)
    >>> optimal_params(0.7, 256)
    (25, 10)
    """
    if not 0.0 < threshold < 1.0:
        raise ConfigError(f"optimal_params: threshold must be in (0, 1), got {threshold!r}")
    if num_perm < 1:
        raise ConfigError(f"optimal_params: num_perm must be a positive integer, got {num_perm!r}")
    grid = np.linspace(0.0, 1.0, _CURVE_POINTS)
    below, above = grid <= threshold, grid >= threshold
    best = (float("inf"), 1, 1)
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            curve = collision_probability(grid, bands, rows)
            false_positive = np.trapezoid(curve[below], grid[below])
            false_negative = np.trapezoid(1.0 - curve[above], grid[above])
            error = false_positive_weight * false_positive + false_negative_weight * false_negative
            if error < best[0] - 1e-15:
                best = (error, bands, rows)
    return best[1], best[2]
