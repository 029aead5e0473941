"""One session-scoped local Spark session for every in-process Spark test."""
from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# The suite's own data (tests/data/README.md): real WARC samples, vocabularies, a labelled set.
TEST_DATA = REPO / "tests" / "data"


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    from corpusforge.session import get_session

    warehouse = tmp_path_factory.mktemp("warehouse")
    session = get_session(
        "corpusforge-tests",
        profile="local",
        overrides={
            "spark.master": "local[2]",
            "spark.driver.memory": "2g",
            "spark.sql.shuffle.partitions": "4",
            "spark.sql.warehouse.dir": str(warehouse),
            "spark.default.parallelism": "4",
            "spark.ui.showConsoleProgress": "false",  # no redrawn bar in captured test output
        },
    )
    yield session
    session.stop()


@pytest.fixture(scope="session")
def test_data() -> Path:
    """tests/data: part of the repository, so a test that needs it never skips."""
    return TEST_DATA
