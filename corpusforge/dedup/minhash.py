"""MinHash of the dedup key: shingles, 64-bit shingle hashes, exact permutations, bands.

Pure numpy, no Spark: the Spark stage (`corpusforge.dedup.lsh`) calls these functions on each
Arrow batch, and the single-process reference path calls the very same ones, so the two cannot
drift apart.

Shingles are taken from the dedup key (`corpusforge.text.dedup_key`): word n-grams split on its
spaces for space-separated text; for Chinese, Japanese and Korean (by `lang`, or text that is
mostly CJK) character n-grams with spaces skipped, or jieba word n-grams on request. The key
already maps traditional to simplified Chinese, so both scripts shingle alike.

Hashing of one shingle: each token (a word, or a character) gets a 64-bit hash (BLAKE2b-64 of a
word's UTF-8; a SplitMix64 mix of a character's code point), and the n token hashes of a shingle
are folded left to right with SplitMix64, so a shingle's hash is a function of the shingle's
string only, and an n-gram costs n vectorized steps for a whole batch instead of one Python
call per shingle. The permutation `(a·x + b) mod (2^61 − 1)` is computed exactly in uint64
(see `permute`).
"""
from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpusforge.errors import ConfigError
from corpusforge.text.dedup_key import DEDUP_KEY_VERSION

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
_CJK_RANGES = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x3040, 0x30FF), (0x31F0, 0x31FF),
               (0xAC00, 0xD7AF), (0x1100, 0x11FF))
_CJK_CHAR = re.compile("[" + "".join(f"{chr(low)}-{chr(high)}" for low, high in _CJK_RANGES) + "]")
# Whitespace of str.split() other than U+0020 (every c with c.isspace(); a unit test recomputes it).
OTHER_WHITESPACE = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f\x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + (
    "\u2028\u2029\u202f\u205f\u3000"
)
_OTHER_WHITESPACE_RE2 = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in OTHER_WHITESPACE) + "]"
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
        return {**asdict(self), "dedup_key_version": DEDUP_KEY_VERSION, "hash": "blake2b64-splitmix64-mod61"}

    def permutations(self) -> tuple[np.ndarray, np.ndarray]:
        """The coefficients (a, b) of the permutations, uint64, 1 ≤ a < p, 0 ≤ b < p.

        >>> a, b = MinHashParams(num_perm=4, bands=2, rows=2).permutations()
        >>> a.shape, bool((a >= 1).all() and (a < MERSENNE_PRIME).all())
        ((4,), True)
        """
        return _permutations(self.num_perm, self.seed)


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


def _fold_ngrams(token_hashes: np.ndarray, lengths: np.ndarray, ngram: int) -> tuple[np.ndarray, np.ndarray]:
    """Shingle hashes of documents whose token hashes are concatenated; returns (hashes, counts)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    counts = np.maximum(lengths - ngram + 1, 0)
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, dtype=np.uint64), counts
    token_starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    compiled = _compiled("fold") if os.environ.get(KERNEL_ENV) != "numpy" else None
    if compiled is not None:
        folded = np.empty(total, dtype=np.uint64)
        compiled(np.ascontiguousarray(token_hashes, dtype=np.uint64), token_starts, counts, ngram, folded)
        return folded, counts
    shingle_starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    # start index of every shingle in the token array: its doc's first token + its rank in the doc
    starts = np.repeat(token_starts - shingle_starts, counts) + np.arange(total, dtype=np.int64)
    folded = token_hashes[starts].copy()
    for offset in range(1, ngram):
        folded = splitmix64(folded ^ token_hashes[starts + offset])
    return folded, counts


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


def _blake2b64(words: Sequence[bytes]) -> np.ndarray:
    digests = b"".join([hashlib.blake2b(word, digest_size=8).digest() for word in words])
    return np.frombuffer(digests, dtype="<u8").astype(np.uint64)


def _cjk_counts(keys: pa.Array) -> np.ndarray:
    """`len(_CJK_CHAR.findall(key))` of each key, on the UTF-8 bytes: every CJK range is a
    3-byte sequence, whose lead byte (0xE0–0xEF) no other byte of valid UTF-8 equals."""
    counts = np.zeros(len(keys), dtype=np.int64)
    offsets_buffer, data_buffer = keys.buffers()[1:3]
    if data_buffer is None:
        return counts
    offset_type = np.int64 if pa.types.is_large_string(keys.type) else np.int32
    offsets = np.frombuffer(offsets_buffer, dtype=offset_type)[keys.offset : keys.offset + len(keys) + 1]
    data = np.frombuffer(data_buffer, dtype=np.uint8)[offsets[0] : offsets[-1]]
    leads = np.flatnonzero((data & 0xF0) == 0xE0)
    leads = leads[leads + 2 < len(data)]
    code_points = (
        ((data[leads].astype(np.int64) & 0x0F) << 12)
        | ((data[leads + 1].astype(np.int64) & 0x3F) << 6)
        | (data[leads + 2].astype(np.int64) & 0x3F)
    )
    is_cjk = np.zeros(len(leads), dtype=bool)
    for low, high in _CJK_RANGES:
        is_cjk |= (code_points >= low) & (code_points <= high)
    documents = np.searchsorted(offsets[1:] - offsets[0], leads[is_cjk], side="right")
    counts += np.bincount(documents, minlength=len(keys))
    return counts


def _arrow_word_hashes(pieces: pa.ListArray) -> tuple[np.ndarray, np.ndarray]:
    """Token hashes and token counts from keys split on " " (`pc.split_pattern`), which for
    keys without other whitespace, empty pieces dropped, is exactly `str.split()`; distinct
    words found in Arrow, BLAKE2b once per distinct word of the batch."""
    flat = pc.list_flatten(pieces)
    parents = pc.list_parent_indices(pieces)
    nonempty = pc.greater(pc.binary_length(flat), 0)
    flat, parents = flat.filter(nonempty), parents.filter(nonempty)
    counts = np.bincount(parents.to_numpy(zero_copy_only=False), minlength=len(pieces)).astype(np.int64)
    encoded = pc.dictionary_encode(flat)
    vocabulary_hashes = _blake2b64(encoded.dictionary.cast(pa.binary()).to_pylist())
    return vocabulary_hashes[encoded.indices.to_numpy(zero_copy_only=False)], counts


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
    Splitting into words and finding the batch's distinct words runs in Arrow, and each
    distinct word is hashed once; the result is what `shingles` + the per-token hashes give.

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
    # is_cjk_text for the whole batch: by lang, or more than MOSTLY_CJK_FRACTION CJK letters
    pieces = pc.split_pattern(key_array, " ")  # spaces = pieces − 1; the word documents' tokens
    spaces = pc.list_value_length(pieces).to_numpy(zero_copy_only=False).astype(np.int64) - 1
    letters = pc.utf8_length(key_array).to_numpy(zero_copy_only=False).astype(np.int64) - spaces
    cjk_letters = _cjk_counts(key_array)
    is_cjk = np.fromiter((_is_cjk_lang(lang) for lang in lang_list), dtype=bool, count=n_docs)
    is_cjk |= (letters > 0) & (cjk_letters > MOSTLY_CJK_FRACTION * letters)
    # keys with other whitespace (tabs, NBSP, ideographic space, …) are re-joined by str.split()
    odd_space = pc.match_substring_regex(key_array, _OTHER_WHITESPACE_RE2).to_numpy(zero_copy_only=False)

    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    python_words = np.flatnonzero(is_cjk) if cjk_mode == "jieba" else np.empty(0, dtype=np.int64)
    arrow_words = np.flatnonzero(~is_cjk)
    if arrow_words.size:
        words = key_array.take(pa.array(arrow_words))
        odd = np.flatnonzero(odd_space[arrow_words])
        if odd.size:
            values = words.to_pylist()
            for index in odd.tolist():
                values[index] = " ".join(values[index].split())
            words = pa.array(values, type=pa.string())
            token_hashes, lengths = _arrow_word_hashes(pc.split_pattern(words, " "))
        else:
            token_hashes, lengths = _arrow_word_hashes(pieces.take(pa.array(arrow_words)))
        parts.append((arrow_words, *_fold_ngrams(token_hashes, lengths, ngram)))
    if python_words.size:
        token_lists = [_tokens(key, lang_list[index], cjk_mode)[0]
                       for index, key in zip(python_words.tolist(), key_array.take(pa.array(python_words)).to_pylist())]
        vocabulary: dict[str, int] = {}
        word_ids = [vocabulary.setdefault(token, len(vocabulary)) for tokens in token_lists for token in tokens]
        token_hashes = _blake2b64([word.encode("utf-8") for word in vocabulary])[np.asarray(word_ids, dtype=np.int64)]
        lengths = np.fromiter((len(tokens) for tokens in token_lists), dtype=np.int64, count=len(token_lists))
        parts.append((python_words, *_fold_ngrams(token_hashes, lengths, ngram)))
    char_docs = np.flatnonzero(is_cjk) if cjk_mode == "char" else np.empty(0, dtype=np.int64)
    if char_docs.size:
        char_texts = [key.replace(" ", "") for key in key_array.take(pa.array(char_docs)).to_pylist()]
        code_points = np.frombuffer("".join(char_texts).encode("utf-32-le"), dtype="<u4")
        lengths = np.fromiter((len(text) for text in char_texts), dtype=np.int64, count=len(char_texts))
        parts.append((char_docs, *_fold_ngrams(_char_hashes(code_points), lengths, ngram)))

    if len(parts) == 1 and len(parts[0][0]) == n_docs:
        return parts[0][1], parts[0][2]
    counts = np.zeros(n_docs, dtype=np.int64)
    for docs, _, part_counts in parts:
        counts[docs] = part_counts
    # gather every part's shingles into document order
    offsets = np.concatenate(([0], np.cumsum(counts)))
    hashes = np.empty(int(offsets[-1]), dtype=np.uint64)
    for docs, part_hashes, part_counts in parts:
        destination = np.repeat(offsets[docs], part_counts)
        part_starts = np.concatenate(([0], np.cumsum(part_counts)[:-1]))
        rank = np.arange(len(part_hashes), dtype=np.int64) - np.repeat(part_starts, part_counts)
        hashes[destination + rank] = part_hashes
    return hashes, counts


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
    """The numba-compiled `_signature_loop` ("signature") or `_fold_loop` ("fold"), compiled once
    per process and cached on disk by numba; None when numba does not import."""
    if name not in _COMPILED:
        try:
            import numba
        except ImportError:
            _COMPILED[name] = None
        else:
            function = {"signature": _signature_loop, "fold": _fold_loop}[name]
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
