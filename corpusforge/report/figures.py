"""The numbers behind every figure of the run report, as pure functions of plain tables.

Each function takes pyarrow tables (or dicts) as `load_run` reads them and returns plain
Python values, so the numbers are unit-tested against hand-counted runs and the charts only
draw them. Nothing here imports Spark or matplotlib.

Example::

    data = load_run("out")
    funnel(records_read(data.ledger, data.run_id), drops_by_stage(data.dropped),
           pipeline_stages(data.manifest))     # [("read", 12), ("ingest", 11), ..., ("kept", 7)]
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# Config stage name → the `drop_stage` its rows carry, where the two differ.
DROP_STAGE_OF = {"exact_dedup": "dedup.exact", "minhash_dedup": "dedup.minhash", "dedup_lines": "dedup.lines"}
EXACT_REASONS = ("dedup.exact_duplicate", "dedup.exact_seen_in_earlier_run")
NEAR_REASONS = ("dedup.near_duplicate", "dedup.seen_in_earlier_run")
EARLIER_RUN_REASONS = ("dedup.exact_seen_in_earlier_run", "dedup.seen_in_earlier_run")
# Rows dropped at these stages carry the quality signals that judged them; rows dropped
# earlier (ingest, normalize) have none, and dedup drops passed every filter.
SIGNAL_DROP_STAGE_PREFIX = "filters."
OTHER = "(other)"
MISSING = "(none)"


def pipeline_stages(manifest: dict) -> list[str]:
    """The `drop_stage` names of the run's configured stages, in pipeline order.

    >>> pipeline_stages({"config": {"pipeline": {"stages": ["normalize", "exact_dedup"]}}})
    ['normalize', 'dedup.exact']
    """
    stages = manifest.get("config", {}).get("pipeline", {}).get("stages", [])
    return [DROP_STAGE_OF.get(name, name) for name in stages]


def records_read(ledger: pa.Table, run_id: str) -> int:
    """Document candidates the readers counted for `run_id` (the ledger's own count).

    >>> records_read(pa.table({"run_id": ["a", "a", "b"], "records_read": [3, 4, 9]}), "a")
    7
    """
    rows = ledger.filter(pc.equal(ledger.column("run_id"), run_id))
    return int(pc.sum(rows.column("records_read")).as_py() or 0) if rows.num_rows else 0


def drops_by_stage(dropped: pa.Table) -> dict[str, int]:
    """Dropped rows per `drop_stage`.

    >>> drops_by_stage(pa.table({"drop_stage": ["ingest", "dedup.exact", "ingest"]}))
    {'ingest': 2, 'dedup.exact': 1}
    """
    return dict(Counter(dropped.column("drop_stage").to_pylist())) if dropped.num_rows else {}


def funnel(read: int, drops: dict[str, int], stages: list[str]) -> list[tuple[str, int]]:
    """Records left after each stage: ("read", n), then (stage, left after it), ..., ("kept", n).

    Ingest comes first, then the configured stages in order (each listed even when it dropped
    nothing), then any other stage that dropped rows, by name.

    >>> funnel(10, {"ingest": 1, "dedup.exact": 3}, ["normalize", "dedup.exact"])
    [('read', 10), ('ingest', 9), ('normalize', 9), ('dedup.exact', 6), ('kept', 6)]
    """
    order = ["ingest"] + [s for s in stages if s != "ingest"]
    order += sorted(s for s in drops if s not in order)
    steps, left = [("read", read)], read
    for stage in order:
        left -= drops.get(stage, 0)
        steps.append((stage, left))
    steps.append(("kept", left))
    return steps


def drop_reasons(dropped: pa.Table) -> list[tuple[str, str, int]]:
    """(drop_stage, drop_reason, rows), most rows first, then by reason.

    >>> drop_reasons(pa.table({"drop_stage": ["a", "b", "b"], "drop_reason": ["a.x", "b.y", "b.y"]}))
    [('b', 'b.y', 2), ('a', 'a.x', 1)]
    """
    if not dropped.num_rows:
        return []
    pairs = Counter(zip(dropped.column("drop_stage").to_pylist(), dropped.column("drop_reason").to_pylist()))
    return sorted(((s, r, n) for (s, r), n in pairs.items()), key=lambda t: (-t[2], t[1], t[0]))


def value_counts(table: pa.Table, column: str, top: int = 12) -> list[tuple[str, int]]:
    """Rows per value of `column`, most first; past `top` values the rest are one "(other)".

    Missing values count as "(none)".

    >>> value_counts(pa.table({"lang": ["en", "zh", None, "en", "fr"]}), "lang", top=2)
    [('en', 2), ('(none)', 1), ('(other)', 2)]
    """
    if column not in table.column_names or not table.num_rows:
        return []
    counts = Counter(MISSING if v is None or v == "" else v for v in table.column(column).to_pylist())
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    head, rest = ranked[:top], ranked[top:]
    if rest:
        head.append((OTHER, sum(n for _, n in rest)))
    return head


@dataclass(frozen=True, kw_only=True)
class Histogram:
    """Counts of values in bins [edges[i], edges[i+1]) (the last bin includes its right edge)."""

    edges: list[float]  # len(counts) + 1 bin edges
    counts: list[int]  # values per bin
    n: int  # values counted
    median: float  # of the values (nan when there are none)
    log: bool  # edges are log-spaced (lengths); draw the x axis on a log scale


def histogram(values, *, bins: int = 30, log: bool = False, edges: list[float] | None = None) -> Histogram:
    """A histogram of `values` (nulls skipped); log-spaced edges from 1 for lengths.

    >>> h = histogram([1, 2, 2, 3], bins=2)
    >>> h.edges, h.counts, h.median
    ([1.0, 2.0, 3.0], [1, 3], 2.0)
    >>> histogram([1, 10, 100, 1000], bins=3, log=True).counts
    [1, 1, 2]
    """
    array = np.asarray([v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))],
                       dtype=float)
    if edges is None:
        low = float(array.min()) if array.size else 0.0
        high = float(array.max()) if array.size else 1.0
        if log:
            low, high = max(low, 1.0), max(high, 1.0)
            grid = np.logspace(math.log10(low), math.log10(high), bins + 1) if high > low else np.array([low, low * 10])
        else:
            grid = np.linspace(low, high, bins + 1) if high > low else np.array([low - 0.5, low + 0.5])
    else:
        grid = np.asarray(edges, dtype=float)
    counts, grid = np.histogram(np.clip(array, grid[0], grid[-1]), bins=grid)
    return Histogram(edges=[round(float(e), 6) for e in grid], counts=[int(c) for c in counts], n=int(array.size),
                     median=float(np.median(array)) if array.size else float("nan"), log=log)


def quality_values(table: pa.Table) -> dict[str, list[float]]:
    """Signal name → its values over the rows' `quality` maps (rows without it add nothing).

    >>> quality_values(pa.table({"quality": pa.array([[("a", 1.0)], [("a", 2.0), ("b", 0.5)], None],
    ...                                               pa.map_(pa.string(), pa.float64()))}))
    {'a': [1.0, 2.0], 'b': [0.5]}
    """
    if "quality" not in table.column_names or not table.num_rows:
        return {}
    maps = table.column("quality").combine_chunks()
    keys = maps.keys.to_pylist()
    items = maps.items.to_pylist()
    found: dict[str, list[float]] = {}
    for key, value in zip(keys, items):
        if value is not None and not math.isnan(value):
            found.setdefault(key, []).append(value)
    return dict(sorted(found.items()))


@dataclass(frozen=True, kw_only=True)
class SignalDistribution:
    """One quality signal over the kept documents and the rows the filters dropped, same bins."""

    signal: str  # quality-map key, e.g. "gopher.word_count"
    kept: Histogram  # over kept documents
    dropped: Histogram  # over rows dropped at a filters.* stage (n = 0 when none carry it)


def signal_distributions(documents: pa.Table, dropped: pa.Table, *, bins: int = 20) -> list[SignalDistribution]:
    """Every quality signal's distribution in kept and filter-dropped rows, on shared bins.

    Signals that count things (their values span more than 1000) are binned on a log scale;
    signals with one value in every row are left out.

    >>> docs = pa.table({"quality": pa.array([[("s", 0.2)], [("s", 0.4)]], pa.map_(pa.string(), pa.float64()))})
    >>> gone = pa.table({"drop_stage": ["filters.c4", "dedup.exact"],
    ...                  "quality": pa.array([[("s", 0.9)], [("s", 0.3)]], pa.map_(pa.string(), pa.float64()))})
    >>> [(d.signal, d.kept.n, d.dropped.n, d.dropped.counts[-1]) for d in signal_distributions(docs, gone, bins=2)]
    [('s', 2, 1, 1)]
    """
    kept = quality_values(documents)
    judged = dropped
    if dropped.num_rows and "drop_stage" in dropped.column_names:
        judged = dropped.filter(pc.starts_with(dropped.column("drop_stage"), SIGNAL_DROP_STAGE_PREFIX))
    removed = quality_values(judged)
    out = []
    for signal in sorted(set(kept) | set(removed)):
        values = kept.get(signal, []) + removed.get(signal, [])
        low, high = min(values), max(values)
        if low == high:
            continue  # one value everywhere (a PII count of 0): nothing to see in a histogram
        log = low >= 0 and high > 1000
        shared = histogram(values, bins=bins, log=log).edges
        out.append(SignalDistribution(signal=signal,
                                      kept=histogram(kept.get(signal, []), edges=shared, log=log),
                                      dropped=histogram(removed.get(signal, []), edges=shared, log=log)))
    return out


@dataclass(frozen=True, kw_only=True)
class DedupRates:
    """How much each dedup stage removed, of the documents that reached it."""

    exact_in: int  # documents that reached dedup.exact (0 when the stage did not run)
    exact_dropped: int  # exact duplicates, within the run and of earlier runs
    near_in: int  # documents that reached dedup.minhash
    near_dropped: int  # near duplicates, within the run and of earlier runs
    earlier_runs: int  # of those, duplicates of documents earlier runs kept

    @property
    def exact_rate(self) -> float:
        return self.exact_dropped / self.exact_in if self.exact_in else 0.0

    @property
    def near_rate(self) -> float:
        return self.near_dropped / self.near_in if self.near_in else 0.0


def dedup_rates(steps: list[tuple[str, int]], reasons: list[tuple[str, str, int]]) -> DedupRates:
    """Exact and near duplicate rates from the funnel and the drop reasons.

    >>> steps = funnel(10, {"dedup.exact": 2, "dedup.minhash": 4}, ["dedup.exact", "dedup.minhash"])
    >>> r = dedup_rates(steps, [("dedup.exact", "dedup.exact_duplicate", 2), ("dedup.minhash", "dedup.near_duplicate", 3),
    ...                         ("dedup.minhash", "dedup.seen_in_earlier_run", 1)])
    >>> (r.exact_in, r.exact_rate, r.near_in, r.near_rate, r.earlier_runs)
    (10, 0.2, 8, 0.5, 1)
    """
    reached, left_before = {}, None
    for stage, left in steps:
        if left_before is not None:
            reached[stage] = left_before
        left_before = left
    by_reason = Counter()
    for _stage, reason, rows in reasons:
        by_reason[reason] += rows
    return DedupRates(exact_in=reached.get("dedup.exact", 0), exact_dropped=sum(by_reason[r] for r in EXACT_REASONS),
                      near_in=reached.get("dedup.minhash", 0), near_dropped=sum(by_reason[r] for r in NEAR_REASONS),
                      earlier_runs=sum(by_reason[r] for r in EARLIER_RUN_REASONS))


def duplicate_clusters(dropped: pa.Table, reasons: tuple[str, ...]) -> dict[str, list[str]]:
    """Kept representative doc_id → the doc_ids dropped as its duplicates (for `reasons`).

    >>> duplicate_clusters(pa.table({"doc_id": ["b", "c", "e"], "drop_reason": ["r", "r", "r"],
    ...                              "detail": ["a", "a", "d"]}), ("r",))
    {'a': ['b', 'c'], 'd': ['e']}
    """
    if not dropped.num_rows or "detail" not in dropped.column_names:
        return {}
    rows = dropped.filter(pc.is_in(dropped.column("drop_reason"), pa.array(list(reasons), pa.string())))
    clusters: dict[str, list[str]] = {}
    for doc_id, keeper in zip(rows.column("doc_id").to_pylist(), rows.column("detail").to_pylist()):
        if keeper:
            clusters.setdefault(keeper, []).append(doc_id)
    return {k: sorted(v) for k, v in sorted(clusters.items())}


def cluster_sizes(clusters: dict[str, list[str]]) -> list[tuple[int, int]]:
    """(cluster size counting the kept copy, clusters of that size), by size.

    >>> cluster_sizes({"a": ["b", "c"], "d": ["e"], "f": ["g"]})
    [(2, 2), (3, 1)]
    """
    return sorted(Counter(len(members) + 1 for members in clusters.values()).items())


def largest_clusters(clusters: dict[str, list[str]], k: int = 3) -> list[tuple[str, list[str]]]:
    """The `k` largest clusters (ties by the kept doc_id), as (kept doc_id, dropped doc_ids).

    >>> largest_clusters({"a": ["b"], "d": ["e", "f"], "c": ["x"]}, k=2)
    [('d', ['e', 'f']), ('a', ['b'])]
    """
    return sorted(clusters.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:k]


def snippet(text: str | None, chars: int = 160) -> str:
    """The first `chars` characters of `text` on one line, with an ellipsis when cut.

    >>> snippet("a  b\\nc", 10), snippet("x" * 5, 3)
    ('a b c', 'xxx…')
    """
    flat = " ".join((text or "").split())
    return flat if len(flat) <= chars else flat[:chars].rstrip() + "…"


def phase_seconds(stats: pa.Table, run_id: str) -> list[tuple[str, float]]:
    """(phase, seconds) of `run_id`'s top-level phases, from the stats rows with metric
    `seconds`, as written. Nested phases ("ingest/read") are parts of their top-level one.

    >>> phase_seconds(pa.table({"run_id": ["r", "r", "r", "q"], "stage": ["ingest", "ingest/read", "write", "ingest"],
    ...                         "metric": ["seconds"] * 4, "value": [1.5, 1.0, 2.0, 9.0]}), "r")
    [('ingest', 1.5), ('write', 2.0)]
    """
    rows = stats.filter(pc.and_(pc.equal(stats.column("run_id"), run_id), pc.equal(stats.column("metric"), "seconds")))
    return [(s, float(v)) for s, v in zip(rows.column("stage").to_pylist(), rows.column("value").to_pylist())
            if "/" not in s]


@dataclass(frozen=True, kw_only=True)
class RunNumbers:
    """What one run (or the corpus) holds: records read, kept, dropped by reason."""

    records_read: int  # document candidates the readers counted
    kept: int  # rows in `documents`
    dropped: dict[str, int]  # drop_reason → rows in `dropped`
    files: int = 0  # input files read

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())


def run_numbers(stats: pa.Table, ledger: pa.Table, run_id: str | None) -> RunNumbers | None:
    """One run's own numbers, from the stats it wrote at commit (exact counts of its rows).

    >>> stats = pa.table({"run_id": ["r"] * 3, "stage": ["ingest", "pipeline", "dedup.exact"],
    ...                   "metric": ["records.read", "documents.kept", "dropped.dedup.exact_duplicate"],
    ...                   "value": [5.0, 3.0, 2.0]})
    >>> run_numbers(stats, pa.table({"run_id": ["r"], "records_read": [5]}), "r")
    RunNumbers(records_read=5, kept=3, dropped={'dedup.exact_duplicate': 2}, files=1)
    """
    if run_id is None:
        return None
    rows = stats.filter(pc.equal(stats.column("run_id"), run_id)).to_pylist()
    files = ledger.filter(pc.equal(ledger.column("run_id"), run_id)).num_rows
    kept = read = 0
    dropped: dict[str, int] = {}
    for row in rows:
        if row["metric"] == "documents.kept":
            kept = int(row["value"])
        elif row["metric"] == "records.read":
            read = int(row["value"])
        elif row["metric"].startswith("dropped."):
            reason = row["metric"].removeprefix("dropped.")
            dropped[reason] = dropped.get(reason, 0) + int(row["value"])
    return RunNumbers(records_read=read, kept=kept, dropped=dict(sorted(dropped.items())), files=files)


def corpus_numbers(ledger: pa.Table, row_counts: pa.Table, runs: list[str]) -> RunNumbers:
    """The corpus as the tables hold it after `runs` (finished runs, oldest first).

    Records read count each input once, at its latest version: when a later run read an input
    again (a modified file), the earlier ledger row no longer counts, just as its rows were
    superseded in `documents` and `dropped`.

    >>> ledger = pa.table({"run_id": ["a", "a", "b"], "input_uri": ["f", "g", "f"], "records_read": [4, 2, 5]})
    >>> counts = pa.table({"run_id": ["a", "b", "b"], "drop_reason": [None, None, "x.y"], "rows": [2, 4, 1]})
    >>> corpus_numbers(ledger, counts, ["a", "b"])
    RunNumbers(records_read=7, kept=6, dropped={'x.y': 1}, files=2)
    """
    order = {run: i for i, run in enumerate(runs)}
    latest: dict[str, tuple[int, int]] = {}
    for row in ledger.select(["run_id", "input_uri", "records_read"]).to_pylist():
        rank = order.get(row["run_id"])
        if rank is None:
            continue
        if row["input_uri"] not in latest or latest[row["input_uri"]][0] <= rank:
            latest[row["input_uri"]] = (rank, row["records_read"])
    kept, dropped = 0, Counter()
    for row in row_counts.to_pylist():
        if row["run_id"] not in order:
            continue
        if row["drop_reason"] is None:
            kept += row["rows"]
        else:
            dropped[row["drop_reason"]] += row["rows"]
    return RunNumbers(records_read=sum(n for _, n in latest.values()), kept=kept,
                      dropped=dict(sorted(dropped.items())), files=len(latest))


def changes(this: RunNumbers, previous: RunNumbers | None, total: RunNumbers) -> list[tuple[str, int, int | None, int]]:
    """Rows of the "since the previous run" table: (what, this run, previous run, corpus total).

    >>> a = RunNumbers(records_read=5, kept=3, dropped={"x.y": 2}, files=1)
    >>> changes(a, None, a)[:3]
    [('files read', 1, None, 1), ('records read', 5, None, 5), ('kept', 3, None, 3)]
    """
    rows = [("files read", this.files, previous.files if previous else None, total.files),
            ("records read", this.records_read, previous.records_read if previous else None, total.records_read),
            ("kept", this.kept, previous.kept if previous else None, total.kept),
            ("dropped", this.dropped_total, previous.dropped_total if previous else None, total.dropped_total)]
    reasons = sorted(set(this.dropped) | set(previous.dropped if previous else {}) | set(total.dropped))
    rows += [(f"dropped: {r}", this.dropped.get(r, 0), previous.dropped.get(r, 0) if previous else None,
              total.dropped.get(r, 0)) for r in reasons]
    return rows
