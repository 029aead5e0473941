"""Whole crawl jobs in subprocesses: refusal without a user agent, a crawl killed mid-round and
resumed, then `spark-submit jobs/build_corpus.py` over its WARC files."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from warcio.archiveiterator import ArchiveIterator

from conftest import HOST_A, HOST_B
from testsite import A_TEXT, B_TEXT, GBK_TEXT

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
SETTINGS = ["--set", "crawl.user_agent=corpusforge-test/0.1 (+http://127.0.0.1/)", "--set", "crawl.delay_s=0.3",
            "--set", "crawl.timeout_s=0.8", "--set", "crawl.deadline_s=1.5", "--set", "crawl.max_bytes=65536",
            "--set", "crawl.allow_loopback=true", "--set", "crawl.scope=hosts",
            "--set", f'crawl.hosts=["{HOST_A}", "{HOST_B}"]']


def _run(job: str, args: list[str], *, submit: bool, timeout: int = 1800, **env):
    environment = dict(os.environ, SPARK_LOCAL_IP="127.0.0.1", PYSPARK_PYTHON=sys.executable,
                       PYSPARK_DRIVER_PYTHON=sys.executable, SPARK_CONF_DIR=str(REPO / "spark-conf" / "local"))
    environment.pop("CORPUSFORGE_FAILPOINT", None)
    environment.update(env)
    entry = [str(VENV_BIN / "spark-submit")] if submit else [sys.executable]
    proc = subprocess.Popen(entry + [str(REPO / "jobs" / job), *args], cwd=REPO, env=environment,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        try:  # a killed driver leaves its JVM and Python workers behind
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return proc.returncode, out, err


def _delta_rows(table: Path) -> list[dict]:
    from deltalake import DeltaTable

    files = DeltaTable(str(table)).file_uris()
    return [row for uri in files for row in pq.read_table(uri.removeprefix("file://")).to_pylist()]


def test_no_user_agent_is_refused_before_any_work(tmp_path):
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("http://127.0.0.2/\n")
    rc, _out, err = _run("crawl.py", ["--seeds", str(seeds), "--output", str(tmp_path / "out")], submit=False)
    assert rc == 2
    assert [line for line in err.splitlines() if line.startswith("crawl: error:")] == [
        "crawl: error: crawl.user_agent is required: name your crawler (and a contact URL) so site "
        "owners can tell who is fetching"]
    assert not (tmp_path / "out").exists()


def test_killed_crawl_resumes_and_build_corpus_reads_its_warc(site, tmp_path):
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("# the test site\n" + "\n".join(site.info["seeds"]) + "\n")
    out = tmp_path / "crawl"
    args = ["--seeds", str(seeds), "--output", str(out), "--rounds", "2", *SETTINGS]
    since = time.monotonic()

    rc, _out, err = _run("crawl.py", args, submit=False, CORPUSFORGE_FAILPOINT="crawl_before_updatedb")
    assert rc == -signal.SIGKILL, err[-3000:]
    staged = list((out / "_staging").glob("*/warc/*.warc.gz"))
    assert staged and not list(out.glob("warc/*.warc.gz"))  # fetched, never committed
    killed_hits = sorted(h.path for h in site.hits_of(HOST_A, since) + site.hits_of(HOST_B, since))
    assert killed_hits == ["/", "/", "/robots.txt", "/robots.txt"]

    rc, out_text, err = _run("crawl.py", args, submit=True)
    assert rc == 0, err[-3000:]
    assert "discarded uncommitted round" in out_text
    assert not list((out / "_staging").glob("*/warc/*"))
    seed_fetches = [h for h in site.hits_of(HOST_A, since) if h.path == "/"]
    assert len(seed_fetches) == 2  # fetched by the killed round, then again by the resumed one
    responses = []
    for path in sorted(out.glob("warc/*.warc.gz")):
        with open(path, "rb") as handle:
            responses += [r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(handle)
                          if r.rec_type == "response"]
    assert responses and max(Counter(responses).values()) == 1  # no page counted twice
    crawldb = _delta_rows(out / "crawldb")
    assert sum(1 for r in crawldb if r["status"] == "fetched") >= 10

    corpus = tmp_path / "corpus"
    rc, out_text, err = _run("build_corpus.py", ["--input", str(out / "warc"), "--output", str(corpus),
                                                 "--set", 'pipeline.stages=["normalize", "exact_dedup"]'],
                             submit=True)
    assert rc == 0, err[-3000:]
    documents = _delta_rows(corpus / "documents")
    by_url = {d["url"]: d["text"] for d in documents}
    a, b = site.base(HOST_A), site.base(HOST_B)
    assert A_TEXT in by_url[f"{a}/"] and B_TEXT in by_url[f"{b}/"]
    assert GBK_TEXT in by_url[f"{a}/gbk.html"]
    assert "Row 3 is pruned" in by_url[f"{b}/b3.html"]
    dropped = {(d["url"], d["drop_reason"]) for d in _delta_rows(corpus / "dropped")}
    assert (f"{a}/data", "ingest.not_text") in dropped
    assert (f"{a}/missing.html", "ingest.http_status") in dropped
