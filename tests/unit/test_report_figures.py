"""The report's numbers against small runs counted by hand (report_run.py: delta-rs writes them, no Spark)."""
from __future__ import annotations

import pytest
from report_run import build_hand_run

from corpusforge.report import figures as fg
from corpusforge.report.data import ReportError, load_run
from corpusforge.report.html import render_report, write_report


@pytest.fixture(scope="module")
def hand_run(tmp_path_factory):
    return build_hand_run(tmp_path_factory.mktemp("report") / "out")


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
    # funnel, reasons, languages, sources, characters, tokens, signals, clusters, phases
    assert page.count('<figure class="chart') == 9
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


def test_command_line_rebuilds_a_report(hand_run, tmp_path, capsys):
    from corpusforge.report.__main__ import main

    assert main([str(hand_run), "--run-id", "a"]) == 0
    assert capsys.readouterr().out.strip() == f"report: {hand_run / '_runs' / 'a' / 'report.html'}"
    assert main([str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err.strip() == f"report: error: output not found: {tmp_path / 'nope'}"
