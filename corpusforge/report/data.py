"""Read what a run report needs from the output's Delta tables, without a JVM.

delta-rs gives the live files of each table and pyarrow reads only the columns a figure
needs (corpusforge.tables.deltars), so `python -m corpusforge.report OUT` works on a machine
without Spark, and a notebook opens the same data. Only runs the ledger marks `done` count:
rows of a killed run are never shown.

Example::

    data = load_run("out")                  # the latest finished run
    data.run_id, data.documents.num_rows    # its kept documents (no text column)
    data.previous_run_id                    # the finished run before it, or None
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from corpusforge.errors import CorpusforgeError

# Columns of `documents` and `dropped` the figures use; the text stays on disk (snippets of
# example clusters are read by doc_id, a few rows).
DOCUMENT_COLUMNS = ("doc_id", "source", "source_uri", "lang", "n_chars", "quality", "text_hash", "split", "run_id")
DROPPED_COLUMNS = ("doc_id", "source", "source_uri", "lang", "drop_stage", "drop_reason", "detail", "quality",
                   "split", "run_id")


class ReportError(CorpusforgeError):
    """The output or run a report was asked for is not there."""

    exit_code = 2


@dataclass(frozen=True, kw_only=True)
class RunData:
    """Everything one run's report shows, as plain tables and dicts."""

    output: str  # the run's --output root
    run_id: str  # the run the report is about
    manifest: dict  # _runs/<run_id>.json: config, config_hash, summary ({} when absent)
    done_runs: tuple[str, ...]  # finished runs, oldest first (by their first ledger start time)
    ledger: pa.Table  # every ledger row of the finished runs
    stats: pa.Table  # stats rows of the finished runs: run_id, stage, metric, value
    documents: pa.Table  # this run's kept documents, DOCUMENT_COLUMNS present in the table
    dropped: pa.Table  # this run's dropped rows, DROPPED_COLUMNS present in the table
    tokens: pa.Table | None  # this run's `tokens` rows (doc_id, n_tokens), None without the table
    # Rows per (run_id, drop_reason) of the finished runs, drop_reason null for kept documents:
    # the corpus totals, read from the tables as they stand (superseded rows are gone).
    row_counts: pa.Table = field(default_factory=lambda: pa.table({"run_id": pa.array([], pa.string()),
                                                                   "drop_reason": pa.array([], pa.string()),
                                                                   "rows": pa.array([], pa.int64())}))

    @property
    def previous_run_id(self) -> str | None:
        """The finished run before this one on the same output, or None."""
        runs = list(self.done_runs)
        if self.run_id in runs:
            index = runs.index(self.run_id)
            return runs[index - 1] if index else None
        return runs[-1] if runs else None

    def read_text(self, table: str, doc_ids: list[str]) -> dict[str, str]:
        """doc_id → text of a few rows of `documents` or `dropped` (for snippets)."""
        if not doc_ids:
            return {}
        dataset = _dataset(Path(self.output) / table)
        if dataset is None:
            return {}
        rows = dataset.to_table(columns=["doc_id", "text"], filter=ds.field("doc_id").isin(doc_ids))
        return {d: t for d, t in zip(rows.column("doc_id").to_pylist(), rows.column("text").to_pylist())}


def load_run(output: str | Path, run_id: str | None = None) -> RunData:
    """The data of run `run_id` (default: the latest finished run) under `output`.

    A run that found nothing new has a manifest but no ledger rows: it loads, with empty
    tables. Raises ReportError naming the output or the run when neither is there.
    """
    root = Path(str(output).removeprefix("file://"))
    if not root.is_dir():
        raise ReportError(f"output not found: {output}")
    ledger = _read(root / "ledger", None)
    if ledger is None:
        raise ReportError(f"{root}: no ledger table; is this the --output of a corpusforge run?")
    done_runs = finished_runs(ledger)
    if run_id is None:
        if not done_runs:
            raise ReportError(f"{root}: no finished run in the ledger")
        run_id = done_runs[-1]
    manifest_path = root / "_runs" / f"{run_id}.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    if run_id not in done_runs and not manifest:
        raise ReportError(f"{root}: run {run_id!r} is not a finished run; finished: {list(done_runs)[-5:]}")

    done_filter = ds.field("run_id").isin(list(done_runs)) if done_runs else None
    this_run = ds.field("run_id") == run_id
    stats = _read(root / "stats", None, done_filter) if done_runs else None
    documents = _read(root / "documents", DOCUMENT_COLUMNS, this_run)
    dropped = _read(root / "dropped", DROPPED_COLUMNS, this_run)
    tokens = _read(root / "tokens", ("doc_id", "n_tokens", "run_id"), this_run)
    counts = [c for c in (_row_counts(root / "documents", done_filter, kept=True),
                          _row_counts(root / "dropped", done_filter, kept=False)) if c is not None]
    return RunData(
        output=str(root), run_id=run_id, manifest=manifest, done_runs=tuple(done_runs),
        ledger=ledger.filter(pc.is_in(ledger.column("run_id"), pa.array(list(done_runs), pa.string()))),
        stats=stats if stats is not None else _empty_stats(),
        documents=documents if documents is not None else pa.table({c: pa.array([], pa.string()) for c in ("doc_id", "run_id")}),
        dropped=dropped if dropped is not None else pa.table({c: pa.array([], pa.string()) for c in ("doc_id", "drop_stage", "drop_reason", "run_id")}),
        tokens=tokens,
        row_counts=pa.concat_tables(counts) if counts else RunData.__dataclass_fields__["row_counts"].default_factory(),
    )


def finished_runs(ledger: pa.Table) -> list[str]:
    """Run ids with `done` ledger rows, oldest first (by their earliest `started_at`).

    >>> import datetime as dt
    >>> t = lambda h: dt.datetime(2026, 1, 1, h)
    >>> finished_runs(pa.table({"run_id": ["b", "a", "c"], "status": ["done", "done", "started"],
    ...                         "started_at": [t(2), t(1), t(3)]}))
    ['a', 'b']
    """
    done = ledger.filter(pc.equal(ledger.column("status"), "done"))
    if not done.num_rows:
        return []
    first = done.group_by("run_id").aggregate([("started_at", "min")]).to_pylist()
    return [r["run_id"] for r in sorted(first, key=lambda r: (r["started_at_min"], r["run_id"]))]


def _dataset(path: Path) -> ds.Dataset | None:
    if not (path / "_delta_log").is_dir():
        return None
    from deltalake import DeltaTable

    from corpusforge.tables.deltars import delta_dataset

    return delta_dataset(DeltaTable(str(path)))


def _read(path: Path, columns, row_filter=None) -> pa.Table | None:
    dataset = _dataset(path)
    if dataset is None:
        return None
    names = None if columns is None else [c for c in columns if c in dataset.schema.names]
    return dataset.to_table(columns=names, filter=row_filter)


def _row_counts(path: Path, done_filter, *, kept: bool) -> pa.Table | None:
    dataset = _dataset(path)
    if dataset is None or done_filter is None:
        return None
    if kept:
        rows = dataset.to_table(columns=["run_id"], filter=done_filter)
        counts = rows.group_by("run_id").aggregate([("run_id", "count")])
        return pa.table({"run_id": counts.column("run_id"),
                         "drop_reason": pa.nulls(counts.num_rows, pa.string()),
                         "rows": counts.column("run_id_count").cast(pa.int64())})
    rows = dataset.to_table(columns=["run_id", "drop_reason"], filter=done_filter)
    counts = rows.group_by(["run_id", "drop_reason"]).aggregate([("run_id", "count")])
    return pa.table({"run_id": counts.column("run_id"), "drop_reason": counts.column("drop_reason"),
                     "rows": counts.column("run_id_count").cast(pa.int64())})


def _empty_stats() -> pa.Table:
    return pa.table({"run_id": pa.array([], pa.string()), "stage": pa.array([], pa.string()),
                     "metric": pa.array([], pa.string()), "value": pa.array([], pa.float64())})
