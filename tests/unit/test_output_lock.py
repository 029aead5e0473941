"""The output lock on a local disk (no JVM): refusal with exit 3, takeover rules, the lease,
and the checks of an output URI that come before any work."""
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from corpusforge.errors import ConfigError, EnvironmentProblem, LeaseLostError, RunLockedError
from corpusforge.tables.fs import check_output_uri
from corpusforge.tables.lock import LockOptions, OutputLock, _Exists, ensure_lease, peek

REPO = Path(__file__).resolve().parents[2]


def _holder(out: Path, age: float = 0.0, **fields) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    lock = out / "_lock"
    lock.write_text(json.dumps(fields))
    stamp = time.time() - age
    os.utime(lock, (stamp, stamp))
    return lock


def test_a_second_run_is_refused_with_exit_3_naming_the_lock_and_holder(tmp_path):
    with OutputLock(str(tmp_path / "out"), "first"):
        with pytest.raises(RunLockedError) as refused:
            with OutputLock(str(tmp_path / "out"), "second"):
                pass
        with pytest.raises(RunLockedError):
            peek(str(tmp_path / "out"))  # the before-the-JVM check says the same
    assert refused.value.exit_code == 3
    message = str(refused.value)
    assert "run 'first' is running on this output" in message
    assert f"lock {tmp_path / 'out' / '_lock'}" in message and f"pid {os.getpid()}" in message
    assert not (tmp_path / "out" / "_lock").exists()


def test_a_dead_process_on_this_host_is_taken_over_at_once(tmp_path):
    _holder(tmp_path / "out", run_id="ghost", pid=2**22 + 7, host=socket.gethostname(), lease_seconds=300)
    peek(str(tmp_path / "out"))  # no refusal
    with OutputLock(str(tmp_path / "out"), "r1"):
        assert json.loads((tmp_path / "out" / "_lock").read_text())["run_id"] == "r1"


def test_another_hosts_lease_is_broken_only_when_expired_and_asked(tmp_path):
    out = str(tmp_path / "out")
    _holder(tmp_path / "out", age=600, run_id="far", pid=1, host="elsewhere", lease_seconds=300)
    with pytest.raises(RunLockedError, match="expired: rerun with --break-lock"):
        with OutputLock(out, "r1"):
            pass
    with OutputLock(out, "r2", options=LockOptions(break_lock=True)):
        assert json.loads((tmp_path / "out" / "_lock").read_text())["run_id"] == "r2"
    _holder(tmp_path / "out", age=10, run_id="far", pid=1, host="elsewhere", lease_seconds=300)
    with pytest.raises(RunLockedError, match="--break-lock refused: the lease is live"):
        with OutputLock(out, "r3", options=LockOptions(break_lock=True)):
            pass


def test_the_lease_is_renewed_and_its_loss_stops_writes(tmp_path):
    out = str(tmp_path / "out")
    lost = []
    with OutputLock(out, "r1", options=LockOptions(lease_seconds=0.6), on_lost=lambda: lost.append(1)):
        lock = tmp_path / "out" / "_lock"
        os.utime(lock, (0, 0))
        time.sleep(0.5)
        assert lock.stat().st_mtime > 0  # rewritten by the renewal thread
        ensure_lease(out)
        lock.write_text(json.dumps({"run_id": "thief", "pid": 1, "host": "elsewhere"}))
        time.sleep(0.6)
        assert lost == [1]
        with pytest.raises(LeaseLostError, match="held by 'thief'"):
            ensure_lease(out)
    assert json.loads(lock.read_text())["run_id"] == "thief"  # never delete another run's lock


def test_a_take_over_between_renewal_read_and_write_names_the_new_holder(tmp_path):
    """On S3 the renewal's conditional PUT fails (412) when another run took the lock after the
    renewal read it; the loss must name that run, not the store's error."""
    out = str(tmp_path / "out")
    lock = OutputLock(out, "r1", options=LockOptions(lease_seconds=300))
    with lock:
        def taken_meanwhile(data, version):
            (tmp_path / "out" / "_lock").write_text(json.dumps({"run_id": "thief", "pid": 1, "host": "elsewhere"}))
            raise OSError("PreconditionFailed (412)")

        lock._store.replace = taken_meanwhile
        with pytest.raises(LeaseLostError, match="held by 'thief'"):
            lock.renew()


def test_a_take_over_lost_to_a_faster_run_is_refused_naming_it(tmp_path):
    _holder(tmp_path / "out", age=600, run_id="far", pid=1, host="elsewhere", lease_seconds=300)
    lock = OutputLock(str(tmp_path / "out"), "slow", options=LockOptions(break_lock=True))

    def beaten(data, state):  # the faster run's take-over lands first
        _holder(tmp_path / "out", run_id="fast", pid=os.getpid(), host=socket.gethostname(), lease_seconds=300)
        raise _Exists()

    lock._store.take_over = beaten
    with pytest.raises(RunLockedError, match="run 'fast' is running on this output"):
        with lock:
            pass


def test_output_uris_are_checked_before_any_work(tmp_path):
    with pytest.raises(ConfigError, match="unknown scheme 'gs'"):
        check_output_uri("gs://bucket/out", {})
    with pytest.raises(ConfigError, match="use s3a://"):
        check_output_uri("s3://bucket/out", {})
    with pytest.raises(EnvironmentProblem, match="needs the hadoop-aws jar in spark.jars .* run `make jars`"):
        check_output_uri("s3a://bucket/out", {"spark.jars": str(tmp_path / "empty" / "*.jar")})
    jars = tmp_path / "lib"
    jars.mkdir()
    (jars / "hadoop-aws-3.5.0.jar").write_bytes(b"")
    check_output_uri("s3a://bucket/out", {"spark.jars": f"{jars}/*.jar"})
    check_output_uri("s3a://bucket/out", {"spark.jars.packages": "org.apache.hadoop:hadoop-aws:3.5.0"})
    check_output_uri(str(tmp_path / "out"), {})
    check_output_uri("hdfs://namenode/corpus", {})


def test_the_wheel_carries_the_schemas(tmp_path):
    """setup.py's build step copies schemas/*.json into corpusforge/schema_files/."""
    subprocess.run([sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(tmp_path)],
                   cwd=REPO, check=True, capture_output=True)
    shipped = sorted(p.name for p in (tmp_path / "corpusforge" / "schema_files").glob("*.json"))
    assert shipped == sorted(p.name for p in (REPO / "schemas").glob("*.json"))
