"""Every number and chart of one run's report, computed once: the page and the notebook share it.

`build_model` runs the pure functions of `figures.py` over a loaded run; `model_figures`
draws its charts (matplotlib figures, by name) and `model_tables` gives its numbers as
pandas frames for a notebook. The HTML page (`html.py`) lays out the same model.

Example::

    model = build_model(load_run("out"))
    model.steps[-1]                  # ("kept", 27)
    model_figures(model)["funnel"]   # the funnel chart, as on the page
    model_tables(model)["changes"]   # the "since the previous run" table
"""
from __future__ import annotations

from dataclasses import dataclass

from corpusforge.report import figures as fg
from corpusforge.report.data import RunData

EXAMPLE_CLUSTERS = 3  # near-duplicate clusters shown with snippets
EXAMPLE_MEMBERS = 3  # dropped copies shown per example cluster
SNIPPET_CHARS = 180  # characters of each snippet


@dataclass(frozen=True, kw_only=True)
class ExampleCluster:
    kind: str  # "near" or "exact"
    kept_doc_id: str  # the copy the run (or an earlier one) kept
    kept_snippet: str  # its text, cut to SNIPPET_CHARS
    dropped: list[tuple[str, str]]  # (doc_id, snippet) of the first EXAMPLE_MEMBERS dropped copies
    size: int  # documents in the cluster, the kept one included


@dataclass(frozen=True, kw_only=True)
class ReportModel:
    data: RunData  # what it was computed from
    records_read: int  # the readers' count (ledger)
    kept: int  # rows in documents
    dropped: int  # rows in dropped
    steps: list[tuple[str, int]]  # funnel
    reasons: list[tuple[str, str, int]]  # (stage, reason, rows)
    languages: list[tuple[str, int]]  # kept documents per language
    sources: list[tuple[str, int]]  # kept documents per source
    chars: fg.Histogram | None  # kept documents' length in characters
    tokens: fg.Histogram | None  # their length in tokens, when the run tokenized
    signals: list[fg.SignalDistribution]  # quality signals, kept vs filter-dropped
    rates: fg.DedupRates  # exact / near duplicate rates
    exact_sizes: list[tuple[int, int]]  # (cluster size, clusters), exact duplicates
    near_sizes: list[tuple[int, int]]  # the same for near duplicates
    examples: list[ExampleCluster]  # the largest clusters, with snippets
    phases: list[tuple[str, float]]  # (phase, seconds)
    this_run: fg.RunNumbers  # the run's own counts
    previous_run: fg.RunNumbers | None  # the previous finished run's, if any
    total: fg.RunNumbers  # the corpus after this run
    changes: list[tuple[str, int, int | None, int]]  # rows of the "since the previous run" table


def build_model(data: RunData) -> ReportModel:
    """Compute every figure's numbers for the run in `data`."""
    read = fg.records_read(data.ledger, data.run_id)
    steps = fg.funnel(read, fg.drops_by_stage(data.dropped), fg.pipeline_stages(data.manifest))
    reasons = fg.drop_reasons(data.dropped)
    documents = data.documents
    chars = None
    if documents.num_rows and "n_chars" in documents.column_names:
        chars = fg.histogram(documents.column("n_chars").to_pylist(), log=True)
    tokens = None
    if data.tokens is not None and data.tokens.num_rows:
        tokens = fg.histogram(data.tokens.column("n_tokens").to_pylist(), log=True)
    exact = fg.duplicate_clusters(data.dropped, fg.EXACT_REASONS)
    near = fg.duplicate_clusters(data.dropped, fg.NEAR_REASONS)
    runs = list(data.done_runs)
    upto = runs[: runs.index(data.run_id) + 1] if data.run_id in runs else runs
    this = fg.run_numbers(data.stats, data.ledger, data.run_id) or fg.RunNumbers(records_read=0, kept=0, dropped={})
    previous = fg.run_numbers(data.stats, data.ledger, data.previous_run_id)
    total = fg.corpus_numbers(data.ledger, data.row_counts, upto)
    return ReportModel(
        data=data, records_read=read, kept=documents.num_rows, dropped=data.dropped.num_rows, steps=steps,
        reasons=reasons, languages=fg.value_counts(documents, "lang"), sources=fg.value_counts(documents, "source"),
        chars=chars, tokens=tokens, signals=fg.signal_distributions(documents, data.dropped),
        rates=fg.dedup_rates(steps, reasons), exact_sizes=fg.cluster_sizes(exact), near_sizes=fg.cluster_sizes(near),
        examples=_examples(data, "near", near) if near else _examples(data, "exact", exact),
        phases=fg.phase_seconds(data.stats, data.run_id), this_run=this, previous_run=previous, total=total,
        changes=fg.changes(this, previous, total))


def _examples(data: RunData, kind: str, clusters: dict[str, list[str]]) -> list[ExampleCluster]:
    largest = fg.largest_clusters(clusters, EXAMPLE_CLUSTERS)
    kept = data.read_text("documents", [k for k, _ in largest])
    gone = data.read_text("dropped", [m for _, members in largest for m in members[:EXAMPLE_MEMBERS]])
    return [ExampleCluster(kind=kind, kept_doc_id=keeper, kept_snippet=fg.snippet(kept.get(keeper), SNIPPET_CHARS),
                           dropped=[(m, fg.snippet(gone.get(m), SNIPPET_CHARS)) for m in members[:EXAMPLE_MEMBERS]],
                           size=len(members) + 1)
            for keeper, members in largest]


def model_figures(model: ReportModel) -> dict[str, object]:
    """The report's charts by name (matplotlib Figures); a chart with nothing to draw is left out."""
    from corpusforge.report import charts

    out: dict[str, object] = {}
    if model.records_read:
        out["funnel"] = charts.funnel_chart(model.steps)
    if model.reasons:
        out["reasons"] = charts.reasons_chart(model.reasons)
    if model.languages:
        out["languages"] = charts.counts_chart(model.languages, "Documents per language", "languages")
    if model.sources:
        out["sources"] = charts.counts_chart(model.sources, "Documents per source", "sources")
    if model.chars is not None:
        out["chars"] = charts.histogram_chart(model.chars, "Length in characters", "characters (log scale)", "chars")
    if model.tokens is not None:
        out["tokens"] = charts.histogram_chart(model.tokens, "Length in tokens", "tokens (log scale)", "tokens")
    if model.signals:
        out["signals"] = charts.signals_chart(model.signals)
    if model.exact_sizes or model.near_sizes:
        out["clusters"] = charts.cluster_chart(model.exact_sizes, model.near_sizes)
    if model.phases:
        out["phases"] = charts.phases_chart(model.phases)
    return out


def model_tables(model: ReportModel) -> dict[str, object]:
    """The report's numbers as pandas DataFrames, by name, for a notebook."""
    import pandas as pd

    return {
        "funnel": pd.DataFrame(model.steps, columns=["after", "records"]),
        "reasons": pd.DataFrame(model.reasons, columns=["drop_stage", "drop_reason", "rows"]),
        "languages": pd.DataFrame(model.languages, columns=["lang", "documents"]),
        "sources": pd.DataFrame(model.sources, columns=["source", "documents"]),
        "phases": pd.DataFrame(model.phases, columns=["phase", "seconds"]),
        "changes": pd.DataFrame(model.changes, columns=["what", "this run", "previous run", "corpus total"]),
        "runs": runs_overview(model.data),
    }


def runs_overview(data: RunData):
    """One row per finished run: files, records read, kept, dropped, and whether they add up."""
    import pandas as pd

    rows = []
    for run in data.done_runs:
        numbers = fg.run_numbers(data.stats, data.ledger, run)
        rows.append({"run_id": run, "files": numbers.files, "records_read": numbers.records_read,
                     "kept": numbers.kept, "dropped": numbers.dropped_total,
                     "balanced": numbers.records_read == numbers.kept + numbers.dropped_total})
    return pd.DataFrame(rows, columns=["run_id", "files", "records_read", "kept", "dropped", "balanced"])
