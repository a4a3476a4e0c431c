"""The senders' contract (tests/conformance) in headless Chromium: every
case of tests/conformance/cases, run by the TypeScript runtime's compiled
dist/ inside a page (pages/conformance.html imports it and
runtimes/ts/conformance-steps.mjs, the steps the Node adapter runs too),
against the same fake collector and checked by the same function as the
Node, Go, Python and PHP adapters. The fake collector serves the page and
the runtime itself, so the page is on the collector's origin (CORS is
test_browser.py's part). The browser's console stands for the adapter's
stderr: the sender's default logger is console.warn.

Every case applies in a browser: none needs a process to exit or a file
(the page gets the case in its URL), and the one that points the sender
at a closed port is a network error to Chromium's fetch as to Node's. One
expectation differs, for a reason named in BROWSER_DIFFERS and printed in
the run's summary (conftest.py), and what stands in its place is checked."""

import json
import os
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CONFORMANCE = ROOT / "tests" / "conformance"
sys.path.insert(0, str(CONFORMANCE))
# the contract's checks and its closed-port URL, as every runtime's
pytest.register_assert_rewrite("contract")
import contract as suite  # noqa: E402
from fake_collector import FakeCollector  # noqa: E402

CASES = sorted((CONFORMANCE / "cases").glob("*.json"))
CHROMIUM = os.environ.get("REESTR_CHROMIUM", "/usr/bin/chromium")
NODE_MODULES = Path(os.environ.get(
    "REESTR_NODE_MODULES", ROOT / "tools" / "node" / "node_modules"))
FILES = {"/runtime/": ROOT / "runtimes" / "ts", "/page/": HERE / "pages"}

# case -> (the expectation not checked as written, why, what is checked)
BROWSER_DIFFERS = {
    "retry_on_429_and_408": (
        "stats.retries",
        "Chromium's network stack itself resends a request answered 408 on a "
        "reused connection (it takes the 408 for an idle connection closed), "
        "so the sender may never see the 408 and count one retry, not two",
        "the collector's 3 requests (as written) are the sender's requests "
        "plus the browser's own resends, and the sender's retries are its "
        "requests less one"),
}


@pytest.fixture(scope="module")
def chromium(tmp_path_factory):
    """One browser for every case (tests/browser/conformance-drive.mjs);
    one that cannot start fails the tests, loudly."""
    assert Path(CHROMIUM).exists(), f"no chromium at {CHROMIUM}"
    assert (NODE_MODULES / "playwright-core").is_dir(), \
        f"no playwright-core in {NODE_MODULES} (scripts/install-deps)"
    env = dict(os.environ, REESTR_NODE_MODULES=str(NODE_MODULES))
    proc = subprocess.Popen(
        ["node", str(HERE / "conformance-drive.mjs"),
         str(tmp_path_factory.mktemp("profile"))],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=env)
    first = proc.stdout.readline()
    if not first.startswith('{"ready"'):
        proc.kill()
        raise AssertionError(f"chromium did not start: {first}{proc.stderr.read()}")
    yield proc
    proc.stdin.close()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("case_path", CASES, ids=[c.stem for c in CASES])
def test_case_in_chromium(chromium, case_path):
    case = json.loads(case_path.read_text())
    with FakeCollector(case.get("collector", []), case.get("refuse"), files=FILES) as fake:
        url = suite.closed_port_url() if case.get("collector_url") == "closed_port" \
            else fake.url
        job = json.dumps({"case": case, "collector": url})
        page = f"{fake.url}/page/conformance.html#{urllib.parse.quote(job, safe='')}"
        chromium.stdin.write(json.dumps({"url": page}) + "\n")
        chromium.stdin.flush()
        line = chromium.stdout.readline()
        assert line, f"the chromium driver died:\n{chromium.stderr.read()}"
        answer = json.loads(line)
        requests = list(fake.requests)
    log = "\n".join(answer["console"])
    assert answer["error"] is None and answer["result"] is not None, \
        f"the page failed: {answer['error']}\n{log}"
    expect = json.loads(json.dumps(case["expect"]))
    if case_path.stem in BROWSER_DIFFERS:
        key = BROWSER_DIFFERS[case_path.stem][0]
        del expect["stats"][key.split(".")[1]]
        stats = answer["result"]["stats"]
        assert stats["retries"] == stats["requests"] - 1, stats
        assert 2 <= stats["requests"] <= len(requests), (stats, len(requests))
    suite.check(expect, answer["result"], requests, log, case.get("config", {}).get("key"))
