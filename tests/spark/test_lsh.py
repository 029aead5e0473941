"""MinHash LSH in Spark: clusters, representatives, determinism, agreement with the pure path."""
from __future__ import annotations

import random

import pytest

from corpusforge.dedup.lsh import check_index_params, near_duplicates_local
from corpusforge.stages.lsh import against_index, minhash_signatures, near_duplicates, star_edges
from corpusforge.dedup.minhash import MinHashParams
from corpusforge.errors import ConfigError, SchemaError
from corpusforge.text.dedup_key import dedup_key, doc_id

pytestmark = pytest.mark.spark

SCHEMA = "doc_id string, dedup_key string, lang string, split_rank int"
PARAMS = MinHashParams()
# common words, so that unrelated documents share words but almost no 5-gram
VOCABULARY = (
    "the of and to in is was for on that with as by at from his her an were which this be or "
    "had are not but have they one all their has been there more when who will would no out "
    "city river council school market winter summer report music garden station history family "
    "water north south east west museum bridge harbor village railway forest church island"
).split()
HAN = "的一是不了人我在有他这为之大来以个中上们到说国和地也子时道出而要于就下得可你年生自会那后能对着事其里所去行过家十用发天如然作方成者多日都三小军二无同么经法当起与好看学进种将还分此心前面又定见只主没公从"


def _english(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(VOCABULARY) for _ in range(words))
    return text[0].upper() + text[1:] + "."


def _edit(text: str, rng: random.Random, rate: float) -> str:
    out = []
    for word in text.split():
        roll = rng.random()
        if roll < rate / 2:
            continue
        out.append(rng.choice(VOCABULARY) if roll < rate else word)
    return " ".join(out)


def _corpus(seed: int = 1) -> list[tuple[str, str, str | None, int | None]]:
    """Clusters of near-copies, exact copies, short documents and unrelated ones."""
    rng = random.Random(seed)
    texts: list[tuple[str, str | None, int | None]] = []
    for cluster in range(6):
        base = _english(rng, 300)
        texts.append((base, "en", 2))
        for _ in range(rng.randint(1, 4)):
            texts.append((_edit(base, rng, 0.03), "en", rng.choice([0, 1, 2, None])))
    for _ in range(12):
        texts.append((_english(rng, 250), "en", 2))
    base_zh = "".join(rng.choice(HAN) for _ in range(400))
    texts += [(base_zh, "zh", 2), (base_zh[:150] + base_zh[152:], "zh", 2)]
    texts += [("too short text", "en", 2)] * 3  # fewer than 5 words: left to exact dedup
    return [
        (doc_id("test/corpus", str(index)), dedup_key(text), lang, rank)
        for index, (text, lang, rank) in enumerate(texts)
    ]


def _result(frame) -> dict[str, str]:
    return {row["doc_id"]: row["duplicate_of"] for row in frame.collect()}


@pytest.fixture(scope="module")
def corpus():
    return _corpus()


def test_spark_path_agrees_with_pure_reference(spark, corpus) -> None:
    frame = spark.createDataFrame(corpus, SCHEMA)
    for verify in ("none", "signature"):
        got = _result(near_duplicates(frame, PARAMS, verify=verify))
        assert got == near_duplicates_local(corpus, PARAMS, verify=verify), verify
    # the planted clusters are found, short documents are left alone
    found = _result(near_duplicates(frame, PARAMS, verify="exact", threshold=0.5))
    assert found == near_duplicates_local(corpus, PARAMS, verify="exact", threshold=0.5)
    assert len(found) >= 10
    short_ids = {row[0] for row in corpus if row[1] == "too short text"}
    assert not short_ids & (set(found) | set(found.values()))


def test_representative_is_minimum_preference_then_doc_id(spark, corpus) -> None:
    got = near_duplicates_local(corpus, PARAMS)
    rank_of = {row[0]: (2**31 - 1 if row[3] is None else row[3]) for row in corpus}
    clusters: dict[str, set[str]] = {}
    for member, representative in got.items():
        clusters.setdefault(representative, {representative}).add(member)
    assert clusters
    for representative, members in clusters.items():
        assert representative == min(members, key=lambda member: (rank_of[member], member))
    frame = spark.createDataFrame(corpus, SCHEMA)
    without_preference = _result(near_duplicates(frame, PARAMS, preference_col=None))
    for member, representative in without_preference.items():
        assert representative < member


def test_identical_output_with_1_4_16_partitions(spark, corpus) -> None:
    frame = spark.createDataFrame(corpus, SCHEMA)
    results = [_result(near_duplicates(frame.repartition(count), PARAMS)) for count in (1, 4, 16)]
    assert results[0] == results[1] == results[2]
    assert results[0]


def test_skewed_bucket_gives_star_edges(spark) -> None:
    rng = random.Random(5)
    page = dedup_key(_english(rng, 120))
    copies = 2000
    rows = [(doc_id("skew", str(index)), page, "en", 2) for index in range(copies)]
    frame = spark.createDataFrame(rows, SCHEMA).repartition(4)
    sigs = minhash_signatures(frame, PARAMS)
    assert star_edges(sigs).count() == copies - 1  # every band's bucket points at the same minimum
    dupes = near_duplicates(frame, PARAMS)
    smallest = min(row[0] for row in rows)
    assert dupes.count() == copies - 1
    assert {row["duplicate_of"] for row in dupes.select("duplicate_of").distinct().collect()} == {smallest}


def test_chinese_traditional_and_simplified_and_shared_phrase(spark) -> None:
    rng = random.Random(9)
    body = "".join(rng.choice(HAN) for _ in range(300))
    phrase = "台湾的天气在夏天非常炎热许多人喜欢到海边游泳这个城市的图书馆周末也开放学生们常常在那里读书"
    texts = [
        ("臺灣的天氣在夏天非常炎熱，許多人喜歡到海邊游泳。這個城市的圖書館週末也開放，學生們常常在那裡讀書。" * 3, "zh"),
        ("台湾的天气在夏天非常炎热，许多人喜欢到海边游泳。这个城市的图书馆周末也开放，学生们常常在那里读书。" * 3, "zh"),
        (body + phrase, "zh"),  # unrelated documents sharing one long phrase
        ("".join(rng.choice(HAN) for _ in range(300)) + phrase, None),
    ]
    rows = [(doc_id("zh", str(index)), dedup_key(text), lang, 2) for index, (text, lang) in enumerate(texts)]
    got = _result(near_duplicates(spark.createDataFrame(rows, SCHEMA), PARAMS, verify="signature"))
    ids = [row[0] for row in rows]
    assert got == {max(ids[0], ids[1]): min(ids[0], ids[1])}


def _index_rows(sigs, dropped):
    """The (doc_id, band, band_hash, signature) rows of the kept documents that went through LSH,
    as `outputs.minhash_index.load_minhash_index` explodes the stored index."""
    from pyspark.sql import functions as F

    kept = sigs.filter(F.col("n_shingles") > 0).join(dropped.select("doc_id"), "doc_id", "left_anti")
    return kept.select("doc_id", F.posexplode("band_hashes").alias("band", "band_hash"), "signature")


def test_against_index_finds_exactly_the_overlap(spark) -> None:
    rng = random.Random(21)
    first_texts = [_english(rng, 200) for _ in range(20)]
    first = [(doc_id("run1", str(i)), dedup_key(text), "en", 2) for i, text in enumerate(first_texts)]
    # the overlap: the same pages again, one word changed (true Jaccard ≈ 0.95)
    overlap = [(doc_id("run2", str(i)), dedup_key(first_texts[i].replace(" the ", " a ", 1)), "en", 2) for i in range(10)]
    fresh = [(doc_id("run2", str(10 + i)), dedup_key(_english(rng, 200)), "en", 2) for i in range(10)]
    first_frame = spark.createDataFrame(first, SCHEMA)
    index = _index_rows(minhash_signatures(first_frame, PARAMS), dropped=near_duplicates(first_frame, PARAMS))
    assert index.count() == 20 * PARAMS.bands
    second_sigs = minhash_signatures(spark.createDataFrame(overlap + fresh, SCHEMA), PARAMS)
    seen = _result(against_index(second_sigs, index, PARAMS))
    assert seen == {overlap[i][0]: first[i][0] for i in range(10)}


def test_index_of_other_parameters_is_refused() -> None:
    with pytest.raises(ConfigError, match="rows: index 7, run 8"):
        check_index_params(MinHashParams(bands=16, rows=7).fingerprint(), PARAMS)


def test_input_schema_is_checked_before_work(spark) -> None:
    frame = spark.createDataFrame([("a", 1)], "doc_id string, dedup_key int")
    with pytest.raises(SchemaError, match="'dedup_key' must be a string"):
        near_duplicates(frame, PARAMS)
    with pytest.raises(ConfigError, match="verify"):
        near_duplicates(spark.createDataFrame([("a", "b")], "doc_id string, dedup_key string"), verify="fast")  # type: ignore[arg-type]
