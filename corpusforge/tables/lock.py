"""The output lock: one writing driver per output, also when the driver and the output are on
different machines (DESIGN.md, commit protocol; Delta's S3 LogStore relies on it).

The lock is the object `<output>/_lock`, on the output's own filesystem, holding JSON that names
the run, its pid and host. It is taken by a create that fails when the object exists:

- local disk: `open(O_CREAT | O_EXCL)`;
- `s3a://`: a conditional PUT (`If-None-Match: *`, hadoop-aws 3.5's
  `fs.option.create.conditional.overwrite`), so of two drivers racing, S3 accepts one;
- any other Hadoop filesystem (HDFS): `create(path, overwrite=false)`, atomic at the NameNode;
  a stale lock is taken over by renaming it aside (atomic) before the create.

A lock is a **lease** of `lease_seconds`: the live run rewrites it every third of that (a daemon
thread), and a lock is expired when the store says it was last written longer ago than its
lease. Ages are judged by the store's clock (the lock's modification time against that of a
probe object written just now), never the driver's, so skewed driver clocks do not matter.
On S3 the renewal is a PUT conditional on the lock's ETag: a run whose lock was taken over
cannot renew, and a run that cannot renew stops — it cancels its Spark jobs and every later
table write of the run raises `LeaseLostError` before it starts.

A lease is not a fencing token: a driver paused longer than its lease (a long GC, a
suspended VM) can wake up after another run took the output over and finish the one Delta
commit it was in. Renewal at a third of the lease and the check before every write keep that
window to one commit.

Who may take a held lock over:
- a holder on this host whose pid is gone: at once (a crashed run);
- an expired lease of any host: only with `break_lock=True` (`--break-lock`), which refuses
  while the lease is live.
Otherwise `RunLockedError` (exit 3) names the lock's URI, its holder and its age.

Example::

    with OutputLock("s3a://bucket/corpus", "run-1", spark=spark):
        ...                              # writes; tables/delta checks `ensure_lease` first
"""
from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from corpusforge.errors import CorpusforgeError, LeaseLostError, RunLockedError
from corpusforge.tables import fs

log = logging.getLogger(__name__)

LOCK_NAME = "_lock"
DEFAULT_LEASE_SECONDS = 300.0  # long enough for a slow store or a GC pause, short enough to wait out
_CONDITIONAL_CREATE = "fs.option.create.conditional.overwrite"  # hadoop-aws: If-None-Match: *
_CONDITIONAL_ETAG = "fs.option.create.conditional.overwrite.etag"  # hadoop-aws: If-Match: <etag>


@dataclass(frozen=True, kw_only=True)
class LockOptions:
    lease_seconds: float = DEFAULT_LEASE_SECONDS  # a holder that has not renewed for this long has lost the output
    break_lock: bool = False  # take over an expired lease of another host (--break-lock)


@dataclass(frozen=True, kw_only=True)
class LockState:
    holder: dict  # the JSON the lock holds ({} when unreadable)
    age_seconds: float  # since the last write of the lock, by the store's clock
    version: str | None  # ETag on S3 (for conditional replace), else None


class _Exists(Exception):
    """The create found the lock already there."""


class _LocalStore:
    """The lock on local disk: O_EXCL create, the local clock is the store's clock."""

    def __init__(self, uri: str):
        self.path = fs.local_path(uri)

    def create(self, data: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            raise _Exists() from None
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)

    def read(self) -> LockState | None:
        try:
            data, mtime = self.path.read_bytes(), self.path.stat().st_mtime
        except FileNotFoundError:
            return None
        return LockState(holder=_parse(data), age_seconds=max(0.0, time.time() - mtime), version=None)

    def replace(self, data: bytes, version: str | None) -> None:
        tmp = self.path.with_name(f"{LOCK_NAME}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, self.path)  # atomic: a reader sees the old or the new holder

    def take_over(self, data: bytes, state: LockState) -> None:
        self.path.unlink(missing_ok=True)
        self.create(data)

    def delete(self) -> None:
        self.path.unlink(missing_ok=True)


class _HadoopStore:
    """The lock on a Hadoop filesystem (s3a://, hdfs://) through the driver's JVM."""

    def __init__(self, spark, uri: str):
        self.spark = spark
        self.uri = uri
        self.fs, self.path = fs.hadoop_fs(spark, uri)
        self.s3 = fs.scheme_of(uri) == "s3a"

    def create(self, data: bytes) -> None:
        try:
            if self.s3:
                builder = self.fs.createFile(self.path).overwrite(False)
                stream = builder.must(_CONDITIONAL_CREATE, "true").build()
            else:
                stream = self.fs.create(self.path, False)
        except Exception as err:
            if self.fs.exists(self.path):
                raise _Exists() from None
            raise CorpusforgeError(f"cannot create the lock {self.uri}: {_java_message(err)}") from None
        try:
            stream.write(bytearray(data))
            stream.close()  # on S3 the conditional PUT happens here
        except Exception as err:
            if self.fs.exists(self.path):
                raise _Exists() from None
            raise CorpusforgeError(f"cannot create the lock {self.uri}: {_java_message(err)}") from None

    def read(self) -> LockState | None:
        if not self.fs.exists(self.path):
            return None
        try:
            status = self.fs.getFileStatus(self.path)
            data = fs._read_all(self.spark, self.fs, self.path)
        except Exception:  # deleted between the calls: the lock is free
            return None
        version = str(status.getEtag()) if self.s3 else None
        return LockState(holder=_parse(data), age_seconds=max(0.0, self._now_ms() - status.getModificationTime()) / 1000,
                         version=version)

    def _now_ms(self) -> int:
        """The store's clock: the modification time of a probe object written just now."""
        probe = self.spark.sparkContext._jvm.org.apache.hadoop.fs.Path(self.uri + ".clock")
        stream = self.fs.create(probe, True)
        stream.write(bytearray(b"clock"))
        stream.close()
        return self.fs.getFileStatus(probe).getModificationTime()

    def replace(self, data: bytes, version: str | None) -> None:
        if self.s3 and version:
            # If-Match on the ETag we wrote: fails when another run took the lock meanwhile.
            stream = self.fs.createFile(self.path).overwrite(True).must(_CONDITIONAL_ETAG, version).build()
        else:
            stream = self.fs.create(self.path, True)
        stream.write(bytearray(data))
        stream.close()

    def take_over(self, data: bytes, state: LockState) -> None:
        if self.s3 and state.version:
            try:  # atomic: of two runs taking over the same stale lock, one wins
                self.replace(data, state.version)
            except Exception:
                raise _Exists() from None
            return
        # HDFS: a delete then a create would let a slower run delete the lock a faster one just
        # took. Rename is atomic and fails once the source is gone, so move the lock aside under
        # a name of our own, check it is the one judged stale, and only then create ours.
        jvm = self.spark.sparkContext._jvm
        aside = jvm.org.apache.hadoop.fs.Path(f"{self.uri}.stale-{uuid.uuid4().hex}")
        if not self.fs.rename(self.path, aside):
            raise _Exists()  # another run moved it first
        moved = _parse(fs._read_all(self.spark, self.fs, aside))
        if moved != state.holder:  # a live lock of the run that took over first: put it back
            if not self.fs.rename(aside, self.path):
                log.error("could not put back the lock %s (left at %s); its holder will stop", self.uri, aside)
            raise _Exists()
        self.fs.delete(aside, False)
        self.create(data)

    def delete(self) -> None:
        self.fs.delete(self.path, False)
        probe = self.spark.sparkContext._jvm.org.apache.hadoop.fs.Path(self.uri + ".clock")
        self.fs.delete(probe, False)


_HELD: dict[str, "OutputLock"] = {}  # output root -> the lock this process holds on it
_HELD_GUARD = threading.Lock()


def ensure_lease(output: str) -> None:
    """Raise LeaseLostError when this process held `output`'s lock and lost it (a write must not start)."""
    with _HELD_GUARD:
        lock = _HELD.get(output.rstrip("/"))
    if lock is not None:
        lock.ensure_held()


class OutputLock:
    """Exclusive hold of an output for one run (a context manager); see the module docstring."""

    def __init__(self, output: str, run_id: str, *, spark=None, options: LockOptions | None = None,
                 on_lost=None):
        self.output = output.rstrip("/")
        self.uri = fs.join(self.output, LOCK_NAME)
        self.run_id = run_id
        self.options = options or LockOptions()
        if self.options.lease_seconds <= 0:
            raise CorpusforgeError(f"lock lease must be positive, got {self.options.lease_seconds}")
        self._store = _LocalStore(self.uri) if fs.is_local(self.uri) else _HadoopStore(spark, self.uri)
        self._on_lost = on_lost  # called once from the renewal thread when the lease is lost
        self._token = uuid.uuid4().hex  # tells this holder from a later run with the same run_id
        self._since = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self._version: str | None = None
        self._lost: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- taking and giving back -------------------------------------------------------------
    def __enter__(self) -> "OutputLock":
        for _attempt in range(3):
            try:
                self._store.create(self._payload())
            except _Exists:
                state = self._store.read()
                if state is None:
                    continue  # released between the create and the read: try again
                try:
                    self._take_over_or_refuse(state)
                except _Exists:
                    continue  # another run took it over first: judge the new holder
            self._version = self._read_version()
            self._start_renewal()
            return self
        raise RunLockedError(f"output {self.output} is busy: could not take the lock {self.uri}")

    def _take_over_or_refuse(self, state: LockState) -> None:
        holder = state.holder
        dead_here = holder.get("host") == socket.gethostname() and not _pid_alive(holder.get("pid"))
        lease = float(holder.get("lease_seconds") or self.options.lease_seconds)
        expired = state.age_seconds > lease
        if dead_here or not holder:
            why = "its process is gone" if holder else "it is unreadable"
        elif expired and self.options.break_lock:
            why = f"its lease expired {state.age_seconds - lease:.0f} s ago (--break-lock)"
        else:
            raise RunLockedError(self._refusal(state, lease, expired))
        log.warning("taking over the lock %s of run %s: %s", self.uri, holder.get("run_id"), why)
        self._store.take_over(self._payload(), state)

    def _refusal(self, state: LockState, lease: float, expired: bool) -> str:
        return _refusal(self.output, self.uri, self.options, state, lease, expired)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        with _HELD_GUARD:
            if _HELD.get(self.output) is self:
                del _HELD[self.output]
        if self._lost:
            return  # someone else holds it now: never delete their lock
        state = self._store.read()
        if state and state.holder.get("token") == self._token:
            self._store.delete()

    # -- the lease ------------------------------------------------------------------------
    def ensure_held(self) -> None:
        """Raise LeaseLostError when the lease could not be renewed (called before each write)."""
        if self._lost:
            raise LeaseLostError(f"run {self.run_id!r} lost the lock {self.uri}: {self._lost}; "
                                 "it stopped writing, and the next run over these inputs redoes it")

    def renew(self) -> None:
        """Rewrite the lock if this run still holds it; else mark the lease lost."""
        state = self._store.read()
        self._check_ours(state)
        try:
            self._store.replace(self._payload(), state.version)
        except Exception as err:
            # On S3 a take-over between the read and the conditional PUT fails the PUT (412):
            # name the new holder rather than the store's error.
            self._check_ours(self._store.read())
            raise LeaseLostError(f"could not renew the lock: {_java_message(err)}") from None
        self._version = self._read_version()

    def _check_ours(self, state: LockState | None) -> None:
        if state is None or state.holder.get("token") != self._token:
            other = (state.holder.get("run_id") if state else None) or "nobody"
            raise LeaseLostError(f"the lock is now held by {other!r}")

    def _start_renewal(self) -> None:
        with _HELD_GUARD:
            _HELD[self.output] = self
        self._thread = threading.Thread(target=self._renew_loop, name=f"lease-{self.run_id}", daemon=True)
        self._thread.start()

    def _renew_loop(self) -> None:
        interval = self.options.lease_seconds / 3
        while not self._stop.wait(interval):
            try:
                self.renew()
            except Exception as err:  # any failure to renew ends the run's right to write
                self._lost = str(err).splitlines()[0] if str(err) else type(err).__name__
                log.error("lease of %s lost: %s; stopping the run", self.uri, self._lost)
                if self._on_lost is not None:
                    try:
                        self._on_lost()
                    except Exception:  # stopping is best effort; ensure_held still refuses writes
                        log.exception("could not cancel the run's jobs")
                return

    def _read_version(self) -> str | None:
        state = self._store.read()
        return state.version if state else None

    def _payload(self) -> bytes:
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        return json.dumps({"run_id": self.run_id, "pid": os.getpid(), "host": socket.gethostname(),
                           "since": self._since,
                           "renewed": now, "lease_seconds": self.options.lease_seconds,
                           "token": self._token}).encode("utf-8")


def peek(output: str, options: LockOptions | None = None, s3: dict | None = None) -> None:
    """Before the JVM: raise RunLockedError when the output's lock is held by a live run.

    A local output is read directly, an `s3a://` one with pyarrow and the run's S3 options
    (`ingest/remote.s3_options`); other schemes are judged when the lock is taken. Without the
    store's clock, a remote lock's age here is by this machine's: so with --break-lock the
    judgement is left to the taking, which uses the store's."""
    options = options or LockOptions()
    uri = fs.join(output.rstrip("/"), LOCK_NAME)
    if fs.is_local(output):
        state = _LocalStore(uri).read()
    elif fs.scheme_of(output) == "s3a" and s3 is not None and not options.break_lock:
        state = _read_with_pyarrow(uri, s3)
    else:
        return
    if state is None:
        return
    holder = state.holder
    if holder and not (holder.get("host") == socket.gethostname() and not _pid_alive(holder.get("pid"))):
        lease = float(holder.get("lease_seconds") or options.lease_seconds)
        expired = state.age_seconds > lease
        if not (expired and options.break_lock):
            raise RunLockedError(_refusal(output.rstrip("/"), uri, options, state, lease, expired))


def _refusal(output: str, uri: str, options: LockOptions, state: LockState, lease: float, expired: bool) -> str:
    holder = state.holder
    head = (f"output {output} is busy: run {holder.get('run_id')!r} is running on this output "
            f"(lock {uri}, pid {holder.get('pid')} on {holder.get('host')}, since {holder.get('since') or '?'}, "
            f"last renewed {state.age_seconds:.0f} s ago, lease {lease:.0f} s)")
    if expired:
        return head + "; its lease has expired: rerun with --break-lock to take the output over"
    if options.break_lock:
        return head + "; --break-lock refused: the lease is live"
    return head


def _read_with_pyarrow(uri: str, s3: dict) -> LockState | None:
    from pyarrow import fs as pafs

    from corpusforge.ingest.remote import open_filesystem

    try:
        filesystem, path = open_filesystem(uri, s3)
        info = filesystem.get_file_info(path)
        if info.type != pafs.FileType.File:
            return None
        with filesystem.open_input_stream(path) as stream:
            data = stream.read()
    except OSError as err:  # unreachable or refused here: the taking, through Spark, decides
        log.debug("cannot peek at %s: %s", uri, err)
        return None
    age = time.time() - info.mtime.timestamp() if info.mtime else 0.0
    return LockState(holder=_parse(data), age_seconds=max(0.0, age), version=None)


def _parse(data: bytes) -> dict:
    try:
        holder = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}


def _pid_alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, TypeError, ValueError):
        return True  # exists but not ours, or no pid recorded: assume it runs
    return True


def _java_message(err: Exception) -> str:
    text = str(err)
    for line in text.splitlines():
        if "Exception" in line and ":" in line:
            return line.strip()
    return text.splitlines()[0] if text else type(err).__name__


def preflight(output: str, options: LockOptions | None = None, conf: dict[str, str] | None = None) -> None:
    """Before the JVM: the output's scheme and jars are usable (exit 2) and no live run holds
    it (exit 3; local disk and s3a://). `conf`: the run's Spark settings (`session.launch_conf`)."""
    from corpusforge.ingest.remote import s3_options
    from corpusforge.session import launch_conf

    conf = launch_conf() if conf is None else conf
    fs.check_output_uri(output, conf)
    peek(output, options, s3_options(conf))


def check_filesystem(spark, output: str) -> None:
    """Once Spark runs: its Hadoop client has a filesystem for the output's scheme (exit 2)."""
    from corpusforge.errors import EnvironmentProblem

    if fs.is_local(output):
        return
    try:
        fs.hadoop_fs(spark, output)
    except Exception as err:
        raise EnvironmentProblem(f"--output {output}: Spark cannot open this filesystem "
                                 f"({_java_message(err)}); check the profile's jars and s3a keys") from None
