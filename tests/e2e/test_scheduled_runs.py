"""Three scheduled runs over an input directory that grows between them (examples/scheduled).

run 1   a.jsonl (a0, a1, a bad line, a2, a3, a1 again), b.jsonl (b0, b1, b2)
        → read 9: kept 7, dropped ingest.bad_json 1, dedup.exact_duplicate 1 (both copies of
        a1 are in a.jsonl, so which one is kept does not change any count below)
grow    c.jsonl new (a copy of a2, c1, c2); b.jsonl modified (b0, b1 changed, b2, a copy of a3,
        b4: 5 texts)
run 2   killed after writing `documents` and `dropped` (its own process, SIGKILL): counts nothing
run 3   picks up c.jsonl and the new b.jsonl only; b's rows of run 1 are superseded in the same
        commits that add the new ones, and the new b.jsonl is not deduplicated against its own
        old version (b0 and b2 keep their text and their doc_id, and are kept)
        → read 8: kept 6, dropped dedup.exact_seen_in_earlier_run 2 (the copies of a2 and a3)
corpus  a (6) + b (5) + c (3) = 14 read: kept 10, dropped bad_json 1 + exact_duplicate 1 +
        exact_seen 2

Every count here was made by hand from the texts above.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from corpusforge.config import load_config
from corpusforge.ingest.plan import plan_inputs
from corpusforge.report import build_model, load_run
from corpusforge.report.html import write_report
from corpusforge.tables.deltars import read_delta

pytestmark = [pytest.mark.spark, pytest.mark.e2e]

REPO = Path(__file__).resolve().parents[2]
STAGES = 'pipeline.stages=["normalize", "exact_dedup"]'
TEXTS = {name: f"Document {name} talks about topic number {i} in its own words, at some length." for i, name in
         enumerate(["a0", "a1", "a2", "a3", "b0", "b1", "b2", "c1", "c2", "b1 v2", "b4"])}


def _write(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines))


def _doc(key: str) -> str:
    return json.dumps({"text": TEXTS[key]})


def _run(spark, inputs: Path, out: Path, run_id: str):
    from corpusforge.pipeline.run import run_pipeline

    cfg = load_config(overrides=[STAGES])
    return run_pipeline(spark, cfg, plan_inputs([str(inputs)], None, cfg.input), str(out), run_id)


def _killed_run(inputs: Path, out: Path, run_id: str) -> int:
    env = dict(os.environ, SPARK_LOCAL_IP="127.0.0.1", PYSPARK_PYTHON=sys.executable,
               PYSPARK_DRIVER_PYTHON=sys.executable, SPARK_CONF_DIR=str(REPO / "spark-conf" / "local"),
               CORPUSFORGE_FAILPOINT="after_dropped")
    proc = subprocess.Popen([sys.executable, str(REPO / "jobs" / "build_corpus.py"), "--input", str(inputs),
                             "--output", str(out), "--run-id", run_id, "--set", STAGES],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        proc.communicate(timeout=600)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # its JVM and Python workers too
        except ProcessLookupError:
            pass
    return proc.returncode


def test_three_scheduled_runs_count_every_record_once(spark, tmp_path):
    inputs, out = tmp_path / "crawl", tmp_path / "out"
    inputs.mkdir()
    _write(inputs / "a.jsonl", [_doc("a0"), _doc("a1"), "{not json", _doc("a2"), _doc("a3"), _doc("a1")])
    _write(inputs / "b.jsonl", [_doc("b0"), _doc("b1"), _doc("b2")])
    first = _run(spark, inputs, out, "hourly-01")
    assert (first.records_read, first.kept) == (9, 7)

    time.sleep(0.01)  # a new mtime even on coarse clocks
    _write(inputs / "c.jsonl", [_doc("a2"), _doc("c1"), _doc("c2")])
    _write(inputs / "b.jsonl", [_doc("b0"), _doc("b1 v2"), _doc("b2"), _doc("a3"), _doc("b4")])
    assert _killed_run(inputs, out, "hourly-02") != 0
    third = _run(spark, inputs, out, "hourly-03")
    assert third.recovered_runs == ["hourly-02"]
    assert (third.files_read, third.files_skipped_done, third.records_read, third.kept) == (2, 1, 8, 6)

    documents, dropped = read_delta(str(out / "documents")), read_delta(str(out / "dropped"))
    ledger = read_delta(str(out / "ledger")).to_pylist()
    # Exactly once: every record of the current files is one row, of a finished run.
    assert {r["run_id"] for r in ledger} == {"hourly-01", "hourly-03"}
    ids = documents.column("doc_id").to_pylist() + dropped.column("doc_id").to_pylist()
    assert len(ids) == len(set(ids)) == 14
    texts = sorted(t for t in documents.column("text").to_pylist())
    assert texts == sorted(TEXTS[k] for k in ("a0", "a1", "a2", "a3", "b0", "b1 v2", "b2", "b4", "c1", "c2"))
    by_uri = {}
    for uri, run in zip(documents.column("source_uri").to_pylist(), documents.column("run_id").to_pylist()):
        by_uri.setdefault(Path(uri).name, set()).add(run)
    assert by_uri == {"a.jsonl": {"hourly-01"}, "b.jsonl": {"hourly-03"}, "c.jsonl": {"hourly-03"}}
    assert sorted(dropped.column("drop_reason").to_pylist()) == [
        "dedup.exact_duplicate", "dedup.exact_seen_in_earlier_run", "dedup.exact_seen_in_earlier_run",
        "ingest.bad_json"]
    index = read_delta(str(out / "exact_index"))
    assert sorted(index.column("doc_id").to_pylist()) == sorted(documents.column("doc_id").to_pylist())

    # The report's "since the previous run" numbers: this run, the previous finished run, the corpus.
    model = build_model(load_run(out))
    assert model.data.run_id == "hourly-03" and model.data.previous_run_id == "hourly-01"
    rows = {what: (this, previous, total) for what, this, previous, total in model.changes}
    assert rows["records read"] == (8, 9, 14)
    assert rows["kept"] == (6, 7, 10)
    assert rows["dropped"] == (2, 2, 4)
    assert rows["dropped: ingest.bad_json"] == (0, 1, 1)
    assert rows["dropped: dedup.exact_duplicate"] == (0, 1, 1)
    assert rows["dropped: dedup.exact_seen_in_earlier_run"] == (2, 0, 2)
    assert rows["files read"] == (2, 2, 3)
    assert (out / "_runs" / "hourly-03" / "report.html").is_file()  # written by the run itself
    assert write_report(out, "hourly-01").is_file()  # and rebuilt for an earlier one
