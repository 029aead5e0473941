"""A hand-counted output of three runs, written with delta-rs (no Spark), for the report's tests.

run a (2 files, 10 records): ingest drops 1 (bad JSON), gopher drops 2 (short), exact dedup
  drops 1 (copy of a1), MinHash drops 2 (near copies of a2) → 4 kept, 4 tokenized.
run b (1 new file, 3 records; file f1 read again as a new version, 2 records): 1 exact
  duplicate of a document run a kept → 4 kept.
run c: `started` ledger rows only (killed) plus a document row — never counted.
"""
from __future__ import annotations

import json
from datetime import datetime

import pyarrow as pa

QUALITY = pa.map_(pa.string(), pa.float64())
STAGES = ["normalize", "filters.gopher_quality", "exact_dedup", "minhash_dedup"]


def _ledger_row(run, uri, n, status, hour):
    return {"run_id": run, "input_uri": uri, "source_key": uri, "format": "jsonl", "size": 1, "mtime": datetime(2026, 1, 1),
            "records_read": n, "status": status, "config_hash": "c0ffee", "started_at": datetime(2026, 1, 1, hour),
            "finished_at": None}


def _docs(run, rows):
    """rows: (doc_id, lang, source, n_chars, {signal: value})"""
    return pa.table({"doc_id": [r[0] for r in rows], "text": [f"text of {r[0]}" for r in rows],
                     "source": [r[2] for r in rows], "source_uri": ["f1"] * len(rows), "lang": [r[1] for r in rows],
                     "n_chars": pa.array([r[3] for r in rows], pa.int32()),
                     "quality": pa.array([list(r[4].items()) for r in rows], QUALITY),
                     "text_hash": [f"h-{r[0]}" for r in rows], "run_id": [run] * len(rows)})


def _dropped(run, rows):
    """rows: (doc_id, drop_stage, drop_reason, detail, {signal: value} or None)"""
    return pa.table({"doc_id": [r[0] for r in rows], "text": [f"copy text {r[0]}" for r in rows],
                     "source": ["web"] * len(rows), "source_uri": ["f1"] * len(rows),
                     "drop_stage": [r[1] for r in rows], "drop_reason": [r[2] for r in rows],
                     "detail": [r[3] for r in rows],
                     "quality": pa.array([None if r[4] is None else list(r[4].items()) for r in rows], QUALITY),
                     "run_id": [run] * len(rows)})


def _stats(run, read, kept, dropped, seconds):
    rows = [("ingest", "records.read", read), ("pipeline", "documents.kept", kept)]
    rows += [(stage, f"dropped.{reason}", n) for stage, reason, n in dropped]
    rows += [(phase, "seconds", s) for phase, s in seconds]
    return pa.table({"run_id": [run] * len(rows), "stage": [r[0] for r in rows], "metric": [r[1] for r in rows],
                     "value": [float(r[2]) for r in rows]})


def build_hand_run(out):
    """Write the three runs' tables under `out`; return `out`."""
    from deltalake import write_deltalake

    ledger = [_ledger_row("a", "f1", 6, "done", 1), _ledger_row("a", "f2", 4, "done", 1),
              _ledger_row("b", "f3", 3, "done", 2), _ledger_row("b", "f1", 2, "done", 2),
              _ledger_row("c", "f4", 7, "started", 3)]
    write_deltalake(str(out / "ledger"), pa.Table.from_pylist(ledger))
    write_deltalake(str(out / "documents"), _docs("a", [
        ("a1", "en", "web", 100, {"gopher.n_words": 20.0}), ("a2", "en", "web", 1000, {"gopher.n_words": 200.0}),
        ("a3", "zh", "news", 10, {"gopher.n_words": 2.0}), ("a4", None, "news", 10_000, {"gopher.n_words": 2000.0})]))
    write_deltalake(str(out / "documents"), _docs("b", [
        ("b1", "en", "web", 50, {}), ("b2", "en", "web", 60, {}), ("b3", "fr", "web", 70, {}),
        ("b4", "en", "web", 80, {})]), mode="append")
    write_deltalake(str(out / "documents"), _docs("c", [("c1", "en", "web", 5, {})]), mode="append")
    write_deltalake(str(out / "tokens"), pa.table({
        "doc_id": ["a1", "a2", "a3", "a4"], "n_tokens": pa.array([30, 300, 3, 3000], pa.int32()),
        "run_id": ["a"] * 4}))
    write_deltalake(str(out / "dropped"), _dropped("a", [
        ("x1", "ingest", "ingest.bad_json", None, None),
        ("x2", "filters.gopher_quality", "gopher.short_doc", None, {"gopher.n_words": 3.0}),
        ("x3", "filters.gopher_quality", "gopher.short_doc", None, {"gopher.n_words": 4.0}),
        ("x4", "dedup.exact", "dedup.exact_duplicate", "a1", {"gopher.n_words": 20.0}),
        ("x5", "dedup.minhash", "dedup.near_duplicate", "a2", {"gopher.n_words": 199.0}),
        ("x6", "dedup.minhash", "dedup.near_duplicate", "a2", {"gopher.n_words": 201.0})]))
    write_deltalake(str(out / "dropped"), _dropped("b", [
        ("y1", "dedup.exact", "dedup.exact_seen_in_earlier_run", "a3", {})]), mode="append")
    write_deltalake(str(out / "stats"), _stats("a", 10, 4, [("ingest", "ingest.bad_json", 1),
                                                            ("filters.gopher_quality", "gopher.short_doc", 2),
                                                            ("dedup.exact", "dedup.exact_duplicate", 1),
                                                            ("dedup.minhash", "dedup.near_duplicate", 2)],
                                                [("ingest", 3.5), ("stages", 1.25), ("write", 2.0)]))
    write_deltalake(str(out / "stats"), _stats("b", 5, 4, [("dedup.exact", "dedup.exact_seen_in_earlier_run", 1)],
                                               [("ingest", 1.0)]), mode="append")
    (out / "_runs").mkdir()
    for run in ("a", "b"):
        (out / "_runs" / f"{run}.json").write_text(json.dumps(
            {"run_id": run, "config_hash": f"hash-{run}", "config": {"pipeline": {"stages": STAGES}},
             "summary": {"seconds": 9.5}}))
    return out


