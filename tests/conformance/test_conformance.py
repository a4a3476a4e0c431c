"""Runs every case in cases/ against every runtime's adapter (README.md)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.register_assert_rewrite("contract")
from contract import check, closed_port_url  # noqa: E402
from fake_collector import FakeCollector  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CASES = sorted((HERE / "cases").glob("*.json"))
RUNTIMES = ROOT / "runtimes"


@pytest.fixture(scope="session")
def go_adapter(tmp_path_factory):
    out = tmp_path_factory.mktemp("go") / "conformance"
    subprocess.run(["go", "build", "-o", str(out), "./cmd/conformance"],
                   cwd=RUNTIMES / "go", check=True)
    return [str(out)]


def adapter_command(lang, request):
    if lang == "go":
        return request.getfixturevalue("go_adapter")
    if lang == "python":
        return [sys.executable, str(RUNTIMES / "python" / "conformance.py")]
    if lang == "ts":
        node = shutil.which("node")
        assert node, "node is not installed: run scripts/install-deps"
        return [node, str(RUNTIMES / "ts" / "conformance.mjs")]
    if lang == "php":
        php = shutil.which("php")
        assert php, "php is not installed: run scripts/install-deps"
        return [php, str(RUNTIMES / "php" / "conformance.php")]
    raise AssertionError(lang)


@pytest.mark.parametrize("case_path", CASES, ids=[c.stem for c in CASES])
@pytest.mark.parametrize("lang", ["go", "python", "php", "ts"])
def test_case(lang, case_path, request):
    case = json.loads(case_path.read_text())
    with FakeCollector(case.get("collector", []), case.get("refuse")) as fake:
        url = closed_port_url() if case.get("collector_url") == "closed_port" else fake.url
        # the key is the case's config's alone: none from our environment
        env = {k: v for k, v in os.environ.items() if k != "REESTR_KEY"}
        proc = subprocess.run(adapter_command(lang, request) + [str(case_path), url],
                              capture_output=True, text=True, timeout=120, env=env)
        assert proc.returncode == 0, f"adapter failed:\n{proc.stderr}"
        try:
            got = json.loads(proc.stdout)
        except ValueError:
            raise AssertionError(f"adapter printed no JSON:\n{proc.stdout}\n{proc.stderr}")
        requests = list(fake.requests)
    check(case["expect"], got, requests, proc.stderr, case.get("config", {}).get("key"))
