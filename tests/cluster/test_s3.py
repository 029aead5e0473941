"""s3a:// outputs on a real S3-compatible server (moto on 127.0.0.1): the lock's conditional
create, its lease, and whole pipeline runs read back by Spark and by delta-rs."""
import json
import shutil
import socket
import time
from pathlib import Path

import pytest

from corpusforge.config import load_config
from corpusforge.errors import LeaseLostError, RunLockedError
from corpusforge.ingest.plan import plan_inputs
from corpusforge.ingest.remote import s3_options
from corpusforge.pipeline.run import run_pipeline
from corpusforge.tables import fs
from corpusforge.tables import lock as lock_module
from corpusforge.tables.delta import read_table
from corpusforge.tables.lock import LockOptions, OutputLock, ensure_lease, peek

pytestmark = [pytest.mark.spark, pytest.mark.s3]

SAMPLE_JSONL = Path(__file__).resolve().parents[2] / "corpusforge" / "data" / "sample" / "jsonl"


def _key(bucket: str, *parts: str) -> tuple[str, str]:
    return bucket.removeprefix("s3a://"), "/".join(parts)


def _put_holder(s3_server, bucket, key, **holder):
    name, _ = _key(bucket)
    s3_server.client().put_object(Bucket=name, Key=key, Body=json.dumps(holder).encode())


def test_a_second_lock_is_refused_naming_the_first(s3_spark, bucket):
    out = f"{bucket}/out"
    with OutputLock(out, "first", spark=s3_spark):
        with pytest.raises(RunLockedError) as refused:
            with OutputLock(out, "second", spark=s3_spark):
                pass
    message = str(refused.value)
    assert refused.value.exit_code == 3
    assert "run 'first' is running on this output" in message
    assert f"lock {out}/_lock" in message and f"on {socket.gethostname()}" in message
    assert "last renewed" in message
    assert not fs.exists(s3_spark, f"{out}/_lock")  # given back at the end


def test_the_create_loses_a_race_to_a_put_made_meanwhile(s3_spark, bucket, s3_server):
    """The lock's create is S3's conditional PUT: an object written between the create's
    start and its upload wins, and the create fails (If-None-Match: *)."""
    uri = f"{bucket}/race/_lock"
    hadoop, path = fs.hadoop_fs(s3_spark, uri)
    stream = hadoop.createFile(path).overwrite(False).must(lock_module._CONDITIONAL_CREATE, "true").build()
    stream.write(bytearray(b"mine"))
    _put_holder(s3_server, bucket, "race/_lock", run_id="other")
    with pytest.raises(Exception, match="(?i)precondition|412|exists"):
        stream.close()
    assert json.loads(fs.read_text(s3_spark, uri))["run_id"] == "other"


def test_a_dead_holder_on_this_host_is_taken_over_at_once(s3_spark, bucket, s3_server):
    _put_holder(s3_server, bucket, "out/_lock", run_id="ghost", pid=2**22 + 7,
                host=socket.gethostname(), lease_seconds=300)
    with OutputLock(f"{bucket}/out", "r1", spark=s3_spark):
        assert json.loads(fs.read_text(s3_spark, f"{bucket}/out/_lock"))["run_id"] == "r1"


def test_an_expired_lease_is_taken_over_only_with_break_lock(s3_spark, bucket, s3_server):
    out = f"{bucket}/out"
    _put_holder(s3_server, bucket, "out/_lock", run_id="far", pid=1, host="elsewhere", lease_seconds=1)
    time.sleep(2.5)  # S3 times have one-second resolution
    with pytest.raises(RunLockedError, match="lease has expired: rerun with --break-lock"):
        with OutputLock(out, "r1", spark=s3_spark):
            pass
    with OutputLock(out, "r2", spark=s3_spark, options=LockOptions(break_lock=True)):
        assert json.loads(fs.read_text(s3_spark, f"{out}/_lock"))["run_id"] == "r2"
    _put_holder(s3_server, bucket, "out/_lock", run_id="far", pid=1, host="elsewhere", lease_seconds=300)
    with pytest.raises(RunLockedError, match="--break-lock refused: the lease is live"):
        with OutputLock(out, "r3", spark=s3_spark, options=LockOptions(break_lock=True)):
            pass


def test_a_held_s3_lock_is_seen_before_the_jvm(bucket, s3_server):
    """peek (the CLI's check before any Spark) reads the lock with pyarrow and the s3a keys."""
    s3 = s3_options(s3_server.spark_conf())
    out = f"{bucket}/out"
    peek(out, LockOptions(), s3)  # nothing there
    _put_holder(s3_server, bucket, "out/_lock", run_id="far", pid=1, host="elsewhere", lease_seconds=300)
    with pytest.raises(RunLockedError, match=f"run 'far' is running on this output \\(lock {out}/_lock, pid 1 on elsewhere"):
        peek(out, LockOptions(), s3)
    peek(out, LockOptions(break_lock=True), s3)  # judged by the store's clock when taken, not here


def test_the_lease_is_renewed_and_a_lost_lease_stops_writes(s3_spark, bucket, s3_server):
    out = f"{bucket}/out"
    name, key = _key(bucket, "out", "_lock")
    client = s3_server.client()
    stopped = []
    with OutputLock(out, "r1", spark=s3_spark, options=LockOptions(lease_seconds=3),
                    on_lost=lambda: stopped.append(True)):
        first = client.head_object(Bucket=name, Key=key)["ETag"]
        time.sleep(2.5)  # renewed every second
        assert client.head_object(Bucket=name, Key=key)["ETag"] != first
        ensure_lease(out)  # still ours
        _put_holder(s3_server, bucket, key, run_id="thief", pid=1, host="elsewhere", lease_seconds=300)
        deadline = time.monotonic() + 10
        while not stopped and time.monotonic() < deadline:
            time.sleep(0.2)
        assert stopped == [True]
        with pytest.raises(LeaseLostError, match="lost the lock .*held by 'thief'"):
            ensure_lease(out)
    assert json.loads(fs.read_text(s3_spark, f"{out}/_lock"))["run_id"] == "thief"  # not deleted


def _run(spark, inputs, out, run_id, s3=None):
    cfg = load_config(overrides=['pipeline.stages=["normalize", "exact_dedup"]'])
    plan = plan_inputs(inputs, None, cfg.input, s3=s3)
    return run_pipeline(spark, cfg, plan, out, run_id)


def _documents(spark, out):
    return sorted((r.doc_id, r.text_hash) for r in read_table(spark, out, "documents").collect())


def test_an_s3a_input_and_output_run_twice_adds_nothing_and_matches_a_local_run(s3_spark, bucket, s3_server, tmp_path):
    """Input listed and read by pyarrow with the s3a keys (driver and executors), output by
    Spark's s3a client; the same file under the same decoded name on local disk gives the same
    documents (doc_ids come from the decoded source key)."""
    name, _ = _key(bucket)
    s3_server.client().upload_file(str(SAMPLE_JSONL / "mixed-news.jsonl"), name, "raw/día 1/mixed-news.jsonl")
    s3 = s3_options(s3_server.spark_conf())
    inputs = [f"{bucket}/raw/d%C3%ADa%201"]
    out = f"{bucket}/corpus"
    first = _run(s3_spark, inputs, out, "r1", s3)
    assert first.kept > 0 and first.files_read == 1
    second = _run(s3_spark, inputs, out, "r2", s3)
    assert second.files_read == 0 and second.files_skipped_done == 1
    docs = read_table(s3_spark, out, "documents")
    assert docs.count() == first.kept and docs.select("doc_id").distinct().count() == first.kept
    assert {r.source_key for r in docs.select("source_key").distinct().collect()} == {"día 1/mixed-news.jsonl"}

    local_input = tmp_path / "día 1"
    local_input.mkdir()
    shutil.copy(SAMPLE_JSONL / "mixed-news.jsonl", local_input)
    _run(s3_spark, [str(local_input)], str(tmp_path / "local"), "local")
    assert _documents(s3_spark, out) == _documents(s3_spark, str(tmp_path / "local"))

    name, _ = _key(bucket)
    pages = s3_server.client().get_paginator("list_objects_v2").paginate(Bucket=name)
    keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
    assert "corpus/_runs/r1.json" in keys and "corpus/_runs/r2.json" in keys
    # staging removed (S3A may keep an empty directory marker "corpus/_staging/")
    assert not [k for k in keys if k.startswith("corpus/_staging/") and k != "corpus/_staging/"]
    assert "corpus/_lock" not in keys

    from deltalake import DeltaTable
    import pyarrow.parquet as pq
    from pyarrow import fs as pafs

    table = DeltaTable(f"s3://{name}/corpus/documents", storage_options=s3_server.storage_options())
    s3fs = pafs.S3FileSystem(endpoint_override=s3_server.endpoint, scheme="http", region="us-east-1",
                             access_key="corpusforge", secret_key="corpusforge-secret")
    ids = set()
    for uri in table.file_uris():  # live files only (see STACK.md on delta-rs scans)
        ids.update(pq.read_table(uri.removeprefix("s3://"), filesystem=s3fs, columns=["doc_id"])
                   .column("doc_id").to_pylist())
    assert ids == {r.doc_id for r in docs.select("doc_id").collect()}
