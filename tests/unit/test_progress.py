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
