"""The MinHash stage and the line-dedup stage in small in-process pipeline runs."""
from __future__ import annotations

import json
import random

import pytest
from pyspark.sql import functions as F

from corpusforge.config import load_config
from corpusforge.dedup.minhash import MinHashConfig
from corpusforge.stages.minhash_dedup import MinHashDedupStage
from corpusforge.errors import ConfigError
from corpusforge.ingest.plan import plan_inputs
from corpusforge.pipeline.run import run_pipeline
from corpusforge.tables.delta import read_table
from corpusforge.text.zh import _converter

pytestmark = pytest.mark.spark

MINHASH_RUN = ['pipeline.stages=["normalize", "exact_dedup", "minhash_dedup"]', 'pipeline.outputs=["minhash_index"]']
VOCABULARY = [f"{a}{b}" for a in ("river", "stone", "bread", "cloud", "metal", "green", "quiet", "north")
              for b in ("wood", "field", "light", "water", "glass", "paper", "horse", "table", "storm", "song")]


def _base_text(seed: int, words: int = 200) -> str:
    rng = random.Random(seed)
    return " ".join(f"{rng.choice(VOCABULARY)}{rng.randrange(50)}" for _ in range(words))


def _edited(text: str, seed: int, substitutions: int = 2) -> str:
    rng = random.Random(seed)
    words = text.split()
    for position in rng.sample(range(len(words)), substitutions):
        words[position] = f"edit{rng.randrange(10**6)}"
    return " ".join(words)


def _group(text: str, bases: list[str]) -> int:
    """Which base text `text` (maybe an edited or truncated copy) comes from."""
    words = set(text.split())
    return max(range(len(bases)), key=lambda i: len(words & set(bases[i].split())))


def _write_jsonl(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return path


def _run(spark, inputs, out, run_id, overrides=()):
    cfg = load_config(overrides=[*MINHASH_RUN, *overrides])
    plan = plan_inputs([str(p) for p in inputs], None, cfg.input)
    return run_pipeline(spark, cfg, plan, str(out), run_id)


def test_near_duplicates_dropped_with_reason_detail_and_index(spark, tmp_path):
    base = [_base_text(seed) for seed in range(4)]
    rows = [{"text": t} for t in base] + [{"text": _edited(base[0], 100)}, {"text": _edited(base[1], 101)},
                                          {"text": "too short to shingle"}]
    out = tmp_path / "out"
    summary = _run(spark, [_write_jsonl(tmp_path / "in" / "a.jsonl", rows)], out, "r1")
    assert summary.records_read == 7 and summary.kept == 5
    assert summary.dropped == {"dedup.minhash/dedup.near_duplicate": 2}
    docs = read_table(spark, str(out), "documents")
    by_text = {r.text: r.doc_id for r in docs.collect()}
    group_of_kept = {r.doc_id: _group(r.text, base) for r in docs.collect()}
    dropped = read_table(spark, str(out), "dropped").collect()
    assert sorted(_group(r.text, base) for r in dropped) == [0, 1]
    for row in dropped:
        # each near-duplicate names its cluster's representative: the smaller doc_id of the pair
        assert row.drop_stage == "dedup.minhash" and row.drop_reason == "dedup.near_duplicate"
        assert group_of_kept[row.detail] == _group(row.text, base) and row.detail < row.doc_id
    index = read_table(spark, str(out), "minhash_index")
    # every kept document with shingles is remembered, the short one is not
    assert sorted(r.doc_id for r in index.collect()) == sorted(i for t, i in by_text.items() if t != "too short to shingle")
    assert index.select("params").distinct().count() == 1
    assert len(index.first().signature) == 112 and len(index.first().band_hashes) == 14
    assert "minhash_signature" not in docs.columns


def test_split_preference_keeps_the_test_copy(spark, tmp_path):
    text = _base_text(7)
    rows = [{"text": text, "split": "train"}, {"text": _edited(text, 1), "split": "test"},
            {"text": _edited(text, 2), "split": "validation"}]
    df = spark.createDataFrame(
        [(f"{i:032x}", r["text"], r["split"], None, None, None) for i, r in enumerate(rows)],
        "doc_id string, text string, split string, drop_stage string, drop_reason string, detail string",
    )
    flagged = MinHashDedupStage(MinHashConfig()).flag(df)
    kept = [r.split for r in flagged.where("drop_reason IS NULL").collect()]
    assert kept == ["test"]
    assert {r.detail for r in flagged.where("drop_reason IS NOT NULL").collect()} == {f"{1:032x}"}


def test_identical_kept_set_with_1_4_16_partitions(spark):
    rng = random.Random(3)
    base = [_base_text(seed, 120) for seed in range(30)]
    texts = base + [_edited(rng.choice(base), seed, 1) for seed in range(30)] + ["short text"] * 3
    rows = [(f"{random.Random(i).getrandbits(128):032x}", t, None, None, None) for i, t in enumerate(texts)]
    df = spark.createDataFrame(rows, "doc_id string, text string, drop_stage string, drop_reason string, detail string")
    stage = MinHashDedupStage(MinHashConfig())
    results = []
    for partitions in (1, 4, 16):
        flagged = stage.flag(df.repartition(partitions))
        results.append(sorted((r.doc_id, r.drop_reason, r.detail) for r in flagged.collect()))
    assert results[0] == results[1] == results[2]
    dropped = [r for r in results[0] if r[1] is not None]
    assert 20 <= len(dropped) <= 30  # the 30 edited copies collapse onto their (≤ 30) origins


def test_identical_documents_between_two_runs(spark, tmp_path):
    base = [_base_text(seed) for seed in range(5)]
    data = _write_jsonl(tmp_path / "in" / "a.jsonl",
                        [{"text": t} for t in base] + [{"text": _edited(t, 9)} for t in base[:3]])
    kept = []
    for name in ("one", "two"):
        _run(spark, [data], tmp_path / name, "r1")
        kept.append(sorted(r.doc_id for r in read_table(spark, str(tmp_path / name), "documents").collect()))
    assert kept[0] == kept[1] and len(kept[0]) == 5


def test_cross_run_half_overlap_drops_exactly_the_overlap(spark, tmp_path):
    out = tmp_path / "out"
    first = [_base_text(seed) for seed in range(10, 16)]
    _run(spark, [_write_jsonl(tmp_path / "in" / "one.jsonl", [{"text": t} for t in first])], out, "r1")
    earlier = {r.text: r.doc_id for r in read_table(spark, str(out), "documents").collect()}
    overlap = [_edited(t, 50 + i) for i, t in enumerate(first[3:])]  # near, not exact, copies
    fresh = [_base_text(seed) for seed in range(20, 23)]
    second = _write_jsonl(tmp_path / "in" / "two.jsonl", [{"text": t} for t in overlap + fresh])
    summary = _run(spark, [second], out, "r2")
    assert summary.kept == 3
    assert summary.dropped == {"dedup.minhash/dedup.seen_in_earlier_run": 3}
    dropped = read_table(spark, str(out), "dropped").where("run_id = 'r2'").collect()
    assert sorted(r.detail for r in dropped) == sorted(earlier[t] for t in first[3:])
    assert read_table(spark, str(out), "minhash_index").where("run_id = 'r2'").count() == 3
    # scope 'run' does not look at the index
    third = _write_jsonl(tmp_path / "in" / "three.jsonl", [{"text": _edited(first[0], 77)}])
    assert _run(spark, [third], out, "r3", ["dedup.scope=run"]).kept == 1


def test_chinese_traditional_and_simplified_near_duplicates_are_found(spark, tmp_path):
    simplified = ("今天上午市政府召开新闻发布会，介绍了城市交通改善计划的最新进展。负责人表示，今年将新建三条公交线路，"
                  "并在主要路口增加智能信号灯，以缓解早晚高峰的拥堵。市民可以通过手机应用查询实时公交信息。"
                  "此外，政府还计划在老城区修建更多的停车场，并鼓励居民骑自行车出行，减少汽车尾气排放。")
    traditional = _converter("s2t").convert(simplified.replace("三条", "四条"))
    unrelated = ("春天来了，山上的花都开了，孩子们在田野里放风筝。老人们坐在村口的大树下聊天，"
                 "谈论着今年的收成和远方工作的儿女。河水清澈见底，小鱼在石头之间游来游去。"
                 "新闻发布会介绍了城市交通改善计划的最新进展。")  # shares one long phrase only
    assert traditional != simplified
    rows = [{"text": simplified, "lang": "zh"}, {"text": traditional, "lang": "zh"}, {"text": unrelated}]
    out = tmp_path / "out"
    summary = _run(spark, [_write_jsonl(tmp_path / "in" / "zh.jsonl", rows)], out, "r1",
                   ['pipeline.stages=["minhash_dedup"]'])
    assert summary.dropped == {"dedup.minhash/dedup.near_duplicate": 1}
    kept = {r.text for r in read_table(spark, str(out), "documents").collect()}
    assert unrelated in kept and len(kept & {simplified, traditional}) == 1


def test_parameter_mismatch_is_refused_naming_the_difference(spark, tmp_path):
    out = tmp_path / "out"
    _run(spark, [_write_jsonl(tmp_path / "in" / "a.jsonl", [{"text": _base_text(1)}])], out, "r1")
    again = _write_jsonl(tmp_path / "in" / "b.jsonl", [{"text": _base_text(2)}])
    with pytest.raises(ConfigError, match=r"bands: index 14, run 7"):
        _run(spark, [again], out, "r2", ["minhash.bands=7"])
    with pytest.raises(ConfigError, match=r"seed: index 42, run 5"):
        _run(spark, [again], out, "r3", ["minhash.seed=5", "dedup.scope=run"])


def test_line_dedup_removes_repeated_lines_and_counts_them(spark, tmp_path):
    banner = "Accept all cookies | Privacy policy"
    rows = [{"text": f"{banner}\n{_base_text(seed, 30)}\nFooter © 2024 Example Inc."} for seed in range(4)]
    rows.append({"text": f"{banner}\nFooter © 2024 Example Inc."})  # nothing but repeated lines
    rows.append({"text": _base_text(99, 30)})
    out = tmp_path / "out"
    summary = _run(spark, [_write_jsonl(tmp_path / "in" / "l.jsonl", rows)], out, "r1",
                   ['pipeline.stages=["dedup_lines"]', "pipeline.outputs=[]", "dedup_lines.max_occurrences=3"])
    assert summary.kept == 5 and summary.dropped == {"dedup.lines/dedup.all_lines_repeated": 1}
    docs = read_table(spark, str(out), "documents").collect()
    assert all(banner not in r.text and "Footer" not in r.text for r in docs)
    removed = sorted(r.quality["dedup_lines.removed_lines"] for r in docs)
    assert removed == [0.0, 2.0, 2.0, 2.0, 2.0]
    stats = {(r.stage, r.metric): r.value for r in read_table(spark, str(out), "stats").collect()}
    assert stats[("dedup.lines", "lines.removed")] == 10.0  # 4 × 2 kept + 2 of the dropped one
    assert stats[("dedup.lines", "documents.with_removed_lines")] == 5.0
    assert read_table(spark, str(out), "documents").where(F.col("text").contains("cookies")).count() == 0


def test_signatures_from_text_in_one_worker_equal_keys_then_signatures(spark):
    # the stage makes keys and signatures in one Python worker; the two-step Spark API
    # (keys, then minhash_signatures) must give the same rows, node order included
    from corpusforge.stages.lsh import SIGNATURE_SCHEMA, minhash_signatures
    from corpusforge.stages.minhash_dedup import _key_batches, _signature_batches_of_text

    texts = [_base_text(seed, 40) for seed in range(12)] + ["開放中文轉換，好的。" * 3, "short", None, ""]
    splits = ["test", "train", None, "validation", "dev"]
    rows = [(f"{i:032x}", t, "zh" if i % 3 == 0 else None, splits[i % len(splits)]) for i, t in enumerate(texts)]
    source = spark.createDataFrame(rows, "doc_id string, text string, lang string, split string")
    params = MinHashConfig().params()
    fused = source.mapInArrow(_signature_batches_of_text(params, True, True), SIGNATURE_SCHEMA)
    keyed = source.mapInArrow(_key_batches(True, True), "doc_id string, dedup_key string, lang string, split_rank int")
    two_step = minhash_signatures(keyed, params, preference_col="split_rank")
    assert sorted(map(tuple, fused.collect())) == sorted(map(tuple, two_step.collect()))


def test_signatures_made_with_the_text_hash_give_the_same_frame(spark):
    # exact dedup right before MinHash dedup: the signatures come from exact's prelude (one dedup
    # key for both); the flagged frame must equal the one of the two stages run apart
    from corpusforge.stages.base import run_batch_stages
    from corpusforge.stages.exact_dedup import ExactDedupStage, share_dedup_key

    rng = random.Random(5)
    base = [_base_text(seed, 60) for seed in range(10)]
    texts = base + [_edited(rng.choice(base), seed, 1) for seed in range(10)] + [base[0], "tiny", None]
    splits = ["train", "test", None]
    rows = [(f"{random.Random(i).getrandbits(128):032x}", t, splits[i % 3], None, None, None) for i, t in enumerate(texts)]
    df = spark.createDataFrame(rows, "doc_id string, text string, split string, drop_stage string, "
                                     "drop_reason string, detail string")
    apart = [ExactDedupStage(), MinHashDedupStage(MinHashConfig())]
    shared = share_dedup_key(apart)
    assert shared[1].signatures_on_frame and not apart[1].signatures_on_frame

    def flagged(stages):
        frame = run_batch_stages(df, [stages[0].prelude()])
        frame = stages[1].flag(stages[0].flag(frame).localCheckpoint())
        columns = ["doc_id", "drop_stage", "drop_reason", "detail", "minhash_signature", "minhash_band_hashes"]
        return sorted(tuple(r) for r in frame.select(columns).collect())

    result = flagged(shared)
    assert result == flagged(apart)
    reasons = [r[2] for r in result]
    assert reasons.count("dedup.exact_duplicate") == 1 and reasons.count("dedup.near_duplicate") >= 5
    no_shingle = {rows[-2][0], rows[-1][0]}  # "tiny" and None: no full 5-gram
    assert all((r[4] is None) == (r[2] == "dedup.exact_duplicate" or r[0] in no_shingle) for r in result)
