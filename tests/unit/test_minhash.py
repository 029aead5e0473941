"""Pure MinHash core: exact modular arithmetic, determinism, shingling, batch = per document."""
from __future__ import annotations

import random

import numpy as np
import pytest

from corpusforge.dedup import minhash
from corpusforge.dedup.minhash import (
    EMPTY_SIGNATURE_VALUE,
    MERSENNE_PRIME,
    MinHashParams,
    band_hashes,
    batch_shingle_hashes,
    estimate_jaccard,
    jaccard,
    optimal_params,
    permute,
    shingle_hashes,
    shingles,
    signatures,
    signatures_from_hashes,
)
from corpusforge.errors import ConfigError
from corpusforge.text.dedup_key import dedup_key

ENGLISH = (
    "The city council met on Tuesday evening to discuss the proposed budget for the coming year. "
    "Several residents spoke against the plan to close the public library on weekends, arguing that "
    "students and working families depend on it. The mayor said the council would consider other "
    "savings, including delaying the road repairs planned for the north side of town, before a final "
    "vote next month. A local business owner asked whether the new parking fees would be reduced."
)
CHINESE_TRADITIONAL = "臺灣的天氣在夏天非常炎熱，許多人喜歡到海邊游泳。這個城市的圖書館週末也開放，學生們常常在那裡讀書。"
CHINESE_SIMPLIFIED = "台湾的天气在夏天非常炎热，许多人喜欢到海边游泳。这个城市的图书馆周末也开放，学生们常常在那里读书。"


def _edit_words(text: str, rate: float, seed: int) -> str:
    rng = random.Random(seed)
    words = text.split()
    out: list[str] = []
    for word in words:
        roll = rng.random()
        if roll < rate / 3:
            continue  # delete
        if roll < 2 * rate / 3:
            out.append(f"word{rng.randrange(1000)}")  # substitute
            continue
        out.append(word)
        if roll < rate:
            out.append(f"extra{rng.randrange(1000)}")  # insert
    return " ".join(out)


def _python_permute(x: int, a: int, b: int) -> int:
    return (a * x + b) % MERSENNE_PRIME


def test_permute_is_exact_against_python_ints() -> None:
    rng = np.random.default_rng(7)
    edge = np.array([0, 1, 2, (1 << 32) - 1, 1 << 32, (1 << 60), MERSENNE_PRIME - 1], dtype=np.uint64)
    x = np.concatenate([edge, rng.integers(0, MERSENNE_PRIME, size=2000, dtype=np.uint64)])
    a = np.concatenate([edge[1:], rng.integers(1, MERSENNE_PRIME, size=50, dtype=np.uint64)])
    b = np.concatenate([edge, rng.integers(0, MERSENNE_PRIME, size=50, dtype=np.uint64)])[: len(a)]
    result = permute(x[:, None], a[None, :], b[None, :])
    for i in range(0, len(x), 37):
        for j in range(len(a)):
            assert int(result[i, j]) == _python_permute(int(x[i]), int(a[j]), int(b[j]))
    # the extreme corner: every operand at its maximum
    top = np.array([MERSENNE_PRIME - 1], dtype=np.uint64)
    assert int(permute(top, top, top)[0]) == _python_permute(*(MERSENNE_PRIME - 1,) * 3)


def test_signatures_match_python_reference_for_every_permutation() -> None:
    params = MinHashParams()
    key = dedup_key(ENGLISH)
    a, b = params.permutations()
    hashes = [int(h) % MERSENNE_PRIME for h in shingle_hashes(key, params.ngram)]
    expected = [min(_python_permute(x, int(a[j]), int(b[j])) for x in hashes) for j in range(params.num_perm)]
    assert [int(v) for v in signatures([key], params)[0]] == expected


def test_signatures_are_deterministic_and_seeded() -> None:
    keys = [dedup_key(ENGLISH), dedup_key(CHINESE_SIMPLIFIED)]
    first = signatures(keys, MinHashParams())
    again = signatures(keys, MinHashParams())
    other_seed = signatures(keys, MinHashParams(seed=43))
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other_seed)
    assert first.dtype == np.uint64 and first.shape == (2, 112)
    assert int(first.max()) < MERSENNE_PRIME


def test_shingle_hash_depends_only_on_the_shingle() -> None:
    key = dedup_key(ENGLISH)
    texts = shingles(key, 5)
    hashes = shingle_hashes(key, 5)
    assert len(texts) == len(hashes)
    by_text = dict(zip(texts, hashes.tolist()))
    assert len(set(by_text.values())) == len(by_text)  # no collisions among distinct shingles
    shifted = "prefix words here " + key
    shifted_by_text = dict(zip(shingles(shifted, 5), shingle_hashes(shifted, 5).tolist()))
    for text, value in by_text.items():
        assert shifted_by_text[text] == value


def test_word_shingles_and_short_documents() -> None:
    assert shingles("a b c d e f", 5) == ["a b c d e", "b c d e f"]
    assert shingles("a b c d", 5) == []
    assert len(shingle_hashes("a b c d", 5)) == 0
    sig = signatures(["a b c d"])
    assert bool((sig == EMPTY_SIGNATURE_VALUE).all())


def test_cjk_character_shingles_skip_spaces() -> None:
    key = dedup_key("今天 天气很好！")
    assert shingles(key, 3, "zh") == ["今天天", "天天气", "天气很", "气很好"]
    # without a lang, mostly-CJK text is still shingled by characters
    assert shingles(key, 3, None) == shingles(key, 3, "zh")
    # Chinese must never become one token per clause
    assert len(shingles(dedup_key(CHINESE_SIMPLIFIED), 5, "zh")) > 30


def test_traditional_and_simplified_give_the_same_shingles() -> None:
    traditional = dedup_key(CHINESE_TRADITIONAL)
    simplified = dedup_key(CHINESE_SIMPLIFIED)
    assert shingles(traditional, 5, "zh") == shingles(simplified, 5, "zh")
    sig = signatures([traditional, simplified], langs=["zh", "zh"])
    assert np.array_equal(sig[0], sig[1])


def test_estimated_jaccard_tracks_exact_jaccard_on_edited_text() -> None:
    base = dedup_key(" ".join([ENGLISH] * 3))
    params = MinHashParams(num_perm=256, bands=16, rows=16)
    for rate, seed in ((0.02, 1), (0.06, 2), (0.15, 3), (0.3, 4)):
        edited = dedup_key(_edit_words(base, rate, seed))
        exact = jaccard(shingles(base), shingles(edited))
        sig = signatures([base, edited], params)
        estimate = estimate_jaccard(sig[0], sig[1])
        # standard error of the estimator is sqrt(J(1-J)/num_perm) ≤ 0.032 at 256 permutations
        assert abs(estimate - exact) < 0.1, (rate, exact, estimate)
    unrelated = signatures([base, dedup_key(CHINESE_SIMPLIFIED)], params)
    assert estimate_jaccard(unrelated[0], unrelated[1]) < 0.05


def test_batch_path_equals_per_document_path() -> None:
    rng = random.Random(3)
    words = [f"token{i}" for i in range(300)]
    keys = [" ".join(rng.choices(words, k=rng.randint(0, 700))) for _ in range(40)]
    keys += [dedup_key(CHINESE_SIMPLIFIED), "", "x", dedup_key(ENGLISH)]
    rng.shuffle(keys)
    langs = [None] * len(keys)
    params = MinHashParams()
    batch = signatures(keys, params, langs)
    for index, key in enumerate(keys):
        single = signatures([key], params, [None])
        assert np.array_equal(batch[index], single[0]), index
        hashes = shingle_hashes(key, params.ngram)
        per_doc = signatures_from_hashes(hashes, np.array([len(hashes)]), params)
        assert np.array_equal(batch[index], per_doc[0])
    hashes, counts = batch_shingle_hashes(keys, langs)
    assert len(hashes) == int(counts.sum())
    assert counts.tolist() == [len(shingles(key)) for key in keys]


def test_long_document_spanning_many_blocks() -> None:
    rng = random.Random(5)
    key = " ".join(f"w{rng.randrange(5000)}" for _ in range(3 * minhash._SHINGLE_CHUNK + 17))
    params = MinHashParams()
    a, b = params.permutations()
    hashes = [int(h) % MERSENNE_PRIME for h in shingle_hashes(key)]
    expected = [min(_python_permute(x, int(a[j]), int(b[j])) for x in hashes) for j in range(0, params.num_perm, 11)]
    got = signatures(["a b c d e f", key, "short"], params)[1]
    assert [int(v) for v in got[::11]] == expected


def test_band_hashes_separate_bands_and_follow_rows() -> None:
    sig = signatures([dedup_key(ENGLISH), dedup_key(_edit_words(ENGLISH, 0.05, 9))])
    bands = band_hashes(sig, 14, 8)
    assert bands.shape == (2, 14) and bands.dtype == np.int64
    for band in range(14):
        same_rows = np.array_equal(sig[0, band * 8 : (band + 1) * 8], sig[1, band * 8 : (band + 1) * 8])
        assert (bands[0, band] == bands[1, band]) == same_rows
    constant = np.zeros((1, 112), dtype=np.uint64)
    assert len(set(band_hashes(constant, 14, 8)[0].tolist())) == 14  # same values, different bands


def test_optimal_params_respects_budget_and_threshold() -> None:
    bands, rows = optimal_params(0.8, 112)
    assert bands * rows <= 112
    # the S-curve's midpoint (1/b)^(1/r) sits near the asked threshold
    assert abs((1 / bands) ** (1 / rows) - 0.8) < 0.08
    assert optimal_params(0.5, 112) != optimal_params(0.9, 112)
    with pytest.raises(ConfigError, match="threshold"):
        optimal_params(1.5, 112)


def test_params_validate_and_fingerprint() -> None:
    with pytest.raises(ConfigError, match="bands × rows"):
        MinHashParams(num_perm=64, bands=14, rows=8)
    with pytest.raises(ConfigError, match="cjk_shingles"):
        MinHashParams(cjk_shingles="words")  # type: ignore[arg-type]
    fingerprint = MinHashParams().fingerprint()
    assert fingerprint["num_perm"] == 112 and fingerprint["seed"] == 42
    assert MinHashParams(seed=1).fingerprint() != fingerprint


def test_jieba_word_shingles_when_segmenter_exists() -> None:
    pytest.importorskip("corpusforge.text.segment")
    key = dedup_key(CHINESE_SIMPLIFIED)
    words = shingles(key, 2, "zh", "jieba")
    assert words and all(" " in shingle for shingle in words)
    params = MinHashParams(cjk_shingles="jieba", ngram=2)
    assert signatures([key], params, ["zh"]).shape == (1, 112)
    # a jieba shingle hashes like the same words in space-separated text
    hashes, _ = batch_shingle_hashes([key], ["zh"], ngram=2, cjk_mode="jieba")
    words = minhash._tokens(key, "zh", "jieba")[0]
    assert hashes.tolist() == _fold_reference([_fnv1a_splitmix(word) for word in words], 2)


# ---------------------------------------------------------------------------------------------
# The compiled kernel and the numpy reference agree bit for bit
# ---------------------------------------------------------------------------------------------

needs_numba = pytest.mark.skipif(not minhash.numba_available(), reason="numba is not installed")


@needs_numba
def test_numba_kernel_equals_numpy_reference_on_random_and_edge_hashes() -> None:
    rng = np.random.default_rng(7)
    counts = rng.integers(0, 700, 300)  # some documents without shingles, some spanning blocks
    counts[:5] = 0
    hashes = rng.integers(0, 2**64 - 1, int(counts.sum()), dtype=np.uint64, endpoint=True)
    # hashes at the edges of the reduction: 2^64 − 1, p, p − 1, p + 1, 0, 2^61
    edges = np.array([2**64 - 1, MERSENNE_PRIME, MERSENNE_PRIME - 1, MERSENNE_PRIME + 1, 0, 2**61], dtype=np.uint64)
    hashes[: len(edges)] = edges
    for params in (MinHashParams(), MinHashParams(num_perm=37, bands=4, rows=9, seed=3)):
        compiled = signatures_from_hashes(hashes, counts, params, kernel="numba")
        reference = signatures_from_hashes(hashes, counts, params, kernel="numpy")
        assert compiled.dtype == reference.dtype == np.uint64
        assert np.array_equal(compiled, reference)
        assert (compiled[:5] == EMPTY_SIGNATURE_VALUE).all()


@needs_numba
def test_numba_kernel_equals_python_ints_for_extreme_coefficients() -> None:
    hashes = np.array([2**64 - 1, MERSENNE_PRIME - 1, 1, 2**63 + 12345], dtype=np.uint64)
    params = MinHashParams(num_perm=8, bands=2, rows=4, seed=11)
    a, b = params.permutations()
    got = signatures_from_hashes(hashes, np.array([4]), params, kernel="numba")[0]
    expected = [
        min((int(a[k]) * (int(h) % MERSENNE_PRIME) + int(b[k])) % MERSENNE_PRIME for h in hashes)
        for k in range(8)
    ]
    assert got.tolist() == expected


@needs_numba
def test_numba_kernel_equals_numpy_on_real_text() -> None:
    keys = [dedup_key(ENGLISH), dedup_key(CHINESE_TRADITIONAL), "short", ""]
    hashes, counts = batch_shingle_hashes(keys, ["en", "zh", None, None])
    params = MinHashParams()
    assert np.array_equal(
        signatures_from_hashes(hashes, counts, params, kernel="numba"),
        signatures_from_hashes(hashes, counts, params, kernel="numpy"),
    )


def test_unknown_kernel_is_refused() -> None:
    with pytest.raises(ConfigError, match="kernel must be"):
        signatures_from_hashes(np.zeros(1, np.uint64), np.array([1]), MinHashParams(), kernel="gpu")


def _fnv1a_splitmix(word: str) -> int:
    value = 0xCBF29CE484222325
    for byte in word.encode("utf-8"):
        value = ((value ^ byte) * 0x100000001B3) % 2**64
    return int(minhash.splitmix64(np.array([value], dtype=np.uint64))[0])


def _reference_shingle_hashes(key: str, lang: str | None, ngram: int = 5) -> list[int]:
    """The definition, one shingle at a time: FNV-1a-64 + SplitMix64 per word (SplitMix64 of the
    code point per CJK character), folded left to right with SplitMix64."""
    if minhash.is_cjk_text(key, lang):
        return _fold_reference([int(minhash._char_hashes(np.array([ord(c)]))[0]) for c in key.replace(" ", "")], ngram)
    return _fold_reference([_fnv1a_splitmix(w) for w in key.split()], ngram)


def _fold_reference(tokens: list[int], ngram: int) -> list[int]:
    out = []
    for start in range(len(tokens) - ngram + 1):
        value = np.array([tokens[start]], dtype=np.uint64)
        for token in tokens[start + 1 : start + ngram]:
            value = minhash.splitmix64(value ^ np.uint64(token))
        out.append(int(value[0]))
    return out


def test_other_whitespace_is_every_python_space_but_u0020() -> None:
    import sys

    expected = "".join(c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace() and c != " ")
    assert minhash.OTHER_WHITESPACE == expected


@pytest.mark.parametrize("kernel", ["auto", "numpy"])
def test_batch_path_equals_the_definition_on_odd_keys(kernel: str, monkeypatch) -> None:
    import pyarrow as pa

    monkeypatch.setenv(minhash.KERNEL_ENV, kernel)
    keys = [
        "a\tb c d e f g", " lead  double  spaces here and there ", "x\u3000y z w v u t", "a\x1cb c d e f",
        "", None, "mixed 中文 text with english words here ok", "中文中文中文中文 abc", "\u00a0nbsp\u00a0words are here too x y",
        "  ", "a b c d", "日本語のテキストです。ひらがな", "한국어 텍스트 입니다 여기", "ascii then ü é ß words ok fine",
        "four byte 😀 and 𠀀 letters end here", "line\u2028sep\u2029para\x85next\u205fmath\u202fnarrow ok",
        dedup_key(ENGLISH), dedup_key(CHINESE_TRADITIONAL),
    ]
    langs = [None] * len(keys)
    langs[3], langs[-1] = "zh-TW", "zh"
    expected = [_reference_shingle_hashes(key or "", lang) for key, lang in zip(keys, langs)]
    for given in (keys, pa.array(keys, pa.string()), pa.array(keys, pa.large_string()), pa.array(["pad"] + keys).slice(1)):
        hashes, counts = batch_shingle_hashes(given, langs)
        offsets = np.concatenate(([0], np.cumsum(counts)))
        got = [hashes[offsets[i] : offsets[i + 1]].tolist() for i in range(len(keys))]
        assert got == expected


def test_compiled_tokenizer_equals_the_python_reference_on_random_text(monkeypatch) -> None:
    pytest.importorskip("numba")
    rng = random.Random(5)
    # ASCII, Latin-1, CJK, kana, hangul, astral letters and every kind of whitespace
    alphabet = list("abcdefghij XYZ09.,") + list(minhash.OTHER_WHITESPACE) + list("éüßñ中文字日本かなカナ한글") + ["😀", "𠀀"]
    keys = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 120))) for _ in range(400)]
    langs = [rng.choice([None, "en", "zh", "ja-JP"]) for _ in keys]
    compiled = batch_shingle_hashes(keys, langs, ngram=3)
    monkeypatch.setenv(minhash.KERNEL_ENV, "numpy")
    reference = batch_shingle_hashes(keys, langs, ngram=3)
    assert np.array_equal(compiled[1], reference[1]) and np.array_equal(compiled[0], reference[0])
    assert int(compiled[1].sum()) > 1000  # the text is long enough to have shingles
