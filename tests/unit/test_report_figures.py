"""The report's numbers against small runs counted by hand (no Spark: delta-rs writes the tables).

The hand-made output has two finished runs and one killed run:

run a (2 files, 10 records): ingest drops 1 (bad JSON), gopher drops 2 (short), exact dedup
  drops 1 (copy of a1), MinHash drops 2 (near copies of a2) → 4 kept.
run b (1 new file, 3 records; file f1 read again as a new version, 2 records): 1 exact
  duplicate of a document run a kept → 4 kept.
run c: `started` ledger rows only (killed) plus a document row — never counted.
"""
from __future__ import annotations

import json
from datetime import datetime

import pyarrow as pa
import pytest

from corpusforge.report import figures as fg
from corpusforge.report.data import ReportError, load_run
from corpusforge.report.html import render_report, write_report

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


@pytest.fixture(scope="module")
def hand_run(tmp_path_factory):
    from deltalake import write_deltalake

    out = tmp_path_factory.mktemp("report") / "out"
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


def test_load_run_counts_only_finished_runs(hand_run):
    data = load_run(hand_run)
    assert data.run_id == "b" and data.done_runs == ("a", "b") and data.previous_run_id == "a"
    assert "c" not in set(data.ledger.column("run_id").to_pylist())
    assert sorted(data.documents.column("doc_id").to_pylist()) == ["b1", "b2", "b3", "b4"]
    assert "text" not in data.documents.column_names  # texts stay on disk
    assert load_run(hand_run, "a").previous_run_id is None


def test_funnel_and_reasons_of_run_a(hand_run):
    data = load_run(hand_run, "a")
    steps = fg.funnel(fg.records_read(data.ledger, "a"), fg.drops_by_stage(data.dropped),
                      fg.pipeline_stages(data.manifest))
    assert steps == [("read", 10), ("ingest", 9), ("normalize", 9), ("filters.gopher_quality", 7),
                     ("dedup.exact", 6), ("dedup.minhash", 4), ("kept", 4)]
    assert steps[-1][1] == data.documents.num_rows
    assert fg.drop_reasons(data.dropped) == [
        ("dedup.minhash", "dedup.near_duplicate", 2), ("filters.gopher_quality", "gopher.short_doc", 2),
        ("dedup.exact", "dedup.exact_duplicate", 1), ("ingest", "ingest.bad_json", 1)]
    rates = fg.dedup_rates(steps, fg.drop_reasons(data.dropped))
    assert (rates.exact_in, rates.exact_dropped, rates.near_in, rates.near_dropped) == (7, 1, 6, 2)
    assert rates.near_rate == pytest.approx(1 / 3)


def test_languages_sources_lengths(hand_run):
    data = load_run(hand_run, "a")
    assert fg.value_counts(data.documents, "lang") == [("en", 2), ("(none)", 1), ("zh", 1)]
    assert fg.value_counts(data.documents, "source") == [("news", 2), ("web", 2)]
    lengths = fg.histogram(data.documents.column("n_chars").to_pylist(), bins=4, log=True)
    # Log bins from 10 to 10,000: edges 10, 56.2, 316, 1778, 10,000 → one length in each.
    assert lengths.edges[0] == 10.0 and lengths.edges[-1] == 10000.0 and lengths.log
    assert lengths.counts == [1, 1, 1, 1] and lengths.median == 550.0


def test_signals_of_kept_and_filter_dropped_rows(hand_run):
    data = load_run(hand_run, "a")
    (words,) = fg.signal_distributions(data.documents, data.dropped, bins=4)
    assert words.signal == "gopher.n_words"
    assert words.kept.n == 4 and sum(words.kept.counts) == 4
    # Only the two gopher drops are judged rows; the dedup drops passed the filters.
    assert words.dropped.n == 2 and sum(words.dropped.counts) == 2
    assert words.kept.log and words.kept.edges == words.dropped.edges


def test_clusters_and_snippets(hand_run):
    data = load_run(hand_run, "a")
    near = fg.duplicate_clusters(data.dropped, fg.NEAR_REASONS)
    exact = fg.duplicate_clusters(data.dropped, fg.EXACT_REASONS)
    assert near == {"a2": ["x5", "x6"]} and exact == {"a1": ["x4"]}
    assert fg.cluster_sizes(near) == [(3, 1)] and fg.cluster_sizes(exact) == [(2, 1)]
    assert data.read_text("documents", ["a2"]) == {"a2": "text of a2"}
    assert data.read_text("dropped", ["x5"]) == {"x5": "copy text x5"}


def test_phase_times(hand_run):
    data = load_run(hand_run, "a")
    assert fg.phase_seconds(data.stats, "a") == [("ingest", 3.5), ("stages", 1.25), ("write", 2.0)]


def test_since_the_previous_run(hand_run):
    data = load_run(hand_run, "b")
    this = fg.run_numbers(data.stats, data.ledger, "b")
    previous = fg.run_numbers(data.stats, data.ledger, "a")
    total = fg.corpus_numbers(data.ledger, data.row_counts, ["a", "b"])
    assert this == fg.RunNumbers(records_read=5, kept=4, dropped={"dedup.exact_seen_in_earlier_run": 1}, files=2)
    assert previous.records_read == 10 and previous.kept == 4 and previous.dropped_total == 6
    # f1 counts once, at its newest version (2 records, run b): 4 + 3 + 2 read; the killed run c is not counted.
    assert total.records_read == 9 and total.files == 3
    assert total.kept == 8 and total.dropped_total == 7
    rows = {what: (a, b, c) for what, a, b, c in fg.changes(this, previous, total)}
    assert rows["records read"] == (5, 10, 9)
    assert rows["dropped: gopher.short_doc"] == (0, 2, 2)
    assert rows["dropped: dedup.exact_seen_in_earlier_run"] == (1, 0, 1)


def test_rendered_page_is_self_contained(hand_run):
    page = render_report(load_run(hand_run, "a"))
    assert page.count('<figure class="chart') == 8  # funnel, reasons, lang, source, chars, signals, clusters, phases
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "").replace(
        'xmlns:xlink="http://www.w3.org/1999/xlink"', "").replace("http://www.w3.org/1999/02/22-rdf-syntax-ns#", "").replace(
        "http://purl.org/dc/", "").replace("http://creativecommons.org/ns#", "").replace("https://matplotlib.org/", "")
    assert "<script" not in page and "<link" not in page and "<img" not in page
    assert "hash-a" in page and "text of a2" in page and "copy text x5" in page


def test_write_report_and_errors(hand_run, tmp_path):
    path = write_report(hand_run)
    assert path == hand_run / "_runs" / "b" / "report.html" and path.stat().st_size > 10_000
    with pytest.raises(ReportError, match="output not found"):
        load_run(tmp_path / "nope")
    with pytest.raises(ReportError, match="run 'zz' is not a finished run"):
        load_run(hand_run, "zz")
