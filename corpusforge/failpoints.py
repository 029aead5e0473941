"""Crash points for the commit-protocol tests.

`CORPUSFORGE_FAILPOINT=<name>` makes a run kill itself with SIGKILL at that point, so a test
can check that an interrupted run is never counted half. Unset (every normal run), each
point costs one environment lookup. Points: `documents_write` (inside a task, while the
documents table is being written), `after_documents`, `after_dropped` (between tables),
`before_commit` (all tables written, ledger not yet done).
"""
from __future__ import annotations

import os
import signal
from typing import Iterator

ENV = "CORPUSFORGE_FAILPOINT"


def hit(name: str) -> None:
    """Kill this process (the driver) when failpoint `name` is armed."""
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def in_task(df, name: str):
    """`df` unchanged, or, when `name` is armed, a frame whose first task kills the JVM."""
    if os.environ.get(ENV) != name:
        return df

    def kill_jvm(batches: Iterator) -> Iterator:
        for batch in batches:
            yield batch
            import psutil

            # A Python worker's parent is PySpark's daemon, whose parent is the JVM.
            jvm = psutil.Process(os.getppid()).ppid()
            os.kill(jvm, signal.SIGKILL)

    return df.mapInArrow(kill_jvm, df.schema)
