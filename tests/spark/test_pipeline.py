"""The pipeline on small inputs in one local session: tables, accounting, ledger, recovery."""
import json

import pytest
from pyspark.sql import functions as F

from corpusforge.config import load_config
from corpusforge.stages.exact_dedup import ExactDedupStage
from corpusforge.errors import AccountingError, RunLockedError, SchemaError
from corpusforge.ingest.plan import plan_inputs
from corpusforge.pipeline.run import run_pipeline
from corpusforge.reasons import REASONS
from corpusforge.stages.base import Stage
from corpusforge.tables.delta import read_table
from corpusforge.tables.ledger import OutputLock

pytestmark = pytest.mark.spark

TEXTS = ["The first document talks about rivers and lakes in the north.",
         "A second document, about baking bread slowly in a cold oven.",
         "THE FIRST DOCUMENT talks about rivers and lakes in the north!",  # exact dup of 0
         "今天上午，市政府召开新闻发布会。",
         "今天上午，市政府召開新聞發佈會。"]  # traditional copy of 3


def _write_jsonl(path, texts, extra_lines=()):
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"text": t}, ensure_ascii=False) for t in texts] + list(extra_lines)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# The foundation's stages; the cleaning stages have tests of their own.
FOUNDATION_STAGES = 'pipeline.stages=["normalize", "exact_dedup"]'


def _run(spark, inputs, out, run_id, overrides=(), **kwargs):
    cfg = load_config(overrides=[FOUNDATION_STAGES, *overrides])
    plan = plan_inputs([str(p) for p in inputs], None, cfg.input)
    return run_pipeline(spark, cfg, plan, str(out), run_id, **kwargs)


def _count(spark, out, table, where="true"):
    return read_table(spark, str(out), table).where(where).count()


def test_run_writes_tables_and_accounting_holds(spark, tmp_path):
    data = _write_jsonl(tmp_path / "in" / "a.jsonl", TEXTS, ["{broken", "[1, 2]"])
    summary = _run(spark, [data.parent], tmp_path / "out", "r1")
    assert summary.records_read == 7
    assert summary.kept == 3
    assert summary.dropped == {"dedup.exact/dedup.exact_duplicate": 2,
                               "ingest/ingest.bad_json": 1, "ingest/ingest.not_object": 1}
    docs = read_table(spark, str(tmp_path / "out"), "documents")
    assert docs.select("doc_id").distinct().count() == 3
    assert docs.select("text_hash").distinct().count() == 3
    dropped = read_table(spark, str(tmp_path / "out"), "dropped")
    assert {r.drop_reason for r in dropped.collect()} <= set(REASONS)  # documented, every one
    dups = dropped.where("drop_reason = 'dedup.exact_duplicate'")
    kept_ids = {r.doc_id for r in docs.collect()}
    assert {r.detail for r in dups.collect()} <= kept_ids  # each names the copy that was kept
    ledger = read_table(spark, str(tmp_path / "out"), "ledger").collect()
    assert [(r.status, r.records_read, r.source_key) for r in ledger] == [("done", 7, "in/a.jsonl")]
    stats = {(r.stage, r.metric): r.value for r in read_table(spark, str(tmp_path / "out"), "stats").collect()}
    assert stats[("ingest", "records.read")] == 7 and stats[("pipeline", "documents.kept")] == 3
    assert (tmp_path / "out" / "_runs" / "r1.json").is_file()
    assert not (tmp_path / "out" / "_lock").exists()


def test_second_run_skips_done_inputs_and_reprocess_adds_no_duplicate(spark, tmp_path):
    data = _write_jsonl(tmp_path / "in" / "a.jsonl", TEXTS)
    out = tmp_path / "out"
    _run(spark, [data], out, "r1")
    again = _run(spark, [data], out, "r2")
    assert (again.files_read, again.files_skipped_done, again.records_read) == (0, 1, 0)
    forced = _run(spark, [data], out, "r3", reprocess=True)
    assert forced.kept == 0
    # Every copy of a text an earlier run kept is dropped as seen there, duplicates too.
    assert forced.dropped == {"dedup.exact/dedup.exact_seen_in_earlier_run": 5}
    assert _count(spark, out, "documents") == 3


def test_cross_run_drops_exactly_the_overlap(spark, tmp_path):
    out = tmp_path / "out"
    first = [f"First batch document number {i} with its own words." for i in range(6)]
    second = first[3:] + [f"Second batch document number {i}, never seen before." for i in range(3)]
    _run(spark, [_write_jsonl(tmp_path / "in" / "one.jsonl", first)], out, "r1")
    summary = _run(spark, [_write_jsonl(tmp_path / "in" / "two.jsonl", second)], out, "r2")
    assert summary.kept == 3
    assert summary.dropped == {"dedup.exact/dedup.exact_seen_in_earlier_run": 3}
    run_only = _run(spark, [_write_jsonl(tmp_path / "in" / "three.jsonl", first[:2])], out, "r3",
                    overrides=["dedup.scope=run"])
    assert run_only.kept == 2  # scope 'run' does not look at the index


def test_lossy_stage_fails_the_run_and_leaves_it_uncounted(spark, tmp_path):
    class LosesARow(Stage):
        name = "test.lossy"
        requires = ("doc_id",)

        def flag(self, df):
            first = df.agg(F.min("doc_id")).first()[0]
            return df.where(F.col("doc_id") != first)  # a row vanishes without a drop reason

    data = _write_jsonl(tmp_path / "in" / "a.jsonl", TEXTS[:2])
    out = tmp_path / "out"
    with pytest.raises(AccountingError, match="read 2 records, wrote kept \\+ dropped = 1"):
        _run(spark, [data], out, "bad", stages=[LosesARow()])
    assert _count(spark, out, "ledger", "status = 'done'") == 0
    good = _run(spark, [data], out, "good")  # the unfinished run's rows are replaced
    assert good.recovered_runs == ["bad"]
    assert _count(spark, out, "documents") == 2
    assert _count(spark, out, "documents", "run_id = 'bad'") == 0


def test_lock_names_the_running_run(spark, tmp_path):
    data = _write_jsonl(tmp_path / "in" / "a.jsonl", TEXTS[:1])
    with OutputLock(str(tmp_path / "out"), "holder"):
        with pytest.raises(RunLockedError, match="run 'holder' is running"):
            _run(spark, [data], tmp_path / "out", "second")


def test_stale_lock_of_a_dead_process_is_taken_over(spark, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "_lock").write_text(json.dumps({"run_id": "ghost", "pid": 2**22 + 7, "host": __import__("socket").gethostname()}))
    data = _write_jsonl(tmp_path / "in" / "a.jsonl", TEXTS[:1])
    assert _run(spark, [data], out, "r1").kept == 1


def _frame(spark, rows, partitions):
    schema = "doc_id string, text string, split string, drop_stage string, drop_reason string, detail string"
    return spark.createDataFrame(rows, schema).repartition(partitions)


def test_exact_dedup_is_deterministic_across_partitionings(spark):
    rows = [(f"{i:032x}", TEXTS[i % 5] if i % 3 else f"unique text {i}", None, None, None, None)
            for i in range(60)]
    results = []
    for partitions in (1, 8):
        kept, dropped = ExactDedupStage().apply(_frame(spark, rows, partitions))
        results.append((sorted(r.doc_id for r in kept.collect()),
                        sorted((r.doc_id, r.detail) for r in dropped.collect())))
    assert results[0] == results[1]
    assert len(results[0][0]) == 20 + 3  # 20 unique texts, and TEXTS reduce to 3 keys


def test_exact_dedup_prefers_test_split_then_smallest_id(spark):
    rows = [("b" * 32, "Same sentence.", "train", None, None, None),
            ("c" * 32, "same sentence", "test", None, None, None),
            ("a" * 32, "SAME SENTENCE!", "train", None, None, None),
            ("d" * 32, "Other sentence.", "train", None, None, None),
            ("0" * 32, "other sentence", None, None, None, None),
            ("e" * 32, "dropped earlier", None, "ingest", "ingest.no_text", None)]
    kept, dropped = ExactDedupStage().apply(_frame(spark, rows, 2))
    assert sorted(r.doc_id for r in kept.collect()) == ["c" * 32, "d" * 32]
    by_id = {r.doc_id: (r.drop_reason, r.detail) for r in dropped.collect()}
    assert by_id["a" * 32] == by_id["b" * 32] == ("dedup.exact_duplicate", "c" * 32)
    assert by_id["0" * 32] == ("dedup.exact_duplicate", "d" * 32)  # train beats no split
    assert by_id["e" * 32] == ("ingest.no_text", None)  # earlier drops pass through


def test_stage_checks_its_input_schema(spark):
    df = spark.createDataFrame([("x",)], "doc_id string")
    with pytest.raises(SchemaError, match="stage 'dedup.exact': input column 'text' missing"):
        ExactDedupStage().apply(df)


def test_tables_of_older_schemas_take_new_columns(spark, tmp_path):
    """A table an earlier version wrote (fewer columns) accepts rows of the current schema."""
    from corpusforge.schemas import table_schema
    from corpusforge.tables.delta import write_run_rows

    out = str(tmp_path / "out")
    current = table_schema("stats")
    old = spark.createDataFrame([("old", "ingest", "files.read")], "run_id string, stage string, metric string")
    old.write.format("delta").save(f"{out}/stats")  # as if written before `value` existed
    row = spark.createDataFrame([("new", "ingest", "files.read", 3.0)], current)
    write_run_rows(spark, row, out, "stats", "new")
    values = {r.run_id: r.value for r in read_table(spark, out, "stats").collect()}
    assert values == {"old": None, "new": 3.0}


def test_a_write_checks_the_frame_before_conforming_it(spark, tmp_path):
    """Missing, renamed and undeclared columns are errors naming the column; only the nullable
    columns a writer names in `fill` are added as null."""
    from corpusforge.tables.delta import write_run_rows

    out = str(tmp_path / "out")
    good = spark.createDataFrame([("r", "ingest", "files.read", 1.0)], "run_id string, stage string, metric string, value double")
    renamed = good.withColumnRenamed("metric", "metrics")
    with pytest.raises(SchemaError, match="table 'stats': column 'metric' \\(string\\) missing"):
        write_run_rows(spark, renamed, out, "stats", "r")
    with pytest.raises(SchemaError, match="column 'unit' is not declared in schemas/stats.json"):
        write_run_rows(spark, good.withColumn("unit", F.lit("s")), out, "stats", "r")
    with pytest.raises(SchemaError, match="'value' is not nullable"):  # a required column cannot be filled
        write_run_rows(spark, good.drop("value"), out, "stats", "r", fill=("value",))
    assert not (tmp_path / "out").exists()  # nothing was written by the refused frames

    exact = spark.createDataFrame([("h", "d", "r")], "text_hash string, doc_id string, run_id string")
    with pytest.raises(SchemaError, match="column 'key_version'"):
        write_run_rows(spark, exact, out, "exact_index", "r")

    docs = spark.createDataFrame(
        [("d" * 32, "text", "s", "s/a", "file:///a", 4, "r")],
        "doc_id string, text string, source string, source_key string, source_uri string, n_chars int, run_id string")
    nullable = ["url", "source_id", "source_offset", "crawl_ts", "content_type", "label", "split", "metadata"]
    optional = ("lang", "lang_score", "text_hash", "quality")
    with pytest.raises(SchemaError, match="column 'lang' \\(string\\) missing"):  # nullable but not in fill
        write_run_rows(spark, docs, out, "documents", "r", fill=tuple(nullable))
    write_run_rows(spark, docs, out, "documents", "r", fill=(*nullable, *optional))
    (row,) = read_table(spark, out, "documents").collect()
    assert row.doc_id == "d" * 32 and row.lang is None and row.quality is None and row.n_chars == 4


def test_distinct_valued_columns_are_written_without_a_dictionary(spark, tmp_path):
    """The session turns Parquet's dictionary off for texts, ids and MinHash values (they are
    nearly all distinct), in Delta tables too; other columns keep it."""
    import pyarrow.parquet as pq

    from corpusforge.tables.delta import write_run_rows

    rows = [("d" * 32, [1, 2], [3, 4], "{}", "file:///a", "r")] * 50  # repeated: a dictionary would pay
    index = spark.createDataFrame(rows, "doc_id string, band_hashes array<bigint>, signature array<bigint>, "
                                        "params string, source_uri string, run_id string")
    write_run_rows(spark, index.coalesce(1), str(tmp_path / "out"), "minhash_index", "r")
    (data,) = (tmp_path / "out" / "minhash_index").glob("*.parquet")
    chunks = pq.ParquetFile(data).metadata.row_group(0)
    encodings = {chunks.column(i).path_in_schema: chunks.column(i).encodings for i in range(chunks.num_columns)}
    for column in ("doc_id", "band_hashes.list.element", "signature.list.element"):
        assert "PLAIN_DICTIONARY" not in encodings[column] and "RLE_DICTIONARY" not in encodings[column], column
    assert {"PLAIN_DICTIONARY", "RLE_DICTIONARY"} & set(encodings["source_uri"])


def test_a_relative_output_is_written_and_versioned(spark, tmp_path):
    """`make demo` runs with `--output out`: Delta reads delta.`out/stats` in SQL as a catalog
    table, so the version property must be set on the absolute path."""
    import os

    from corpusforge.schemas import schema_version
    from corpusforge.tables.delta import table_schema_version, write_run_rows

    out = os.path.relpath(tmp_path / "out")  # relative to this process's (and the JVM's) directory
    row = spark.createDataFrame([("r1", "ingest", "files.read", 1.0)], "run_id string, stage string, metric string, value double")
    write_run_rows(spark, row, out, "stats", "r1")
    assert table_schema_version(spark, out, "stats") == schema_version("stats")
    assert _count(spark, tmp_path / "out", "stats") == 1


def test_schema_version_is_recorded_and_a_newer_table_refused(spark, tmp_path):
    from corpusforge.schemas import schema_version
    from corpusforge.tables.delta import SCHEMA_VERSION_PROPERTY, table_path, table_schema_version, write_run_rows

    out = str(tmp_path / "out")
    row = spark.createDataFrame([("r1", "ingest", "files.read", 1.0)], "run_id string, stage string, metric string, value double")
    write_run_rows(spark, row, out, "stats", "r1")
    assert table_schema_version(spark, out, "stats") == schema_version("stats")
    newer = schema_version("stats") + 1
    spark.sql(f"ALTER TABLE delta.`{table_path(out, 'stats')}` SET TBLPROPERTIES ('{SCHEMA_VERSION_PROPERTY}' = '{newer}')")
    with pytest.raises(SchemaError, match=f"schema version {newer}, newer than this corpusforge's"):
        write_run_rows(spark, row, out, "stats", "r2")
    assert _count(spark, tmp_path / "out", "stats") == 1


def test_join_drops_marks_live_rows_only_and_matches_null_keys(spark):
    from corpusforge.stages.base import join_drops

    rows = [("a", "h1", None, None, None), ("b", None, None, None, None), ("c", "h3", None, None, None),
            ("d", "h4", "ingest", "ingest.no_text", None), ("a", "h5", None, None, None)]
    df = spark.createDataFrame(rows, "doc_id string, text_hash string, drop_stage string, drop_reason string, "
                                     "detail string")
    drops = spark.createDataFrame([("a", "h1", "x.dup", "c"), ("b", None, "x.dup", "c"), ("d", "h4", "x.dup", "c")],
                                  "doc_id string, text_hash string, _reason string, _detail string")
    marked = join_drops(df, drops, "x", ("doc_id", "text_hash"))
    assert marked.columns == df.columns
    assert sorted(map(tuple, marked.collect())) == [
        ("a", "h1", "x", "x.dup", "c"), ("a", "h5", None, None, None),  # keyed by both: h5 stays
        ("b", None, "x", "x.dup", "c"),  # a null key matches a null key
        ("c", "h3", None, None, None),
        ("d", "h4", "ingest", "ingest.no_text", None)]  # dropped before: its marks stay


def test_the_frame_after_dedup_stages_is_not_staged_again(spark, tmp_path):
    # exact and MinHash dedup mark their drops by a join with small staged frames, so the frame
    # after them is the staged records plus those joins: no "final" copy of the text; a
    # row-local stage after them makes the final pass (and its staging) come back
    from corpusforge.dedup.minhash import MinHashConfig
    from corpusforge.pipeline.registry import StageContext, stage_factory
    from corpusforge.pipeline.run import run_stages
    from corpusforge.stages.base import run_batch_stages
    from corpusforge.stages.exact_dedup import share_dedup_key
    from corpusforge.stages.minhash_dedup import MinHashDedupStage

    rows = [(f"{i:032x}", TEXTS[i % 5], None, None, None, None, True, "document") for i in range(20)]
    records = spark.createDataFrame(rows, "doc_id string, text string, split string, drop_stage string, "
                                          "drop_reason string, detail string, candidate boolean, record_type string")
    staging = str(tmp_path / "staging")
    dedup = share_dedup_key([ExactDedupStage(workdir=staging), MinHashDedupStage(MinHashConfig(), workdir=staging)])
    records = run_batch_stages(records, [dedup[0].prelude()]).localCheckpoint()
    final = run_stages(spark, records, dedup, staging, "r1")
    assert not (tmp_path / "staging" / "final").exists()
    assert final.where("drop_reason IS NULL").count() == 3  # TEXTS reduce to 3 keys
    kept = sorted(map(tuple, final.select("doc_id", "drop_reason").collect()))
    ctx = StageContext(spark=spark, cfg=load_config(), output=str(tmp_path), run_id="r2")
    normalize = stage_factory("normalize")(ctx)
    staging = str(tmp_path / "staging-2")  # the first frame reads its drops from the first one
    again = run_stages(spark, records, share_dedup_key(
        [ExactDedupStage(workdir=staging), MinHashDedupStage(MinHashConfig(), workdir=staging), [normalize]]),
        staging, "r2")
    assert (tmp_path / "staging-2" / "final").exists()
    assert sorted(map(tuple, again.select("doc_id", "drop_reason").collect())) == kept
