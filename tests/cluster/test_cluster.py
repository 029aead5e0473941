"""build_corpus on a real standalone cluster (a master and two 1-core workers on 127.0.0.1)
writing to S3 (moto on 127.0.0.1), and several drivers against one s3a:// output.

One cluster run serves the environment, equality, S3 and executor-loss checks (a submit costs
minutes on 2 cores).
The lock and crash tests run their drivers with a local master: what they test lives on S3.
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from corpusforge.cluster_demo import submit_command, submit_env
from corpusforge.config import load_config
from corpusforge.ingest.plan import plan_inputs
from corpusforge.localcluster import pack_environment
from corpusforge.pipeline.run import run_pipeline
from corpusforge.tables import fs
from corpusforge.tables.delta import read_table

pytestmark = [pytest.mark.spark, pytest.mark.s3, pytest.mark.cluster]

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "corpusforge" / "data" / "sample"
JOB = Path(__file__).resolve().parent / "cluster_job.py"


@pytest.fixture(scope="session")
def archive(tmp_path_factory):
    """The packed environment (`make pack`'s), reused when it is newer than the sources."""
    return pack_environment(REPO / "build" / "corpusforge-env.tar.gz", repo=REPO)


def _submit(cluster, s3_server, archive, args, log_path, **popen):
    command = submit_command(cluster, s3_server, archive, args, job=JOB)
    log = open(log_path, "w")
    return subprocess.Popen(command, cwd=REPO, env=submit_env(), stdout=subprocess.PIPE, stderr=log,
                            text=True, start_new_session=True, **popen)


def _finish(proc, log_path, timeout=600):
    try:
        out, _ = proc.communicate(timeout=timeout)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if proc.returncode != 0:
        pytest.fail(f"exit {proc.returncode}\n{out}\n" + Path(log_path).read_text(errors="replace")[-4000:])
    return out


def _documents(spark, output):
    return sorted((r.doc_id, r.text_hash) for r in read_table(spark, output, "documents")
                  .select("doc_id", "text_hash").collect())


@pytest.fixture(scope="session")
def local_reference(spark, tmp_path_factory):
    """The bundled sample run by the in-process local[*] session: the documents to match."""
    cfg = load_config()
    out = str(tmp_path_factory.mktemp("local-reference") / "out")
    run_pipeline(spark, cfg, plan_inputs([str(SAMPLE)], None, cfg.input), out, "local")
    return _documents(spark, out)


def test_the_cluster_writes_to_s3_what_local_writes_from_a_packed_env_losing_an_executor(
        cluster, s3_server, s3_spark, bucket, archive, local_reference, tmp_path):
    """One submit serves the environment, equality, S3 and executor-loss checks: a standalone
    submit costs minutes here, and a run that loses an executor must still equal local[*]."""
    output = f"{bucket}/cluster"
    proc = _submit(cluster, s3_server, archive, ["--input", str(SAMPLE), "--output", output],
                   tmp_path / "submit.log")
    killed = None
    deadline = time.monotonic() + 400
    while killed is None and proc.poll() is None and time.monotonic() < deadline:
        executors = cluster.executor_pids()
        # Mid-run: the lock is taken (work has begun) and executors are up.
        if executors and fs.exists(s3_spark, f"{output}/_lock") and fs.exists(s3_spark, f"{output}/ledger"):
            killed = executors[0]
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.5)
    assert killed is not None, "the run ended before an executor could be killed"
    out = _finish(proc, tmp_path / "submit.log")
    assert killed not in cluster.executor_pids()

    executors = json.loads(next(line for line in out.splitlines() if line.startswith("EXECUTORS "))[10:])
    work = str(cluster.workdir / "work")
    for seen in executors:  # unpacked from spark.archives in the executor's work directory
        assert seen["executable"].startswith(work) and seen["executable"].endswith("/environment/bin/python"), seen
        assert seen["corpusforge"].startswith(work) and "/environment/lib/" in seen["corpusforge"], seen

    documents = _documents(s3_spark, output)
    assert documents == local_reference  # same documents, none twice
    line = next(line for line in out.splitlines() if line.startswith("records read"))
    read, kept, dropped = (int(w) for w in line.replace("=", " ").replace("+", " ").split() if w.isdigit())
    assert read == kept + dropped and kept == len(documents)


def _local_profile(tmp_path, s3_server) -> Path:
    """spark-conf/local plus the S3 server's keys and one core: a driver of its own per run."""
    profile = tmp_path / "profile"
    profile.mkdir()
    text = (REPO / "spark-conf" / "local" / "spark-defaults.conf").read_text()
    extra = {**s3_server.spark_conf(), "spark.master": "local[1]", "spark.driver.memory": "1g"}
    text += "".join(f"\n{key} {value}" for key, value in extra.items()) + "\n"
    (profile / "spark-defaults.conf").write_text(text)
    (profile / "log4j2.properties").write_text((REPO / "spark-conf" / "local" / "log4j2.properties").read_text())
    return profile


def _driver(profile, args, **env):
    environment = dict(os.environ, SPARK_CONF_DIR=str(profile), SPARK_LOCAL_IP="127.0.0.1",
                       PYSPARK_PYTHON=sys.executable, **env)
    environment.pop("CORPUSFORGE_FAILPOINT", None)
    environment.update(env)
    return subprocess.Popen([sys.executable, str(REPO / "jobs" / "build_corpus.py"), *args], cwd=REPO,
                            env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def _wait(proc, timeout=600):
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return proc.returncode, out, err


def test_dry_run_plans_an_s3a_input_and_refuses_a_held_s3a_output_before_spark(s3_server, bucket, tmp_path):
    """Under the profile's s3a keys, with no JVM: --dry-run lists the objects of an s3a://
    input, and a live lock on an s3a:// output is exit 3 in one line."""
    profile = _local_profile(tmp_path, s3_server)
    name = bucket.removeprefix("s3a://")
    client = s3_server.client()
    client.upload_file(str(SAMPLE / "jsonl" / "mixed-news.jsonl"), name, "raw/news 1.jsonl")
    rc, out, err = _wait(_driver(profile, ["--input", f"{bucket}/raw/", "--output", f"{bucket}/free", "--dry-run"]))
    assert rc == 0, err[-2000:]
    assert "raw/news 1.jsonl" in out and "1 files" in out

    client.put_object(Bucket=name, Key="held/_lock", Body=json.dumps(
        {"run_id": "far-away", "pid": 1, "host": "elsewhere", "lease_seconds": 300}).encode())
    rc, _out, err = _wait(_driver(profile, ["--input", f"{bucket}/raw/", "--output", f"{bucket}/held", "--dry-run"]))
    errors = [line for line in err.splitlines() if line.startswith("build_corpus: error:")]
    assert rc == 3 and len(errors) == 1, err[-2000:]
    assert f"run 'far-away' is running on this output (lock {bucket}/held/_lock" in errors[0]
    assert "Traceback" not in err and "SparkContext" not in err  # refused before Spark started


def test_two_runs_at_once_on_one_s3_output_one_is_refused_naming_the_other(s3_server, bucket, tmp_path):
    profile = _local_profile(tmp_path, s3_server)
    output = f"{bucket}/both"
    data = str(SAMPLE / "jsonl")
    started = time.monotonic()
    procs = {name: _driver(profile, ["--input", data, "--output", output, "--run-id", name])
             for name in ("run-a", "run-b")}
    results = {}
    for name, proc in procs.items():
        results[name] = (*_wait(proc), time.monotonic() - started)
    codes = sorted(rc for rc, *_ in results.values())
    assert codes == [0, 3], {n: (r[0], r[2][-2000:]) for n, r in results.items()}
    winner = next(n for n, r in results.items() if r[0] == 0)
    loser = next(n for n, r in results.items() if r[0] == 3)
    errors = [line for line in results[loser][2].splitlines() if line.startswith("build_corpus: error:")]
    assert len(errors) == 1 and f"run '{winner}' is running on this output" in errors[0]
    assert f"{output}/_lock" in errors[0]
    assert "Traceback" not in results[loser][2]


def test_a_run_killed_mid_way_on_s3_is_finished_once_by_the_next(s3_server, s3_spark, bucket, tmp_path):
    profile = _local_profile(tmp_path, s3_server)
    output = f"{bucket}/killed"
    data = str(SAMPLE / "jsonl")
    rc, _out, err = _wait(_driver(profile, ["--input", data, "--output", output, "--run-id", "killed"],
                                  CORPUSFORGE_FAILPOINT="after_documents"))
    assert rc == -signal.SIGKILL, err[-2000:]
    assert fs.exists(s3_spark, f"{output}/_lock")  # left behind by the dead driver
    rc, out, err = _wait(_driver(profile, ["--input", data, "--output", output, "--run-id", "next"]))
    assert rc == 0, err[-3000:]
    assert "removed rows of unfinished runs: killed" in out
    docs = read_table(s3_spark, output, "documents")
    assert docs.where("run_id = 'killed'").count() == 0
    assert docs.count() == docs.select("doc_id").distinct().count() > 0
    ledger = read_table(s3_spark, output, "ledger").where("status = 'done'")
    assert [r.run_id for r in ledger.select("run_id").distinct().collect()] == ["next"]
