"""The run report: one self-contained HTML page per run, `<output>/_runs/<run_id>/report.html`.

Charts are inline SVG and the style sheet is inline: the page loads nothing, so it opens
from a laptop, an object store's browser or a mail attachment alike. Every number on it
comes from `figures.py`; this module only lays them out.

Example::

    path = write_report("out")                       # the latest finished run
    path = write_report("out", run_id="run-2026…")   # or a given one
"""
from __future__ import annotations

import html
import json
import logging
from datetime import datetime, timezone
from pathlib import Path

from corpusforge.report import charts
from corpusforge.report.data import RunData, load_run
from corpusforge.report.model import ReportModel, build_model, model_figures

log = logging.getLogger(__name__)

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#222;
 margin:0;background:#f6f7f9}
main{max-width:1120px;margin:0 auto;padding:20px 24px 60px}
h1{font-size:22px;margin:8px 0 2px}h2{font-size:17px;margin:30px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.sub{color:#666;font-size:13px}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:16px 0}
.card{background:#fff;border:1px solid #e1e4e8;border-radius:6px;padding:10px 14px;min-width:120px}
.card b{display:block;font-size:20px}.card span{color:#666;font-size:12px}
.row{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:14px;align-items:start}
.row.dedup{grid-template-columns:minmax(330px,1fr) 2fr}
figure.chart{background:#fff;border:1px solid #e1e4e8;border-radius:6px;margin:0 0 10px;padding:8px}
figure.chart svg{max-width:100%;height:auto;display:block}
table{border-collapse:collapse;background:#fff;font-size:13px}
td,th{border:1px solid #e1e4e8;padding:4px 8px;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.note{color:#666;font-style:italic}
.cluster{background:#fff;border:1px solid #e1e4e8;border-radius:6px;padding:8px 12px;margin:8px 0}
.cluster p{margin:4px 0}.cluster .kept{border-left:3px solid #3b75af;padding-left:8px}
.cluster .gone{border-left:3px solid #c44e52;padding-left:8px;color:#444}
code,pre{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:12px}
pre{background:#fff;border:1px solid #e1e4e8;padding:10px;overflow:auto;max-height:480px}
"""


def write_report(output: str | Path, run_id: str | None = None) -> Path:
    """Write the report of `run_id` (default: the latest finished run); return its path."""
    data = load_run(output, run_id)
    path = Path(data.output) / "_runs" / data.run_id / "report.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(render_report(data), encoding="utf-8")
    tmp.replace(path)  # a reader never sees half a page
    return path


def report_after_run(output: str, run_id: str) -> Path | None:
    """The pipeline's last step: write the run's report; None (and a warning) when it cannot.

    The run is committed when this runs, so a report that fails (a local path is needed, a
    chart that will not draw) must not turn a finished run into a failed one.
    """
    from corpusforge.tables.delta import local_path

    if local_path(output) is None:
        log.warning("no report for run %s: %s is not a local path; rebuild it with "
                    "`python -m corpusforge.report` where the output is mounted", run_id, output)
        return None
    try:
        return write_report(str(local_path(output)), run_id)
    except Exception as err:  # noqa: BLE001 - any failure of the report is reported, never raised
        log.warning("no report for run %s: %s: %s", run_id, type(err).__name__, err)
        return None


def _e(value) -> str:
    return html.escape(str(value))


def _n(value) -> str:
    return "–" if value is None else f"{value:,}"


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "–"


def _chart(figures: dict, name: str) -> str:
    return (f'<figure class="chart" data-chart="{name}">'
            f"{charts.to_svg(figures[name], name)}</figure>")


def render_report(data: RunData) -> str:
    """The report page of `data` as one HTML string."""
    from corpusforge.reasons import REASONS

    m = build_model(data)
    figures = model_figures(m)
    read, rates = m.records_read, m.rates
    wall = data.manifest.get("summary", {}).get("seconds")
    config_hash = data.manifest.get("config_hash", "")
    parts: list[str] = []

    parts.append(f"<h1>corpusforge run <code>{_e(data.run_id)}</code></h1>")
    parts.append(f'<div class="sub">output <code>{_e(data.output)}</code> · config hash <code>{_e(config_hash)}</code>'
                 f" · report written {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC</div>")
    cards = [("records read", _n(read)), ("kept", f"{_n(m.kept)} ({_pct(m.kept, read)})"),
             ("dropped", f"{_n(m.dropped)} ({_pct(m.dropped, read)})"),
             ("exact duplicates", _pct(rates.exact_dropped, rates.exact_in)),
             ("near duplicates", _pct(rates.near_dropped, rates.near_in)),
             ("corpus after this run", f"{_n(m.total.kept)} docs")]
    if wall is not None:
        cards.append(("wall time", f"{float(wall):,.1f} s"))
    parts.append('<div class="cards">' + "".join(f"<div class=card><b>{v}</b><span>{_e(k)}</span></div>"
                                                 for k, v in cards) + "</div>")
    if not read:
        parts.append('<p class="note">This run found no new input: every file was done by an earlier run.</p>')

    parts.append("<h2>From records read to kept</h2>")
    if "funnel" in figures:
        parts.append(_chart(figures, "funnel"))
    parts.append("<h2>Why records were dropped</h2>")
    if "reasons" in figures:
        parts.append(_chart(figures, "reasons"))
        parts.append("<table><tr><th>reason</th><th>stage</th><th class=n>rows</th><th>meaning</th></tr>"
                     + "".join(f"<tr><td><code>{_e(r)}</code></td><td>{_e(s)}</td><td class=n>{n:,}</td>"
                               f"<td>{_e(REASONS.get(r, ''))}</td></tr>" for s, r, n in m.reasons) + "</table>")
    else:
        parts.append('<p class="note">Nothing was dropped.</p>')

    parts.append("<h2>Kept documents</h2>")
    row = [_chart(figures, name) for name in ("languages", "sources", "chars", "tokens") if name in figures]
    parts.append('<div class="row">' + "".join(row) + "</div>" if row else '<p class="note">No document was kept.</p>')

    parts.append("<h2>Quality signals</h2>")
    if "signals" in figures:
        parts.append('<p class="sub">Kept documents, and the rows a quality filter dropped (their signals are '
                     "in <code>dropped.quality</code>); rows dropped before the filters or by dedup are not shown, "
                     "nor signals with one value in every row.</p>")
        parts.append(_chart(figures, "signals"))
    else:
        parts.append('<p class="note">No quality signals: the run had no quality filter.</p>')

    parts.append("<h2>Duplicates</h2>")
    parts.append(_dedup_section(m, figures))

    parts.append("<h2>Time per phase</h2>")
    if "phases" in figures:
        parts.append(_chart(figures, "phases"))
    else:
        parts.append('<p class="note">No timings recorded for this run.</p>')

    parts.append("<h2>Since the previous run</h2>")
    parts.append(_changes_section(m))

    parts.append("<h2>Configuration</h2>")
    parts.append(f"<p>config hash <code>{_e(config_hash)}</code> (the ledger stores it with every input file)</p>")
    parts.append("<details><summary>resolved config</summary><pre>"
                 + _e(json.dumps(data.manifest.get("config", {}), indent=2, sort_keys=True)) + "</pre></details>")

    return ("<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
            "<meta name=viewport content='width=device-width,initial-scale=1'>"
            f"<title>corpusforge run {_e(data.run_id)}</title><style>{CSS}</style></head>"
            f"<body><main>{''.join(parts)}</main></body></html>\n")


def _dedup_section(m: ReportModel, figures: dict) -> str:
    rates = m.rates
    parts = ["<table><tr><th></th><th class=n>reached the stage</th><th class=n>dropped</th>"
             "<th class=n>rate</th></tr>"]
    for label, reached, gone in (("exact (dedup.exact)", rates.exact_in, rates.exact_dropped),
                                 ("near (dedup.minhash)", rates.near_in, rates.near_dropped)):
        parts.append(f"<tr><td>{label}</td><td class=n>{_n(reached)}</td><td class=n>{_n(gone)}</td>"
                     f"<td class=n>{_pct(gone, reached)}</td></tr>")
    parts.append(f"</table><p class=sub>{rates.earlier_runs:,} of the duplicates repeat documents that earlier "
                 "runs kept (cross-run indexes).</p>")
    if "clusters" not in figures:
        parts.append('<p class="note">No duplicate was found.</p>')
        return "".join(parts)
    parts.append('<div class="row dedup">' + _chart(figures, "clusters") + "<div>")
    kind = m.examples[0].kind if m.examples else ""
    parts.append(f"<p><b>Largest {kind}-duplicate clusters</b> "
                 "(blue: the copy kept; red: copies dropped)</p>")
    for ex in m.examples:
        parts.append(f'<div class="cluster"><div class=sub>{ex.size} documents; kept <code>{_e(ex.kept_doc_id)}</code>'
                     f'</div><p class="kept">{_e(ex.kept_snippet)}</p>'
                     + "".join(f'<p class="gone">{_e(text)}</p>' for _, text in ex.dropped)
                     + (f"<div class=sub>… and {ex.size - 1 - len(ex.dropped)} more</div>"
                        if ex.size - 1 > len(ex.dropped) else "") + "</div>")
    parts.append("</div></div>")
    return "".join(parts)


def _changes_section(m: ReportModel) -> str:
    previous_id = m.data.previous_run_id
    head = (f"<p>previous run: <code>{_e(previous_id)}</code></p>" if previous_id
            else "<p class=note>This is the first run on this output.</p>")
    return (head + "<table id=changes><tr><th></th><th class=n>this run</th><th class=n>previous run</th>"
            "<th class=n>corpus total after this run</th></tr>"
            + "".join(f"<tr><td>{_e(what)}</td><td class=n>{_n(a)}</td><td class=n>{_n(b)}</td>"
                      f"<td class=n>{_n(c)}</td></tr>" for what, a, b, c in m.changes) + "</table>")
