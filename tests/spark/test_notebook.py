"""The exploration notebook really executes against a run the test builds itself."""
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from corpusforge.config import load_config
from corpusforge.ingest.plan import plan_inputs
from corpusforge.pipeline.run import run_pipeline
from corpusforge.report.explore import drop_counts, load_tables, run_overview

pytestmark = pytest.mark.spark

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sample_run(spark, tmp_path_factory):
    out = tmp_path_factory.mktemp("nb") / "out"
    cfg = load_config(overrides=['pipeline.stages=["normalize", "exact_dedup"]'])
    plan = plan_inputs([str(REPO / "corpusforge" / "data" / "sample" / "jsonl")], None, cfg.input)
    run_pipeline(spark, cfg, plan, str(out), "nb-run")
    return out


def test_report_functions_balance(sample_run):
    tables = load_tables(sample_run)
    overview = run_overview(tables)
    assert overview["balanced"].all() and overview["records_read"].sum() == 12
    assert drop_counts(tables["dropped"])["rows"].sum() == len(tables["dropped"]) == 5


def test_notebook_executes(sample_run, monkeypatch, tmp_path):
    monkeypatch.setenv("CORPUSFORGE_OUT", str(sample_run))
    notebook = nbformat.read(REPO / "notebooks" / "explore_corpus.ipynb", as_version=4)
    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(REPO / "notebooks")}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the plot was drawn
    assert any("dedup.exact_duplicate" in str(o.get("data", {})) for o in outputs)
