"""One case for a runtime that runs the steps in its own process (the
TypeScript runtime in Node's test runner: runtimes/ts/test/conformance.test.mjs):

    python3 check_case.py CASE_FILE

starts the fake collector from the case's script, prints the collector URL
the steps must use (one line), reads {"got": ADAPTER_OUTPUT, "log": TEXT}
on stdin (what an adapter prints, and its log lines), and checks them with
contract.check as test_conformance.py does. Exits 0 when the case holds, 1
with the failed check on stderr. Standard library only."""

import json
import sys
from pathlib import Path

from contract import check, closed_port_url
from fake_collector import FakeCollector


def main():
    case = json.loads(Path(sys.argv[1]).read_text())
    with FakeCollector(case.get("collector", []), case.get("refuse")) as fake:
        url = closed_port_url() if case.get("collector_url") == "closed_port" else fake.url
        print(url, flush=True)
        answer = json.loads(sys.stdin.read())
        requests = list(fake.requests)
    try:
        check(case["expect"], answer["got"], requests, answer["log"],
              case.get("config", {}).get("key"))
    except AssertionError as e:
        print(f"{Path(sys.argv[1]).stem}: {e!r}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
