"""What the per-key rate limits cost a request, in instructions
(docs/security.md, "Rate limits"; part of `make bench` through
scripts/bench-rate). `reestr serve` runs under callgrind, collecting only
inside libmicrohttpd's request callback (--toggle-collect=on_request), and
takes the same POST /v1/events batches with a write key without rates and
then, on a fresh data folder, with a key whose rates are too high to
refuse anything: the difference per request is what the limiter costs
(the key's lookup of the rates rides the key check that runs anyway), and
rs_rate_ticket_take's inclusive count is the bucket's own share.
Instruction counts do not depend on the machine's load; the load average
is printed beside them all the same. Figures only: nothing passes or
fails on cost.

    python3 bench/rate_cost.py REESTR WORKDIR [REQUESTS [EVENTS]]
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REGISTRY = ROOT / "examples" / "registry"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def event():
    return {"event_id": 100, "version": 0, "uuid": str(uuid.uuid4()),
            "time": "2026-11-25T10:00:00Z", "environment": "bo",
            "source": "example-service",
            "fields": {"user": {"id": 413, "email": "user413@example.com"},
                       "geo": {"latitude": 20.22, "longitude": -10.11},
                       "user_agent": "fluffy_browser"}}


def run(reestr, work, rates, requests, events):
    data = work / ("limited" if rates else "unlimited")
    subprocess.run(["rm", "-rf", str(data)], check=True)
    key = subprocess.run([reestr, "keys", "create", "example-service", *rates,
                          "--data", str(data)], capture_output=True,
                         text=True, check=True).stdout.strip()
    out = work / (data.name + ".callgrind")
    port = free_port()
    log = open(work / (data.name + ".log"), "wb")
    proc = subprocess.Popen(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
         "--toggle-collect=on_request", reestr, "serve", "--dev",
         "--registry", str(REGISTRY), "--data", str(data),
         "--listen", f"127.0.0.1:{port}"], stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 600
    while True:
        try:
            urllib.request.urlopen(url + "/healthz", timeout=5).read()
            break
        except OSError:
            if time.time() > deadline or proc.poll() is not None:
                raise SystemExit(f"serve did not start: {work / (data.name + '.log')}")
            time.sleep(0.5)
    for _ in range(requests):
        body = json.dumps({"events": [event() for _ in range(events)]}).encode()
        req = urllib.request.Request(url + "/v1/events", data=body, headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {key}"})
        with urllib.request.urlopen(req, timeout=120) as r:
            got = json.loads(r.read())
            assert got["accepted"] == events, got
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=600)
    ann = subprocess.run(["callgrind_annotate", "--inclusive=yes",
                          "--threshold=100", str(out)],
                         capture_output=True, text=True, check=True).stdout
    total = int(re.search(r"([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS", ann)
                .group(1).replace(",", ""))
    take = 0
    m = re.search(r"^\s*([\d,]+) \([^)]*\)\s+\S*:?rs_rate_ticket_take", ann,
                  re.M)
    if m:
        take = int(m.group(1).replace(",", ""))
    return total, take


def main():
    reestr = os.path.abspath(sys.argv[1])
    work = Path(sys.argv[2])
    work.mkdir(parents=True, exist_ok=True)
    requests = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    events = int(sys.argv[4]) if len(sys.argv) > 4 else 100
    load = os.getloadavg()
    plain, _ = run(reestr, work, [], requests, events)
    limited, take = run(reestr, work, ["--events-per-second", "1e12",
                                       "--bytes-per-second", "1e15"],
                        requests, events)
    per = requests or 1
    print(f"rate limit cost, {requests} requests of {events} events "
          f"(callgrind, instructions inside on_request; load average "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the start, a shared "
          f"machine):")
    print(f"  key without rates: {plain / per:,.0f} instructions a request")
    print(f"  key with rates:    {limited / per:,.0f} instructions a request "
          f"({(limited - plain) / per:+,.0f}, "
          f"{(limited - plain) / plain * 100:+.2f}%)")
    print(f"  rs_rate_ticket_take: {take / per:,.0f} instructions a request "
          f"({take / per / events:.2f} an event; "
          f"{take / limited * 100:.3f}% of the request)")


if __name__ == "__main__":
    main()
