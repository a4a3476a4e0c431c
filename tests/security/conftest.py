"""The attack suite's fixtures: the integration tests' `reestr serve`
harness (tests/integration/conftest.py), loaded under another name so
pytest collects tests/security on its own."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "integration_support", ROOT / "tests" / "integration" / "conftest.py")
support = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(support)
# for helpers of tests/integration that import it from "conftest"
# (fault_shim.py)
REESTR = support.REESTR


@pytest.fixture
def make_server(tmp_path):
    servers = []

    def make(registry=support.EXAMPLES, extra_args=(), data=None, dev=True,
             insecure=False):
        s = support.Server(registry, data or tmp_path / f"data{len(servers)}",
                           extra_args, dev, insecure)
        servers.append(s)
        return s.start()

    yield make
    for s in servers:
        s.stop()


# The harness's names, for `from conftest import …` in this suite and in
# the integration helpers its tests share (tests/integration's
# mobile_common.py and test_external.py import them so): under pytest both
# resolve `conftest` to this file. Not its fixtures: this suite's
# make_server asks for keys by default (insecure=False), the integration
# harness's Server does not (insecure=True: --insecure-local).
ROOT = support.ROOT
EXAMPLES = support.EXAMPLES
FIXTURE_REGISTRY = support.FIXTURE_REGISTRY
REESTR = support.REESTR
Server = support.Server
query = support.query
run = support.run
uuid7 = support.uuid7
held_open = support.held_open
now_rfc3339 = support.now_rfc3339
clickstream = support.clickstream
