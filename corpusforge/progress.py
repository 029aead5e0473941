"""Progress a person can follow during a run: one log line as each phase starts, one as it ends.

The end line carries the phase's counts and wall time, and the time goes into the run's
timings (the `stats` rows with metric `seconds`, the report's "time per phase")::

    12:00:01 INFO corpusforge.progress: phase 2/6 ingest: started
    12:00:31 INFO corpusforge.progress: phase 2/6 ingest: done in 30.0 s (files=3, records=52)

Spark's own console progress bar, where spark-submit shows one (spark-conf/local), draws the
tasks of the phase in between.

Example::

    timings = {}
    with Phase("ingest", timings, step=2, steps=6) as phase:
        records = read(...)
        phase.counts["records"] = n
"""
from __future__ import annotations

import logging
import time

log = logging.getLogger(__name__)


class Phase:
    """A context manager timing one phase of a run and logging its start and end."""

    def __init__(self, name: str, timings: dict[str, float] | None = None, *, step: int = 0, steps: int = 0):
        self.name = name
        self.timings = timings  # phase → seconds, filled on exit (success or not)
        self.counts: dict[str, int] = {}  # shown on the end line, in insertion order
        self.label = f"phase {step}/{steps} {name}" if steps else f"phase {name}"
        self.seconds = 0.0
        self._started = 0.0

    def __enter__(self) -> "Phase":
        log.info("%s: started", self.label)
        self._started = time.monotonic()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.seconds = time.monotonic() - self._started
        if self.timings is not None:
            self.timings[self.name] = self.timings.get(self.name, 0.0) + self.seconds
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
