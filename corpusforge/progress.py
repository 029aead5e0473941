"""Where a run's time goes: one log line as each phase starts and one as it ends, and the
seconds of every phase in the run's timings.

The end line carries the phase's counts and wall time::

    12:00:01 INFO corpusforge.progress: phase ingest: started
    12:00:31 INFO corpusforge.progress: phase ingest: done in 30.0 s (files=3, records=52)

Timings are collected by a `RunClock`. Code deep in a run (a stage's connected-components
rounds, an index read) opens a `Phase` without passing anything down: a phase records into the
clock that is collecting, under the path of the phases around it ("stages/minhash_dedup/
components"). The top-level phases follow each other, so their sum is the run's accounted time,
compared with the wall time since the process started (`process_started`): under spark-submit
that is the JVM's start, before Python runs at all.

Example::

    clock = RunClock()
    with clock.collecting():
        with Phase("ingest") as phase:
            records = read(...)
            phase.counts["records"] = n
    clock.timings         # {"ingest": 30.0}
    clock.coverage()      # named top-level phases / wall time since the process started
"""

from __future__ import annotations

import logging
import os
import time
from contextlib import contextmanager
from contextvars import ContextVar

import psutil

log = logging.getLogger(__name__)

_clock: ContextVar["RunClock | None"] = ContextVar("corpusforge_run_clock", default=None)
_path: ContextVar[tuple[str, ...]] = ContextVar("corpusforge_phase_path", default=())


def process_started() -> float:
    """Epoch seconds at which the user's command started: the spark-submit JVM when this Python
    is its driver (the JVM starts first and launches Python), else this process.

    >>> abs(process_started() - time.time()) < 86400 * 365
    True
    """
    me = psutil.Process(os.getpid())
    try:
        parent = me.parent()
        if parent is not None and "org.apache.spark.deploy.SparkSubmit" in " ".join(parent.cmdline()):
            return parent.create_time()
    except psutil.Error:  # the parent is gone or not ours to read: our own start is the best we know
        pass
    return me.create_time()


class RunClock:
    """The timings of one run: seconds per phase path, and the wall time they account for."""

    def __init__(self, started: float | None = None):
        self.started = process_started() if started is None else started  # epoch seconds
        self.timings: dict[str, float] = {}  # phase path → seconds, in the order phases began

    @contextmanager
    def collecting(self):
        """Phases opened inside (in this thread or context) record into this clock."""
        token = _clock.set(self)
        try:
            yield self
        finally:
            _clock.reset(token)

    def add(self, path: str, seconds: float) -> None:
        self.timings[path] = self.timings.get(path, 0.0) + seconds

    def wall(self) -> float:
        """Seconds since the process started."""
        return time.time() - self.started

    def top_level(self) -> dict[str, float]:
        """The phases that follow each other (no '/' in the path): they never overlap."""
        return {path: s for path, s in self.timings.items() if "/" not in path}

    def coverage(self, wall: float | None = None) -> float:
        """Share of the wall time (default: until now) that named top-level phases account for.

        >>> clock = RunClock(started=time.time() - 10.0)
        >>> clock.add("ingest", 6.0); clock.add("ingest/read", 5.0); clock.add("write", 3.5)
        >>> clock.coverage(wall=10.0)
        0.95
        """
        wall = self.wall() if wall is None else wall
        return sum(self.top_level().values()) / wall if wall > 0 else 0.0

    def summary_line(self, wall: float | None = None) -> str:
        """One line: the top-level phases by time, and the share of the wall time they cover.

        >>> clock = RunClock(started=0.0)
        >>> clock.add("startup", 4.0); clock.add("ingest", 5.0); clock.add("ingest/read", 4.5)
        >>> clock.summary_line(wall=10.0)
        'time: ingest 5.0 s, startup 4.0 s; named phases cover 90.0% of 10.0 s'
        """
        wall = self.wall() if wall is None else wall
        top = sorted(self.top_level().items(), key=lambda item: -item[1])
        parts = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in top)
        return f"time: {parts}; named phases cover {100 * self.coverage(wall):.1f}% of {wall:.1f} s"


class Phase:
    """A context manager timing one phase of a run and logging its start and end."""

    def __init__(self, name: str, timings: dict[str, float] | None = None, *, step: int = 0, steps: int = 0):
        self.name = name
        self.timings = timings  # phase → seconds, filled on exit (success or not), besides the clock
        self.counts: dict[str, int] = {}  # shown on the end line, in insertion order
        self.label = f"phase {step}/{steps} {name}" if steps else f"phase {name}"
        self.path = name  # with the enclosing phases' names once entered: "stages/minhash_dedup"
        self.seconds = 0.0
        self._started = 0.0

    def __enter__(self) -> "Phase":
        self.path = "/".join((*_path.get(), self.name))
        self._token = _path.set((*_path.get(), self.name))
        if "/" in self.path and self.label == f"phase {self.name}":
            self.label = f"phase {self.path}"
        log.info("%s: started", self.label)
        self._started = time.monotonic()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.seconds = time.monotonic() - self._started
        _path.reset(self._token)
        if self.timings is not None:
            self.timings[self.name] = self.timings.get(self.name, 0.0) + self.seconds
        clock = _clock.get()
        if clock is not None:
            clock.add(self.path, self.seconds)
        if exc_type is None:
            log.info("%s: done in %.1f s%s", self.label, self.seconds, format_counts(self.counts))
        else:
            log.warning("%s: failed after %.1f s (%s)", self.label, self.seconds, exc_type.__name__)


def format_counts(counts: dict[str, int]) -> str:
    """The end line's counts: ' (files=3, records=52)', or '' when there are none.

    >>> format_counts({"files": 3, "records": 52}), format_counts({})
    (' (files=3, records=52)', '')
    """
    if not counts:
        return ""
    return " (" + ", ".join(f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}" for k, v in counts.items()) + ")"
