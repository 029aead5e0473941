"""One line per phase as it starts and as it ends, with counts and time."""
import logging

import pytest

from corpusforge.progress import Phase


def test_phase_lines_and_timings(caplog):
    timings = {}
    with caplog.at_level(logging.INFO, logger="corpusforge.progress"):
        with Phase("ingest", timings, step=2, steps=6) as phase:
            phase.counts.update(files=3, records=5200)
        with pytest.raises(ValueError), Phase("write", timings):
            raise ValueError("disk full")
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "phase 2/6 ingest: started"
    assert lines[1].startswith("phase 2/6 ingest: done in ") and lines[1].endswith(" s (files=3, records=5,200)")
    assert lines[2] == "phase write: started" and lines[3].startswith("phase write: failed after ")
    assert set(timings) == {"ingest", "write"} and all(s >= 0 for s in timings.values())


def test_the_clock_collects_nested_phases_under_their_path():
    from corpusforge.progress import RunClock

    clock = RunClock()
    with clock.collecting():
        with Phase("stages"):
            with Phase("minhash_dedup"):
                with Phase("components"):
                    pass
        with Phase("write"):
            pass
    with Phase("outside"):  # no clock collecting: recorded nowhere
        pass
    assert list(clock.timings) == ["stages/minhash_dedup/components", "stages/minhash_dedup", "stages", "write"]
    assert set(clock.top_level()) == {"stages", "write"}
    assert 0 < clock.coverage() <= 1


def test_process_started_is_the_spark_submit_jvm_when_it_is_our_parent():
    """Under pytest the parent is a shell or pytest, not SparkSubmit: our own start time."""
    import os

    import psutil

    from corpusforge.progress import process_started

    assert process_started() == psutil.Process(os.getpid()).create_time()
