"""Fixtures of tests/cluster. `shared_cluster` is one cluster (3 brokers,
ClickHouse) for every test of the session that does not kill or stop parts
of it; tests that do (test_cluster.py, the failure test) start their own."""

import pytest

from clusterlib import Cluster, start_cluster  # noqa: F401


@pytest.fixture(scope="session")
def shared_cluster(tmp_path_factory):
    c = start_cluster(tmp_path_factory.mktemp("shared-cluster"))
    try:
        yield c
    finally:
        c.cmd("down", check=False, timeout=120)
