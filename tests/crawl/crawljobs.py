"""What the crawl tests share: the crawl settings for the loopback site, and whole jobs run in
a subprocess (their own JVM), always killed with their process group at the end."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

# Test modules import these from here, never from `conftest`: several conftest.py files share
# that module name, and which one it is depends on what pytest loaded last.
HOST_A, HOST_B = "127.0.0.2", "127.0.0.3"
CRAWL_DELAY_A = 0.2  # host A's robots.txt Crawl-delay: above the tests' delay_s, so it must win
REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent

# Small waits and limits, so a round takes seconds; still above what the server needs, and the
# stalled (3 s) and dripping (8 s) pages still outlast timeout_s and deadline_s.
SETTINGS = [
    "crawl.user_agent=corpusforge-test/0.1 (+http://127.0.0.1/)", "crawl.delay_s=0.1",
    "crawl.timeout_s=0.8", "crawl.deadline_s=1.5", "crawl.max_bytes=65536",
    "crawl.allow_loopback=true", "crawl.scope=hosts", f'crawl.hosts=["{HOST_A}", "{HOST_B}"]',
    "crawl.retry_delay_s=0", "crawl.fetch_tasks=2",
]


def set_args(settings: list[str]) -> list[str]:
    return [arg for setting in settings for arg in ("--set", setting)]


def run_job(job: str, args: list[str], *, submit: bool, timeout: int = 900, **env) -> tuple[int, str, str]:
    """Run `jobs/<job>` (with spark-submit, or plain python); (exit code, stdout, stderr)."""
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


def delta_rows(table: Path) -> list[dict]:
    """A local Delta table's rows through delta-rs's file list (no JVM; STACK.md: pyarrow reads)."""
    import pyarrow.parquet as pq
    from deltalake import DeltaTable

    files = DeltaTable(str(table)).file_uris()
    return [row for uri in files for row in pq.read_table(uri.removeprefix("file://")).to_pylist()]


def warc_responses(paths) -> list[str]:
    """WARC-Target-URI of every response record in the given WARC files."""
    from warcio.archiveiterator import ArchiveIterator

    found = []
    for path in sorted(paths):
        with open(path, "rb") as handle:
            found += [r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(handle)
                      if r.rec_type == "response"]
    return found
