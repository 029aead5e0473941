"""One session-scoped local Spark session for every in-process Spark test, and one S3 server."""
from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

# Every Spark driver the suite starts (the in-process session and each spark-submit) runs small
# inputs: the JIT's first tier only, which spark-conf/local leaves to small runs.
os.environ.setdefault("SPARK_SUBMIT_OPTS", "-XX:TieredStopAtLevel=1")

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


# One S3 server (moto, 127.0.0.1) for every object-storage test of the run (tests/cluster,
# tests/crawl), stopped at the end.
_buckets = itertools.count()


@pytest.fixture(scope="session")
def s3_server():
    pytest.importorskip("moto.server", reason="moto[server] is in the dev extra")
    from corpusforge.localcluster import LocalS3

    server = LocalS3().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_spark(spark, s3_server):
    """The session-wide local Spark session, pointed at the S3 server (s3a keys set at run time:
    no s3a filesystem exists yet, so the first one is created with them)."""
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()
    for key, value in s3_server.spark_conf().items():
        spark.conf.set(key, value)
        hadoop.set(key.removeprefix("spark.hadoop."), value)
    return spark


@pytest.fixture
def bucket(s3_server) -> str:
    """A fresh bucket per test: `s3a://<name>`."""
    return s3_server.create_bucket(f"corpus-{next(_buckets)}")
