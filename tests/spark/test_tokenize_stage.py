"""The `tokens`/`packed` outputs through run_pipeline: rows, ids, identity, splits, reader, packing, [UNK] rate."""
from __future__ import annotations

import json
from collections import Counter

import pytest
from pyspark.sql import functions as F

from corpusforge.config import load_config
from corpusforge.errors import ConfigError
from corpusforge.ingest.plan import plan_inputs
from corpusforge.pipeline.run import run_pipeline
from corpusforge.tables.delta import read_table, table_path
from corpusforge.text.segment import segment_words
from corpusforge.tokenize.hf import encode_batch, load_tokenizer, tokenizer_identity
from corpusforge.tokenize.pack import packed_from_record_batch, unpack_sequences
from corpusforge.tokenize.splits import assign_split
from corpusforge.tokenize.tokens import SEQ_INDEX_BITS, separator_token_id
from corpusforge.train.data import DeltaTokenDataset, ReaderParams, open_delta_version, table_commit_metadata

pytestmark = pytest.mark.spark

FRACTIONS = {"train": 0.6, "validation": 0.2, "test": 0.2}
SEED = 7
TEXTS = [
    "The river runs north through the old town and past the mill.",
    "今天上午，市政府召开新闻发布会，介绍了城市建设的最新进展。",
    "Bread baked slowly in a cold oven keeps its crust for days.",
    "混合 text 与中文, numbers 2024 and 标点！",
    "A third English document about gardens, rain and patience.",
    "北京大学的研究人员发表了一篇关于气候变化的论文。",
] + [f"Document number {i} says something different about topic {i * 7}." for i in range(30)]


def _write_jsonl(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def _run(spark, inputs, out, run_id, overrides):
    # Short test texts: the foundation's stages, not the web filters (tests may override).
    cfg = load_config(overrides=['pipeline.stages=["normalize", "exact_dedup"]', *overrides])
    plan = plan_inputs([str(p) for p in inputs], None, cfg.input)
    return run_pipeline(spark, cfg, plan, str(out), run_id)


def _vocab(shared_data, name):
    return str(shared_data / "vocab" / name)


def _run_rows(spark, out, table, run_id):
    return [row.asDict() for row in read_table(spark, str(out), table).where(F.col("run_id") == run_id).collect()]


@pytest.fixture(scope="module")
def jsonl_run(spark, shared_data, tmp_path_factory):
    """One run over a small JSONL (English + Chinese, some labels, one given split) with packing."""
    root = tmp_path_factory.mktemp("tokens_jsonl")
    rows = [{"text": text, "label": ["pos", "neg"][i % 2] if i % 3 else None} for i, text in enumerate(TEXTS)]
    data = _write_jsonl(root / "in" / "a.jsonl", rows)
    vocab = _vocab(shared_data, "bert-base-chinese")
    overrides = [
        "pipeline.outputs=['tokens']", f"tokenize.tokenizer={json.dumps(vocab)}", "input.label_field=label",
        "tokenize.split_fractions={train = 0.6, validation = 0.2, test = 0.2}", f"tokenize.split_seed={SEED}",
        "tokenize.words=true", "tokenize.pack=true", "tokenize.seq_length=16", "tokenize.pack_group_docs=10",
    ]
    summary = _run(spark, [data], root / "out", "r1", overrides)
    return {"out": root / "out", "vocab": vocab, "summary": summary, "root": root, "overrides": overrides}


def test_tokens_rows_are_the_documents_encoded_with_the_configured_tokenizer(spark, jsonl_run):
    out, vocab = jsonl_run["out"], jsonl_run["vocab"]
    documents = {row["doc_id"]: row for row in _run_rows(spark, out, "documents", "r1")}
    tokens = {row["doc_id"]: row for row in _run_rows(spark, out, "tokens", "r1")}
    assert len(documents) == jsonl_run["summary"].kept == len(TEXTS)
    assert set(tokens) == set(documents)
    doc_ids = sorted(documents)
    expected = encode_batch(load_tokenizer(vocab), [documents[d]["text"] for d in doc_ids])
    assert [tokens[d]["input_ids"] for d in doc_ids] == expected
    assert all(tokens[d]["n_tokens"] == len(tokens[d]["input_ids"]) for d in doc_ids)
    assert {row["tokenizer"] for row in tokens.values()} == {tokenizer_identity(vocab)}
    assert [tokens[d]["label"] for d in doc_ids] == [documents[d]["label"] for d in doc_ids]
    assert any(row["label"] is not None for row in tokens.values())
    assert [tokens[d]["words"] for d in doc_ids] == [segment_words(documents[d]["text"]) for d in doc_ids]


def test_splits_are_the_seeded_hash_of_doc_id(spark, jsonl_run):
    tokens = _run_rows(spark, jsonl_run["out"], "tokens", "r1")
    assert [row["split"] for row in tokens] == [assign_split(row["doc_id"], FRACTIONS, SEED) for row in tokens]
    assert len({row["split"] for row in tokens}) > 1  # 36 documents over 60/20/20: all in one split would be a bug


def test_identity_is_in_the_commit_metadata_delta_rs_reads(spark, jsonl_run):
    uri = table_path(str(jsonl_run["out"]), "tokens")
    note = table_commit_metadata(uri)
    assert note["tokenizer"] == tokenizer_identity(jsonl_run["vocab"])
    assert (note["table"], note["run_id"]) == ("tokens", "r1")
    packed_note = table_commit_metadata(table_path(str(jsonl_run["out"]), "packed"))
    assert (packed_note["table"], packed_note["seq_length"]) == ("packed", 16)


def test_reader_on_the_pinned_version_yields_every_document_once(spark, jsonl_run, tmp_path):
    out = jsonl_run["out"]
    uri = table_path(str(out), "tokens")
    version = open_delta_version(uri, None).version()
    tokens = _run_rows(spark, out, "tokens", "r1")
    expected = Counter(tuple(row["input_ids"]) for row in tokens)

    def read_all(world_size):
        seen = Counter()
        for rank in range(world_size):
            dataset = DeltaTokenDataset(uri, version=version, rank=rank, world_size=world_size,
                                        params=ReaderParams(seq_length=128, seed=3))
            for sample in dataset:
                seen[tuple(sample["input_ids"][sample["attention_mask"].bool()].tolist())] += 1
        return seen

    assert read_all(1) == expected
    assert read_all(2) == expected

    # A later run appends to the table; the reader pinned to the old version does not see it.
    more = _write_jsonl(tmp_path / "in" / "b.jsonl", [{"text": "A new document from a later run, never seen."}])
    _run(spark, [more], out, "r2", jsonl_run["overrides"])
    assert open_delta_version(uri, None).version() > version
    assert read_all(1) == expected
    latest = DeltaTokenDataset(uri, version=open_delta_version(uri, None).version(), params=ReaderParams(seq_length=128))
    assert sum(1 for _ in latest) == len(tokens) + 1


def test_packed_table_unpacks_to_the_documents_ids(spark, jsonl_run):
    import pyarrow as pa

    out, vocab = jsonl_run["out"], jsonl_run["vocab"]
    tokens = {row["doc_id"]: row for row in _run_rows(spark, out, "tokens", "r1")}
    packed = sorted(_run_rows(spark, out, "packed", "r1"), key=lambda row: row["seq_id"])
    assert {row["tokenizer"] for row in packed} == {tokenizer_identity(vocab)}
    separator = separator_token_id(load_tokenizer(vocab))
    groups: dict[int, list[dict]] = {}
    for row in packed:
        groups.setdefault(row["seq_id"] >> SEQ_INDEX_BITS, []).append(row)
    assert len(groups) > 1  # 36 documents at 10 per group: several groups per split
    recovered = {}
    for rows in groups.values():
        assert len({row["split"] for row in rows}) == 1
        assert all(row["n_tokens"] == 16 for row in rows[:-1]) and 0 < rows[-1]["n_tokens"] <= 16
        batch = pa.RecordBatch.from_pylist([{k: row[k] for k in ("seq_id", "input_ids", "doc_ids", "boundaries")} for row in rows])
        for doc_id, ids in unpack_sequences(packed_from_record_batch(batch), separator_id=separator):
            assert doc_id not in recovered
            assert tokens[doc_id]["split"] == rows[0]["split"]
            recovered[doc_id] = ids
    assert recovered == {doc_id: row["input_ids"] for doc_id, row in tokens.items()}


def test_packing_and_tokens_are_the_same_on_a_second_output(spark, jsonl_run, tmp_path):
    # Same input, config and run id into a fresh output (other partitioning of the same work):
    # the same rows and the same seq_ids.
    data = jsonl_run["root"] / "in" / "a.jsonl"
    spark.conf.set("spark.sql.shuffle.partitions", "3")
    try:
        _run(spark, [data], tmp_path / "out", "r1", jsonl_run["overrides"])
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", "4")
    for table, key in (("tokens", "doc_id"), ("packed", "seq_id")):
        first = sorted(_run_rows(spark, jsonl_run["out"], table, "r1"), key=lambda row: row[key])
        second = sorted(_run_rows(spark, tmp_path / "out", table, "r1"), key=lambda row: row[key])
        assert first == second


def test_csv_splits_and_labels_come_from_the_input(spark, shared_data, tmp_path):
    for name in ("Train_Data.csv", "Test_Data.csv"):
        lines = (shared_data / "finsent" / name).read_text(encoding="utf-8").splitlines()[:13]
        (tmp_path / "in").mkdir(exist_ok=True)
        (tmp_path / "in" / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    vocab = _vocab(shared_data, "bert-base-uncased")
    overrides = ["pipeline.outputs=['tokens']", f"tokenize.tokenizer={json.dumps(vocab)}",
                 "input.text_field=content", "input.label_field=label",
                 "input.splits={'Train_*' = 'train', 'Test_*' = 'test'}"]
    _run(spark, [tmp_path / "in"], tmp_path / "out", "c1", overrides)
    documents = {row["doc_id"]: row for row in _run_rows(spark, tmp_path / "out", "documents", "c1")}
    tokens = _run_rows(spark, tmp_path / "out", "tokens", "c1")
    assert len(tokens) == len(documents) > 0
    assert {row["split"] for row in tokens} == {"train", "test"}
    assert all(row["split"] == documents[row["doc_id"]]["split"] for row in tokens)
    assert all(row["label"] == documents[row["doc_id"]]["label"] in {"positive", "negative", "neutral"} for row in tokens)
    assert all(row["words"] is None for row in tokens)  # words is off by default


def test_a_missing_tokenizer_stops_the_run_before_any_work(spark, shared_data, tmp_path):
    data = _write_jsonl(tmp_path / "in" / "a.jsonl", [{"text": "never read"}])
    with pytest.raises(ConfigError, match="does not exist"):
        _run(spark, [data], tmp_path / "out", "x1",
             ["pipeline.outputs=['tokens']", f"tokenize.tokenizer={json.dumps(str(tmp_path / 'no-such-vocab'))}"])
    assert not (tmp_path / "out").exists()
    with pytest.raises(ConfigError, match="none is set"):
        _run(spark, [data], tmp_path / "out", "x1", ["pipeline.outputs=['tokens']"])
    with pytest.raises(ConfigError, match="separator"):
        _run(spark, [data], tmp_path / "out", "x1",
             ["pipeline.outputs=['tokens']", f"tokenize.tokenizer={json.dumps(_vocab(shared_data, 'bert-base-uncased'))}",
              "tokenize.pack=true", "tokenize.separator='<nope>'"])
    assert not (tmp_path / "out").exists()


def _is_cjk(char: str) -> bool:
    # The CJK ideograph blocks BertNormalizer isolates as one-character words.
    code = ord(char)
    return (0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0x20000 <= code <= 0x2A6DF
            or 0x2A700 <= code <= 0x2CEAF or 0xF900 <= code <= 0xFAFF or 0x2F800 <= code <= 0x2FA1F)


def test_chinese_warc_pages_have_under_half_a_percent_unk_cjk_tokens(spark, shared_data, tmp_path):
    vocab = _vocab(shared_data, "bert-base-chinese")
    warc = shared_data / "warc" / "resiliparse" / "warcfile.warc.gz"
    _run(spark, [warc], tmp_path / "out", "w1",
         ["pipeline.stages=['normalize']", "pipeline.outputs=['tokens']", f"tokenize.tokenizer={json.dumps(vocab)}"])
    documents = {row["doc_id"]: row["text"] for row in _run_rows(spark, tmp_path / "out", "documents", "w1")}
    tokens = {row["doc_id"]: row["input_ids"] for row in _run_rows(spark, tmp_path / "out", "tokens", "w1")}
    assert set(tokens) == set(documents)
    chinese = [d for d, text in documents.items() if sum(map(_is_cjk, text)) > 0.3 * max(1, len(text.strip()))]
    assert len(chinese) >= 8  # the sample holds 11 Chinese pages
    tokenizer = load_tokenizer(vocab)
    unk = tokenizer.token_to_id("[UNK]")
    cjk_tokens = cjk_unk = 0
    for doc_id in chinese:
        text = documents[doc_id]
        encoding = tokenizer.encode(text)
        assert encoding.ids == tokens[doc_id]  # the offsets below belong to the stored ids
        for token_id, (start, end) in zip(tokens[doc_id], encoding.offsets):
            if end - start == 1 and _is_cjk(text[start]):
                cjk_tokens += 1
                cjk_unk += token_id == unk
    assert cjk_tokens > 5000
    assert cjk_unk / cjk_tokens < 0.005, f"{cjk_unk} of {cjk_tokens} CJK tokens are [UNK]"
