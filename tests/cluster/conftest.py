"""One S3 server (moto, 127.0.0.1) for every object-storage test, and one standalone cluster
(a master and two 1-core workers on 127.0.0.1) for the cluster tests; both stopped at the end."""
from __future__ import annotations

import itertools

import pytest

from corpusforge.localcluster import ClusterParams, LocalS3, StandaloneCluster

_buckets = itertools.count()


@pytest.fixture(scope="session")
def s3_server():
    pytest.importorskip("moto.server", reason="moto[server] is in the dev extra")
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


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    with StandaloneCluster(tmp_path_factory.mktemp("cluster"), ClusterParams(workers=2, cores=1, memory="1g")) as running:
        yield running
