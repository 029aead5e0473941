"""Read a run's Delta tables without a JVM (delta-rs) and summarize them for people.

The exploration notebook calls these; they are plain functions so they are tested too.

Example::

    tables = load_tables("out")                      # only runs the ledger marks done
    drop_counts(tables["dropped"])                   # rows per (drop_stage, drop_reason)
    fig = plot_overview(tables)                      # drops by reason + document lengths
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

CORE_TABLES = ("documents", "dropped", "stats", "ledger")


def load_tables(output: str | Path, version: int | None = None) -> dict[str, pd.DataFrame]:
    """The run tables under `output` as pandas frames, limited to finished runs.

    Large text columns are left out of `documents`: the overview needs lengths, not texts.
    """
    from deltalake import DeltaTable

    from corpusforge.tables.deltars import read_delta

    frames: dict[str, pd.DataFrame] = {}
    for name in CORE_TABLES:
        path = Path(output) / name
        if not (path / "_delta_log").is_dir():
            frames[name] = pd.DataFrame()
            continue
        pinned = version if name == "documents" else None
        columns = [f.name for f in DeltaTable(str(path), version=pinned).schema().fields if f.name != "text"]
        frames[name] = read_delta(str(path), pinned, columns).to_pandas()
    done = set(frames["ledger"].loc[frames["ledger"]["status"] == "done", "run_id"]) if len(frames["ledger"]) else set()
    for name in ("documents", "dropped", "stats"):
        if len(frames[name]):
            frames[name] = frames[name][frames[name]["run_id"].isin(done)].reset_index(drop=True)
    return frames


def drop_counts(dropped: pd.DataFrame) -> pd.DataFrame:
    """Rows per (drop_stage, drop_reason), most frequent first."""
    if dropped.empty:
        return pd.DataFrame(columns=["drop_stage", "drop_reason", "rows"])
    counts = dropped.groupby(["drop_stage", "drop_reason"]).size().rename("rows").reset_index()
    return counts.sort_values(["rows", "drop_reason"], ascending=[False, True]).reset_index(drop=True)


def run_overview(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per finished run: files, records read, kept, dropped — and whether they add up."""
    ledger = tables["ledger"]
    if ledger.empty:
        return pd.DataFrame(columns=["run_id", "files", "records_read", "kept", "dropped", "balanced"])
    done = ledger[ledger["status"] == "done"]
    runs = done.groupby("run_id").agg(files=("input_uri", "count"), records_read=("records_read", "sum"))
    kept = tables["documents"].groupby("run_id").size() if len(tables["documents"]) else pd.Series(dtype=int)
    dropped = tables["dropped"].groupby("run_id").size() if len(tables["dropped"]) else pd.Series(dtype=int)
    runs["kept"] = kept.reindex(runs.index, fill_value=0)
    runs["dropped"] = dropped.reindex(runs.index, fill_value=0)
    runs["balanced"] = runs["records_read"] == runs["kept"] + runs["dropped"]
    return runs.reset_index()


def plot_overview(tables: dict[str, pd.DataFrame]):
    """A figure: dropped rows by reason (left) and kept document lengths (right, log x)."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator
    import numpy as np

    fig, (ax_drops, ax_lengths) = plt.subplots(1, 2, figsize=(12, 4.5), constrained_layout=True)
    counts = drop_counts(tables["dropped"]).head(15)
    if len(counts):
        labels = counts["drop_reason"][::-1]
        ax_drops.barh(labels, counts["rows"][::-1], color="#c0504d")
        for y, value in enumerate(counts["rows"][::-1]):
            ax_drops.annotate(f"{value:,}", (value, y), xytext=(3, 0), textcoords="offset points",
                              va="center", fontsize=8)
    else:
        ax_drops.text(0.5, 0.5, "nothing dropped", ha="center", va="center", transform=ax_drops.transAxes)
    ax_drops.xaxis.set_major_locator(MaxNLocator(integer=True))  # rows are whole numbers
    ax_drops.set_title("Dropped rows by reason")
    ax_drops.set_xlabel("rows")
    docs = tables["documents"]
    if len(docs):
        lengths = docs["n_chars"].clip(lower=1)
        bins = np.logspace(0, np.log10(max(lengths.max(), 10)) + 0.1, 30)
        ax_lengths.hist(lengths, bins=bins, color="#4f81bd", edgecolor="white")
        ax_lengths.set_xscale("log")
        ax_lengths.axvline(lengths.median(), color="black", linestyle="--", linewidth=1)
        ax_lengths.annotate(f"median {int(lengths.median()):,} chars", (lengths.median(), 0.95),
                            xycoords=("data", "axes fraction"), xytext=(4, 0),
                            textcoords="offset points", fontsize=8, va="top")
    ax_lengths.set_title(f"Kept documents: length ({len(docs):,} documents)")
    ax_lengths.set_xlabel("characters (log scale)")
    ax_lengths.set_ylabel("documents")
    return fig
