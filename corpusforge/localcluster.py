"""A Spark standalone cluster and an S3-compatible server on 127.0.0.1, for `make cluster-demo`
and tests/cluster: the same pieces a real deployment has (a master, workers that start
executors, an object store), all on loopback, all stopped by whoever started them.

- `LocalS3`: moto's S3 server (in memory) on 127.0.0.1 and a free port; `spark_conf()` gives
  the s3a keys a profile would carry for it, `storage_options()` the same for delta-rs.
- `StandaloneCluster`: the pip pyspark ships `bin/spark-class` and `sbin/spark-daemon.sh` but
  not `start-master.sh`, so the Master and Worker classes are started by name, with their pid,
  log and work directories under one directory of the caller.
- `pack_environment`: the packed virtualenv the executors unpack (`spark.archives`), built
  from the corpus dependencies only (no torch, no pyspark: the workers' Spark brings its own).

Example::

    with LocalS3() as s3, StandaloneCluster(workdir, workers=2) as cluster:
        s3.create_bucket("corpus")
        submit(..., master=cluster.master_url, conf=s3.spark_conf())
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import zipfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from corpusforge.errors import EnvironmentProblem

LOOPBACK = "127.0.0.1"
_ACCESS_KEY = "corpusforge"  # moto accepts any key; fixed ones keep commands readable
_SECRET_KEY = "corpusforge-secret"
_REGION = "us-east-1"
MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


class LocalS3:
    """moto's S3 server on 127.0.0.1 (a context manager); everything lives in its memory.

    It runs as a child process of its own (`python -m moto.server`), not a thread: a thread
    would share the GIL with the Spark driver that talks to it.
    """

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.endpoint = f"http://{LOOPBACK}:{self.port}"
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> "LocalS3":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> "LocalS3":
        self._process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", LOOPBACK, "-p", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            preexec_fn=_die_with_parent)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise EnvironmentProblem(f"the S3 server (moto) exited with {self._process.returncode}")
            try:
                with socket.create_connection((LOOPBACK, self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise EnvironmentProblem(f"the S3 server (moto) did not listen on {self.endpoint} within 60 s")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=_ACCESS_KEY,
                            aws_secret_access_key=_SECRET_KEY, region_name=_REGION)

    def create_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return f"s3a://{name}"

    def spark_conf(self) -> dict[str, str]:
        """The s3a keys for this server (the commented block of every spark-conf profile)."""
        return {
            "spark.hadoop.fs.s3a.endpoint": self.endpoint,
            "spark.hadoop.fs.s3a.endpoint.region": _REGION,
            "spark.hadoop.fs.s3a.path.style.access": "true",
            "spark.hadoop.fs.s3a.connection.ssl.enabled": "false",
            "spark.hadoop.fs.s3a.aws.credentials.provider": "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
            "spark.hadoop.fs.s3a.access.key": _ACCESS_KEY,
            "spark.hadoop.fs.s3a.secret.key": _SECRET_KEY,
        }

    def storage_options(self) -> dict[str, str]:
        """The same server for delta-rs (`DeltaTable(uri, storage_options=...)`)."""
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_REGION": _REGION,
                "AWS_ACCESS_KEY_ID": _ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": _SECRET_KEY,
                "AWS_ALLOW_HTTP": "true", "AWS_S3_ALLOW_UNSAFE_RENAME": "true"}


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM it when its parent dies (a killed test or demo
    must not leave the server behind). Linux only; elsewhere `stop()` is the only stop."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def spark_home() -> Path:
    """The pip pyspark's SPARK_HOME (it holds bin/spark-class and sbin/spark-daemon.sh)."""
    import pyspark

    home = Path(pyspark.__file__).resolve().parent
    if not (home / "sbin" / "spark-daemon.sh").is_file():
        raise EnvironmentProblem(f"no sbin/spark-daemon.sh under {home}: pyspark is not the pip package")
    return home


@dataclass(frozen=True, kw_only=True)
class ClusterParams:
    workers: int = 2  # Worker daemons, one host (127.0.0.1)
    cores: int = 1  # cores each worker offers
    memory: str = "1g"  # memory each worker offers to executors
    daemon_memory: str = "512m"  # heap of the Master and Worker JVMs themselves


class StandaloneCluster:
    """A Spark standalone master and workers on 127.0.0.1 (a context manager)."""

    def __init__(self, workdir: Path, params: ClusterParams | None = None):
        self.workdir = Path(workdir)
        self.params = params or ClusterParams()
        self.port = free_port()
        self.webui_port = free_port()
        self.master_url = f"spark://{LOOPBACK}:{self.port}"
        self._started: list[tuple[str, int]] = []  # (class, instance) to stop

    def __enter__(self) -> "StandaloneCluster":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        # Executors inherit the Worker's environment: without this, they could import the
        # driver's checkout or venv, and the packed environment would go untested.
        for key in ("PYTHONPATH", "PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON", "VIRTUAL_ENV", "PYTHONHOME"):
            env.pop(key, None)
        env.update(SPARK_HOME=str(spark_home()), SPARK_LOCAL_IP=LOOPBACK, SPARK_MASTER_HOST=LOOPBACK,
                   SPARK_PID_DIR=str(self.workdir / "pids"), SPARK_LOG_DIR=str(self.workdir / "logs"),
                   SPARK_WORKER_DIR=str(self.workdir / "work"), SPARK_DAEMON_MEMORY=self.params.daemon_memory,
                   SPARK_IDENT_STRING="corpusforge")
        # The daemons must not read the user's profile (SPARK_CONF_DIR) or a stray spark-env.sh.
        env["SPARK_CONF_DIR"] = str(self.workdir / "conf")
        return env

    def _daemon(self, action: str, klass: str, instance: int, *args: str) -> None:
        script = spark_home() / "sbin" / "spark-daemon.sh"
        done = subprocess.run(["bash", str(script), action, klass, str(instance), *args], env=self.env(),
                              capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0 and action == "start":
            raise EnvironmentProblem(f"cannot start {klass} {instance}: {(done.stderr or done.stdout).strip()[-500:]}")

    def start(self) -> "StandaloneCluster":
        for sub in ("pids", "logs", "work", "conf"):
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
        self._started.append((MASTER_CLASS, 1))
        self._daemon("start", MASTER_CLASS, 1, "--host", LOOPBACK, "--port", str(self.port),
                     "--webui-port", str(self.webui_port))
        self._wait(lambda state: state is not None, "the master's web UI")
        for i in range(1, self.params.workers + 1):
            self._started.append((WORKER_CLASS, i))
            self._daemon("start", WORKER_CLASS, i, "--host", LOOPBACK, "--cores", str(self.params.cores),
                         "--memory", self.params.memory, "--webui-port", str(free_port()), self.master_url)
        self._wait(lambda state: (state or {}).get("aliveworkers", 0) >= self.params.workers,
                   f"{self.params.workers} alive workers")
        return self

    def job_conf(self) -> dict[str, str]:
        """Settings that size a job to this small cluster, on top of the standalone profile (which
        is sized for a real one): the profile's 64 shuffle partitions and Delta's 50 snapshot
        partitions are each a wave of tiny tasks on 2 one-core executors, and these short-lived
        executors, like the driver, gain nothing from the JIT's optimizing tier."""
        cores = self.params.workers * self.params.cores
        return {"spark.sql.shuffle.partitions": str(2 * cores),
                "spark.databricks.delta.snapshotPartitions": str(cores),
                "spark.executor.extraJavaOptions": "-XX:TieredStopAtLevel=1"}

    def state(self) -> dict | None:
        """The master's JSON status (workers, applications), or None when it does not answer."""
        try:
            with urllib.request.urlopen(f"http://{LOOPBACK}:{self.webui_port}/json/", timeout=5) as response:
                return json.loads(response.read())
        except OSError:
            return None

    def _wait(self, ready, what: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready(self.state()):
                return
            time.sleep(1)
        logs = "\n".join(p.read_text(errors="replace")[-1500:] for p in (self.workdir / "logs").glob("*.out"))
        raise EnvironmentProblem(f"standalone cluster: no {what} after {timeout:.0f} s; logs:\n{logs}")

    def daemon_pids(self) -> list[int]:
        """Pids of the Master and Worker JVMs this cluster started."""
        pids = []
        for pid_file in (self.workdir / "pids").glob("*.pid"):
            try:
                pids.append(int(pid_file.read_text().strip()))
            except ValueError:
                continue
        return pids

    def executor_pids(self) -> list[int]:
        """Pids of the executor JVMs running under this cluster's workers (their children)."""
        workers = [pid for pid_file in (self.workdir / "pids").glob(f"*{WORKER_CLASS}*.pid")
                   for pid in [_read_pid(pid_file)] if pid]
        found = []
        for worker in workers:
            for child in _children(worker):
                if "CoarseGrainedExecutorBackend" in _cmdline(child):
                    found.append(child)
        return found

    def stop(self) -> None:
        """Stop every daemon this cluster started, workers first; kill what does not stop."""
        for klass, instance in reversed(self._started):
            self._daemon("stop", klass, instance)
        self._started.clear()
        for pid in self.daemon_pids():  # a daemon that ignored the stop: its pid file is still there
            _kill_tree(pid)


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _children(pid: int) -> list[int]:
    """Every descendant of `pid` (from /proc)."""
    out, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        children = []
        # A JVM starts processes from other threads than its main one: read every thread's list.
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children += (task / "children").read_text().split()
            except OSError:
                continue
        for child in map(int, children):
            out.append(child)
            frontier.append(child)
    return out


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _kill_tree(pid: int) -> None:
    for victim in [*_children(pid), pid]:
        try:
            os.kill(victim, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


# Packages of the venv that never go into the packed environment: the trainer's (torch, and
# transformers, which only the trainer imports: 117 MB), the driver-side Spark client (workers
# run their own Spark's pyspark), delta-rs (the driver and trainers read tables with it;
# executors never do, and it is 130 MB), the run report's charts (matplotlib, drawn on the
# driver) and datasketch (a benchmark peer that corpusforge never imports; it brings scipy,
# 143 MB). Every executor unpacks the archive, so each MB left out is paid once less per executor.
_NOT_PACKED = {"torch", "transformers", "pyspark", "py4j", "delta-spark", "deltalake", "matplotlib", "datasketch"}


def corpus_distributions() -> list:
    """The installed distributions of corpusforge's install dependencies and theirs, without
    the packages in _NOT_PACKED (and what only they need)."""
    from importlib import metadata

    from packaging.requirements import Requirement

    wanted: dict[str, metadata.Distribution] = {}
    todo = [Requirement(r) for r in (metadata.requires("corpusforge") or [])]
    while todo:
        req = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        name = req.name.lower().replace("_", "-")
        if name in wanted or name in _NOT_PACKED:
            continue
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            continue
        wanted[name] = dist
        todo.extend(Requirement(r) for r in (dist.requires or []))
    return [wanted[name] for name in sorted(wanted)]


def pack_environment(dest: Path, *, repo: Path, python: str = sys.executable, workdir: Path | None = None) -> Path:
    """Build `dest` (.tar.gz): a venv with corpusforge (from `repo`, not editable) and its corpus
    dependencies, for `spark.archives dest#environment`.

    The dependencies are the files this venv already installed (each distribution's RECORD),
    linked or copied into a fresh venv: the same versions, with no download or build. `dest` is
    reused while it is newer than the package sources.
    """
    dest = Path(dest).resolve()
    repo = Path(repo).resolve()
    sources = [*(repo / "corpusforge").rglob("*.py"), repo / "setup.cfg", *(repo / "schemas").glob("*.json")]
    if dest.is_file() and dest.stat().st_mtime > max(p.stat().st_mtime for p in sources):
        return dest
    venv = Path(workdir or dest.parent / "pack-env").resolve()
    shutil.rmtree(venv, ignore_errors=True)
    # no pip or setuptools: executors install nothing
    subprocess.run([python, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    for dist in corpus_distributions():
        _place_files(dist, site)
    # corpusforge itself as its wheel builds it (schemas inside), unpacked: a wheel is a zip of
    # the site-packages tree
    wheels = venv / "wheels"
    built = subprocess.run([python, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                            str(wheels), str(repo)], capture_output=True, text=True, cwd=venv, check=False)
    if built.returncode != 0:
        raise EnvironmentProblem(f"cannot build the corpusforge wheel: {built.stderr.strip()[-800:]}")
    for wheel in wheels.glob("corpusforge-*.whl"):
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(site)
    shutil.rmtree(wheels)
    tmp = dest.with_name(dest.name + ".tmp")
    dest.parent.mkdir(parents=True, exist_ok=True)
    # GNU tar, not tarfile: several times faster on the venv's tens of thousands of files.
    subprocess.run(["tar", "-C", str(venv), "--use-compress-program=gzip -1", "-cf", str(tmp),
                    "--exclude=__pycache__", "."], check=True)
    os.replace(tmp, dest)
    return dest


def _place_files(dist, site: Path) -> None:
    """The files of an installed distribution under `site`, hard-linked where the filesystem
    allows (never written to: the venv is only archived), else copied. Files its RECORD puts
    outside site-packages (console scripts in bin/) and bytecode caches are left out."""
    for entry in dist.files or []:
        if entry.parts[0] == ".." or "__pycache__" in entry.parts:
            continue
        source = Path(dist.locate_file(entry))
        if not source.is_file():
            continue
        target = site / entry
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, target)
        except OSError:  # another filesystem
            shutil.copy2(source, target)


if __name__ == "__main__":  # `make pack`: python -m corpusforge.localcluster [DEST]
    _repo = Path(__file__).resolve().parent.parent
    _dest = pack_environment(Path(sys.argv[1] if len(sys.argv) > 1 else _repo / "build" / "corpusforge-env.tar.gz"),
                             repo=_repo)
    print(f"{_dest} ({_dest.stat().st_size / 1e6:.0f} MB)")
