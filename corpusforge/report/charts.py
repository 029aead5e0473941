"""Draw the report's figures with matplotlib (Agg) as inline SVG: nothing to fetch, text stays text.

Every function takes the numbers `figures.py` computed and returns a matplotlib Figure; every
artist that shows data (a bar, a histogram bin, a line) gets a gid starting with "mark", so
the SVG marks them and the browser test can check that a chart drew something. `to_svg`
renders a figure and prefixes its ids, so several SVGs live in one page without clashes.

Example::

    svg = to_svg(funnel_chart([("read", 10), ("ingest", 9), ("kept", 6)]), "funnel")
"""
from __future__ import annotations

import functools
import io
import re

import matplotlib
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from corpusforge.report.figures import Histogram, SignalDistribution

KEPT_COLOR = "#3b75af"
DROPPED_COLOR = "#c44e52"
NEUTRAL_COLOR = "#7f7f7f"
# Figure widths in inches at the size the page shows them (1 in = 72 SVG units, ~1:1 on a
# 1120 px page), so the 9 pt text reads as 9 pt text: a full-width chart and a third of a row.
WIDE_IN = 14.5
THIRD_IN = 4.7
STYLE = {"svg.fonttype": "none",  # text as <text>, drawn with the page's fonts
         "svg.hashsalt": "corpusforge",  # stable clip-path ids: the same run gives the same file
         "font.size": 9, "axes.spines.top": False, "axes.spines.right": False,
         "axes.titlesize": 10, "axes.titleweight": "bold", "axes.titlelocation": "left"}


def _styled(chart):
    """Run a chart function under the report's style (some rc values are read while drawing)."""
    @functools.wraps(chart)
    def styled(*args, **kwargs):
        with matplotlib.rc_context(STYLE):
            return chart(*args, **kwargs)
    return styled


def _figure(width: float, height: float, **kwargs):
    # Figure() without pyplot: no global figure registry, no GUI backend, nothing to close.
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(width, height), layout="constrained")
        return fig, fig.subplots(**kwargs)


def _mark(artists, name: str) -> None:
    for i, artist in enumerate(artists):
        artist.set_gid(f"mark-{name}-{i}")


def _hbars(ax, labels: list[str], values: list[float], name: str, color, fmt=lambda v: f"{v:,}") -> None:
    """Horizontal bars, first label on top, each with its value at the bar's end."""
    positions = list(range(len(labels)))[::-1]
    bars = ax.barh(positions, values, color=color, height=0.7)
    _mark(bars, name)
    ax.set_yticks(positions, labels)
    top = max(values) if values else 0
    for y, value in zip(positions, values):
        ax.annotate(fmt(value), (value, y), xytext=(3, 0), textcoords="offset points", va="center", fontsize=8)
    ax.set_xlim(0, top * 1.15 if top else 1)
    ax.spines["left"].set_visible(False)
    ax.tick_params(axis="y", length=0)


@_styled
def funnel_chart(steps: list[tuple[str, int]]):
    """Records left after each stage, from records read (top) to kept (bottom)."""
    fig, ax = _figure(WIDE_IN, 0.8 + 0.32 * len(steps))
    colors = [NEUTRAL_COLOR] + [KEPT_COLOR] * (len(steps) - 2) + ["#2a9d5c"]
    labels = [("records read" if s == "read" else "kept" if s == "kept" else f"after {s}") for s, _ in steps]
    _hbars(ax, labels, [n for _, n in steps], "funnel", colors)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title("Records left after each stage")
    return fig


@_styled
def reasons_chart(reasons: list[tuple[str, str, int]]):
    """Dropped rows by reason (stage in brackets)."""
    fig, ax = _figure(WIDE_IN, 0.8 + 0.3 * len(reasons))
    _hbars(ax, [f"{r}  [{s}]" for s, r, _ in reasons], [n for _, _, n in reasons], "reasons", DROPPED_COLOR)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title("Dropped rows by reason")
    return fig


@_styled
def counts_chart(counts: list[tuple[str, int]], title: str, name: str):
    """Documents per value (language, source), most first."""
    fig, ax = _figure(THIRD_IN, 0.8 + 0.28 * len(counts))
    _hbars(ax, [v for v, _ in counts], [n for _, n in counts], name, KEPT_COLOR)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title)
    return fig


def _bars(ax, hist: Histogram, name: str, color, label: str | None = None, alpha: float = 1.0):
    """The histogram as one filled step outline: one SVG path, however many bins."""
    (outline,) = [ax.stairs(hist.counts, hist.edges, fill=True, color=color, alpha=alpha, label=label)]
    if hist.n:
        _mark([outline], name)
    if hist.log:
        ax.set_xscale("log")
    ax.set_ylim(bottom=0)


@_styled
def histogram_chart(hist: Histogram, title: str, xlabel: str, name: str):
    """One histogram, with its median."""
    fig, ax = _figure(THIRD_IN, 2.6)
    _bars(ax, hist, name, KEPT_COLOR)
    if hist.n:
        ax.axvline(hist.median, color="black", linestyle="--", linewidth=1)
        ax.annotate(f"median {hist.median:,.0f}", (hist.median, 0.97), xycoords=("data", "axes fraction"),
                    xytext=(4, 0), textcoords="offset points", fontsize=8, va="top")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("documents")
    return fig


@_styled
def signals_chart(distributions: list[SignalDistribution], columns: int = 7):
    """Small multiples: each quality signal, kept documents over filter-dropped rows."""
    columns = min(columns, len(distributions))
    rows = -(-len(distributions) // columns)
    with matplotlib.rc_context(STYLE):
        # A fixed grid (no constrained layout): dozens of panels would take seconds to lay out.
        fig = Figure(figsize=(max(WIDE_IN * columns / 7, 4.5), 1.45 * rows + 0.5))
        axes = fig.subplots(rows, columns, squeeze=False)
        fig.subplots_adjust(left=0.03, right=0.99, bottom=0.4 / (1.45 * rows + 0.5), top=1 - 0.5 / (1.45 * rows + 0.5),
                            wspace=0.35, hspace=0.75)
    for ax in axes.flat[len(distributions):]:
        ax.set_visible(False)
    for i, (ax, dist) in enumerate(zip(axes.flat, distributions)):
        _bars(ax, dist.kept, f"signal{i}k", KEPT_COLOR)
        if dist.dropped.n:
            _bars(ax, dist.dropped, f"signal{i}d", DROPPED_COLOR, alpha=0.55)
        ax.set_title(dist.signal, fontsize=8, fontweight="normal")
        ax.tick_params(labelsize=7)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=3))
        ax.xaxis.set_major_locator(MaxNLocator(nbins=3))
    handles = [Rectangle((0, 0), 1, 1, color=c) for c in (KEPT_COLOR, DROPPED_COLOR)]
    fig.legend(handles, ["kept documents", "rows a filter dropped"], loc="upper right", ncols=2, fontsize=8,
               frameon=False)
    return fig


@_styled
def cluster_chart(exact: list[tuple[int, int]], near: list[tuple[int, int]]):
    """Duplicate clusters by size (the kept copy counted), exact and near side by side."""
    fig, ax = _figure(THIRD_IN, 2.6)
    sizes = sorted({s for s, _ in exact} | {s for s, _ in near})
    position = {s: i for i, s in enumerate(sizes)}
    for offset, (series, color, label) in enumerate(((exact, NEUTRAL_COLOR, "exact"), (near, KEPT_COLOR, "near"))):
        if series:
            bars = ax.bar([position[s] + (offset - 0.5) * 0.4 for s, _ in series], [n for _, n in series],
                          width=0.4, color=color, label=label)
            _mark(bars, f"clusters-{label}")
    ax.set_xticks(range(len(sizes)), [str(s) for s in sizes])
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(frameon=False, fontsize=8)
    ax.set_title("Duplicate clusters by size")
    ax.set_xlabel("documents in the cluster")
    ax.set_ylabel("clusters")
    return fig


@_styled
def phases_chart(phases: list[tuple[str, float]]):
    """Wall time per phase."""
    fig, ax = _figure(WIDE_IN, 0.8 + 0.32 * len(phases))
    _hbars(ax, [p for p, _ in phases], [s for _, s in phases], "phases", NEUTRAL_COLOR, fmt=lambda v: f"{v:,.1f} s")
    ax.set_title("Time per phase (seconds)")
    return fig


_ID = re.compile(r'\bid="([^"]+)"')


def to_svg(fig, prefix: str) -> str:
    """The figure as an inline <svg> element, its ids prefixed with `prefix` (unique per page)."""
    buffer = io.StringIO()
    with matplotlib.rc_context(STYLE):
        fig.savefig(buffer, format="svg")
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg"):]  # drop the XML declaration and doctype: it goes inline
    ids = set(_ID.findall(svg))
    svg = _ID.sub(lambda m: f'id="{prefix}-{m.group(1)}"', svg)
    svg = re.sub(r'(url\(#|xlink:href="#|href="#)([^")]+)',
                 lambda m: m.group(1) + (f"{prefix}-{m.group(2)}" if m.group(2) in ids else m.group(2)), svg)
    return svg  # its width and height stay: the page shrinks it to fit (max-width), never blows it up
