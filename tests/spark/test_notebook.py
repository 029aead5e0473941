"""The exploration notebook really executes against a run the test builds itself."""
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from corpusforge.config import load_config
from corpusforge.ingest.plan import plan_inputs
from corpusforge.pipeline.run import run_pipeline
from corpusforge.report import build_model, load_run, model_tables

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
    model = build_model(load_run(sample_run))
    tables = model_tables(model)
    assert tables["runs"]["balanced"].all() and tables["runs"]["records_read"].sum() == 12
    assert tables["reasons"]["rows"].sum() == model.dropped == 5


def test_notebook_executes(sample_run, monkeypatch, tmp_path):
    monkeypatch.setenv("CORPUSFORGE_OUT", str(sample_run))
    notebook = nbformat.read(REPO / "notebooks" / "explore_corpus.ipynb", as_version=4)
    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(REPO / "notebooks")}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("image/svg+xml" in o.get("data", {}) for o in outputs)  # the charts were drawn
    assert any("dedup.exact_duplicate" in str(o.get("data", {})) for o in outputs)
