"""Arrow IPC shards with an index (memory-mapped reads) and the Megatron .bin/.idx layout."""
from __future__ import annotations

import json
import struct

import deltalake
import numpy as np
import pyarrow as pa
import pytest

from corpusforge.errors import InputError, SchemaError
from corpusforge.tokenize.shards import (
    MegatronReader,
    ShardParams,
    export_arrow_shards,
    export_delta_megatron,
    export_delta_shards,
    open_arrow_shard,
    open_arrow_shards,
    read_shard_index,
    write_megatron,
)


def _token_batches(count: int, rows: int, seed: int = 0) -> list[pa.RecordBatch]:
    rng = np.random.default_rng(seed)
    batches = []
    for b in range(count):
        ids = [rng.integers(0, 30000, size=rng.integers(1, 200)).astype(np.int32).tolist() for _ in range(rows)]
        batches.append(
            pa.record_batch(
                {
                    "doc_id": [f"d{b:03d}{r:04d}" for r in range(rows)],
                    "input_ids": pa.array(ids, pa.list_(pa.int32())),
                    "n_tokens": pa.array([len(x) for x in ids], pa.int32()),
                }
            )
        )
    return batches


def test_files_are_bounded_and_the_index_adds_up(tmp_path):
    batches = _token_batches(6, 300)
    params = ShardParams(max_bytes=100_000)
    index = export_arrow_shards(batches, tmp_path, params, tokenizer="bert@abc", delta_version=4)
    on_disk = json.loads((tmp_path / "index.json").read_text())
    assert on_disk == index.to_json() == read_shard_index(tmp_path)
    assert len(index.files) > 3
    assert index.rows == sum(b.num_rows for b in batches)
    assert index.tokens == sum(sum(b.column("n_tokens").to_pylist()) for b in batches)
    assert on_disk["tokenizer"] == "bert@abc" and on_disk["source"]["delta_version"] == 4
    for entry in index.files:
        path = tmp_path / entry["path"]
        # IPC framing adds a little beyond the Arrow buffers the bound counts.
        assert path.stat().st_size == entry["bytes"] <= params.max_bytes * 1.1
        table = open_arrow_shard(path)
        assert table.num_rows == entry["rows"] > 0
        assert sum(table.column("n_tokens").to_pylist()) == entry["tokens"]


def test_memory_mapped_read_returns_the_rows_in_order(tmp_path):
    batches = _token_batches(3, 100, seed=5)
    export_arrow_shards(batches, tmp_path, ShardParams(max_bytes=30_000))
    read = pa.concat_tables(open_arrow_shards(tmp_path))
    assert read.to_pylist() == pa.Table.from_batches(batches).to_pylist()
    # Zero copy: the buffers of a mapped shard point into the mapped file, not the heap.
    allocated_before = pa.total_allocated_bytes()
    table = open_arrow_shard(tmp_path / "shard-00000.arrow")
    assert table.nbytes > 10_000
    assert pa.total_allocated_bytes() - allocated_before < 1_000


def test_empty_input_writes_no_empty_files(tmp_path):
    index = export_arrow_shards(iter([]), tmp_path)
    assert index.files == [] and index.rows == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.json"]


def test_refuses_a_directory_with_an_export_and_mismatched_schemas(tmp_path):
    export_arrow_shards(_token_batches(1, 5), tmp_path / "a")
    with pytest.raises(InputError, match="already holds"):
        export_arrow_shards(_token_batches(1, 5), tmp_path / "a")
    other = pa.record_batch({"input_ids": pa.array([[1]], pa.list_(pa.int32()))})
    with pytest.raises(SchemaError, match="differs"):
        export_arrow_shards([_token_batches(1, 5)[0], other], tmp_path / "b")


def test_delta_export_pins_a_version_and_reads_the_tokenizer(tmp_path):
    table = tmp_path / "tokens"
    first = pa.Table.from_batches(_token_batches(1, 50)).append_column("tokenizer", pa.array(["tok@1"] * 50))
    first = first.append_column("split", pa.array(["train"] * 40 + ["test"] * 10))
    deltalake.write_deltalake(str(table), first, partition_by=["split"])
    deltalake.write_deltalake(str(table), first, mode="append")
    index = export_delta_shards(str(table), tmp_path / "out", version=0, split="test")
    assert index.delta_version == 0 and index.tokenizer == "tok@1"
    assert index.rows == 10
    latest = export_delta_shards(str(table), tmp_path / "latest")
    assert latest.delta_version == 1 and latest.rows == 100
    with pytest.raises(InputError, match="no version 9"):
        export_delta_shards(str(table), tmp_path / "x", version=9)


def test_megatron_round_trip_and_layout(tmp_path):
    rng = np.random.default_rng(0)
    documents = [rng.integers(0, 50000, size=n) for n in (5, 0, 300, 1)]
    prefix = tmp_path / "corpus"
    assert write_megatron(documents, prefix, vocab_size=50000) == 4
    raw = (tmp_path / "corpus.idx").read_bytes()
    assert raw[:9] == b"MMIDIDX\x00\x00"
    assert struct.unpack_from("<QBQQ", raw, 9) == (1, 8, 4, 5)  # version 1, uint16, 4 sequences, 5 doc-index entries
    assert (tmp_path / "corpus.bin").stat().st_size == 2 * sum(len(d) for d in documents)
    reader = MegatronReader(prefix)
    assert len(reader) == 4 and reader.dtype == np.uint16
    assert [reader[i].tolist() for i in range(4)] == [d.tolist() for d in documents]
    assert reader.document_index.tolist() == [0, 1, 2, 3, 4]


def test_megatron_wide_vocab_uses_int32_and_rejects_bad_ids(tmp_path):
    write_megatron([[70000, 1]], tmp_path / "wide", vocab_size=100000)
    reader = MegatronReader(tmp_path / "wide")
    assert reader.dtype == np.int32 and reader[0].tolist() == [70000, 1]
    with pytest.raises(InputError, match="outside"):
        write_megatron([[5, 70000]], tmp_path / "bad", vocab_size=50000)


def test_delta_megatron_export_and_the_cli(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    table = tmp_path / "tokens"
    rows = pa.Table.from_batches(_token_batches(1, 30)).append_column("split", pa.array(["train"] * 20 + ["test"] * 10))
    deltalake.write_deltalake(str(table), rows)
    assert export_delta_megatron(str(table), tmp_path / "m" / "corpus", version=0, split="test") == 10
    reader = MegatronReader(tmp_path / "m" / "corpus")
    assert reader.dtype == np.uint16  # ids < 30000 fit
    assert [reader[i].tolist() for i in range(len(reader))] == rows.column("input_ids").to_pylist()[20:]

    job = Path(__file__).resolve().parents[2] / "jobs" / "export_shards.py"
    done = subprocess.run([sys.executable, str(job), "--table", str(table), "--version", "0",
                           "--out", str(tmp_path / "cli"), "--split", "train"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert read_shard_index(tmp_path / "cli")["rows"] == 20
    bad = subprocess.run([sys.executable, str(job), "--table", str(table), "--version", "5",
                          "--out", str(tmp_path / "cli2")], capture_output=True, text=True)
    assert bad.returncode == 2 and "no version 5" in bad.stderr
