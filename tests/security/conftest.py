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
