"""The run report: `<output>/_runs/<run_id>/report.html`, written after every run.

- `data.py` reads the run's Delta tables without a JVM (`load_run`);
- `figures.py` computes every figure's numbers (pure, unit-tested);
- `model.py` computes them once per run, and gives charts and tables to the notebook;
- `charts.py` draws them (matplotlib → inline SVG); `html.py` lays out the page.

`python -m corpusforge.report OUT [--run-id ID]` rebuilds a report without Spark.

Example::

    from corpusforge.report import build_model, load_run, model_figures, model_tables, write_report
    write_report("out")                                   # → out/_runs/<latest>/report.html
    model = build_model(load_run("out"))
    model_tables(model)["reasons"]; model_figures(model)["funnel"]
"""
from corpusforge.report.data import RunData, load_run
from corpusforge.report.html import render_report, write_report
from corpusforge.report.model import ReportModel, build_model, model_figures, model_tables, runs_overview

__all__ = ["RunData", "ReportModel", "build_model", "load_run", "model_figures", "model_tables", "render_report",
           "runs_overview", "write_report"]
