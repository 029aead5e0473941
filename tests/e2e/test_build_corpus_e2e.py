"""Whole runs of jobs/build_corpus.py in subprocesses: errors before work, crash safety."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
SAMPLE_JSONL = REPO / "corpusforge" / "data" / "sample" / "jsonl"


def _env(**extra):
    env = dict(os.environ, SPARK_LOCAL_IP="127.0.0.1", PYSPARK_PYTHON=sys.executable,
               PYSPARK_DRIVER_PYTHON=sys.executable, SPARK_CONF_DIR=str(REPO / "spark-conf" / "local"))
    env.pop("CORPUSFORGE_FAILPOINT", None)
    env.update(extra)
    return env


def _job(args, *, submit=False, timeout=300, **env):
    entry = [str(VENV_BIN / "spark-submit")] if submit else [sys.executable]
    proc = subprocess.Popen(entry + [str(REPO / "jobs" / "build_corpus.py"), *args], cwd=REPO,
                            env=_env(**env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        try:  # a killed driver can leave its JVM or Python workers behind
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return proc.returncode, out, err


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("build_corpus: error:")]


def test_missing_input_stops_before_work_with_one_line(tmp_path):
    rc, _out, err = _job(["--input", str(tmp_path / "nope"), "--output", str(tmp_path / "out")])
    assert rc == 2
    assert _error_lines(err) == [f"build_corpus: error: input not found: {tmp_path / 'nope'}"]
    assert "Traceback" not in err and not (tmp_path / "out").exists()


def test_unknown_config_key_stops_before_work(tmp_path):
    rc, _out, err = _job(["--input", str(SAMPLE_JSONL), "--output", str(tmp_path / "out"),
                          "--set", "dedup.exactly=true"])
    assert rc == 2
    assert _error_lines(err) == ["build_corpus: error: config: unknown key 'dedup.exactly'; "
                                 "expected one of ['scope']"]


def test_absent_delta_jar_stops_before_spark_starts(tmp_path):
    """A profile whose spark.jars finds no Delta jar (`make jars` not run): one line, exit 2."""
    profile = tmp_path / "profile"
    shutil.copytree(REPO / "spark-conf" / "local", profile)
    conf = profile / "spark-defaults.conf"
    conf.write_text(re.sub(r"(?m)^spark\.jars .*$", f"spark.jars {tmp_path / 'nojars'}/*.jar", conf.read_text()))
    rc, _out, err = _job(["--input", str(SAMPLE_JSONL), "--output", str(tmp_path / "out")],
                         SPARK_CONF_DIR=str(profile))
    assert rc == 2
    (line,) = _error_lines(err)
    assert "no delta-spark_4.2_2.13 jar in spark.jars" in line and "make jars" in line
    assert "Traceback" not in err and not (tmp_path / "out").exists()


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path):
    rc, out, _err = _job(["--input", str(SAMPLE_JSONL), "--output", str(tmp_path / "out"), "--dry-run"])
    assert rc == 0 and "jsonl/mixed-news.jsonl" in out and "1 files" in out
    assert not (tmp_path / "out").exists()


def _table(path):
    from corpusforge.tables.deltars import read_delta

    return read_delta(str(path)).to_pylist()


def test_killed_runs_are_never_counted_half(tmp_path):
    """Kill runs during the documents write, between tables and before the ledger commit;
    the next run replaces their rows and the tables hold every record exactly once."""
    out = tmp_path / "out"
    args = ["--input", str(SAMPLE_JSONL), "--output", str(out),
            "--set", 'pipeline.stages=["normalize", "exact_dedup"]']
    for point in ("documents_write", "after_dropped", "before_commit"):
        rc, _o, err = _job(args + ["--run-id", f"killed-{point}"], CORPUSFORGE_FAILPOINT=point)
        assert rc != 0, f"failpoint {point} did not stop the run: {err[-2000:]}"
        ledger = _table(out / "ledger") if (out / "ledger").exists() else []
        assert not [r for r in ledger if r["status"] == "done"], point

    rc, stdout, err = _job(args + ["--run-id", "final"], submit=True)
    assert rc == 0, err[-3000:]
    assert "removed rows of unfinished runs" in stdout

    documents, dropped, ledger = _table(out / "documents"), _table(out / "dropped"), _table(out / "ledger")
    assert {r["run_id"] for r in documents} == {r["run_id"] for r in dropped} == {"final"}
    assert [(r["run_id"], r["status"]) for r in ledger] == [("final", "done")]
    assert len({r["doc_id"] for r in documents}) == len(documents)
    assert len({r["text_hash"] for r in documents}) == len(documents)
    assert len(documents) + len(dropped) == sum(r["records_read"] for r in ledger) == 12
    manifest = json.loads((out / "_runs" / "final.json").read_text())
    assert manifest["summary"]["kept"] == len(documents)


SAMPLE = REPO / "corpusforge" / "data" / "sample"


def test_bundled_sample_keeps_the_same_documents(tmp_path):
    """The bundled sample through the default pipeline keeps exactly the documents it kept
    before the package was laid out as pipeline/ stages/ outputs/ (tests/data list)."""
    rc, stdout, err = _job(["--input", str(SAMPLE), "--output", str(tmp_path / "out")], submit=True)
    assert rc == 0, err[-3000:]
    assert "records read 52 = kept 27 + dropped 25" in stdout
    kept = sorted(r["doc_id"] for r in _table(tmp_path / "out" / "documents"))
    expected = (REPO / "tests" / "data" / "sample_kept_doc_ids.txt").read_text().split()
    assert kept == expected


def test_filters_without_langid_fail_in_dry_run_naming_column_and_stage(tmp_path):
    rc, _out, err = _job(["--input", str(SAMPLE_JSONL), "--output", str(tmp_path / "out"), "--dry-run",
                          "--set", 'pipeline.stages=["normalize", "filters.gopher_quality"]'])
    assert rc == 2
    assert _error_lines(err) == ["build_corpus: error: pipeline.stages: stage 'filters.gopher_quality' needs "
                                 "column 'lang', which neither ingest nor an earlier stage provides; "
                                 "put 'langid' before it"]
    assert "Traceback" not in err and not (tmp_path / "out").exists()


@pytest.mark.parametrize("module", ["corpusforge", "corpusforge.cli", "corpusforge.pipeline.cli"])
def test_python_dash_m_runs_the_command_line(module, tmp_path):
    proc = subprocess.run([sys.executable, "-m", module, "--input", str(SAMPLE_JSONL), "--output",
                           str(tmp_path / "out"), "--dry-run"], cwd=REPO, env=_env(), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "jsonl/mixed-news.jsonl" in proc.stdout and "1 files" in proc.stdout
    bad = subprocess.run([sys.executable, "-m", module, "--output", str(tmp_path / "out"), "--set", "x"],
                         cwd=REPO, env=_env(), capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "expected section.key=value" in bad.stderr


def test_a_python_outside_the_venv_gets_one_line_saying_what_to_do(tmp_path):
    """spark-submit without the venv activated starts the system Python: exit 2, one line."""
    system_python = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    env = {k: v for k, v in _env().items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    proc = subprocess.run([str(system_python), str(REPO / "jobs" / "build_corpus.py"), "--input", str(SAMPLE_JSONL),
                           "--output", str(tmp_path / "out")], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2
    (line,) = _error_lines(proc.stderr)
    assert "cannot import corpusforge" in line and "source .venv/bin/activate" in line
