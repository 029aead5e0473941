"""One standalone cluster (a master and two 1-core workers on 127.0.0.1) for the cluster tests,
stopped at the end. The S3 server's fixtures (s3_server, s3_spark, bucket) are in
tests/conftest.py: tests/crawl uses the same one server."""
from __future__ import annotations

import pytest

from corpusforge.localcluster import ClusterParams, StandaloneCluster


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    with StandaloneCluster(tmp_path_factory.mktemp("cluster"), ClusterParams(workers=2, cores=1, memory="1g")) as running:
        yield running
