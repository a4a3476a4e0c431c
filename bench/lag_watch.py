#!/usr/bin/env python3
"""How long accepted events take to become queryable in ClickHouse.

Reads the marks `collector_bench load --marks FILE` appends while it runs
("UUID TIME ACCEPTED_US": one event of a request just answered accepted,
about 20 a second) and polls ClickHouse every --interval seconds for the
marked events not seen yet. An event's lag is the start of the first poll
that finds it minus the time it was accepted: an upper bound, at most one
interval (plus the query's own time) above the true lag. Stops once the file
FILE.done exists and every mark was seen, or --drain seconds after that.
Prints one line: marks, seen, p50/p99/max lag in ms, and how many were
never seen. Part of scripts/bench-cluster; figures, never pass/fail.
"""
import argparse
import os
import sys
import time
import urllib.request


def query(url: str, sql: str) -> str:
    req = urllib.request.Request(url + "/", data=sql.encode(), method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        return str(r.read().decode())


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * p))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--marks", required=True)
    ap.add_argument("--clickhouse", required=True, help="http://HOST:PORT")
    ap.add_argument("--table", required=True, help="DATABASE.TABLE")
    ap.add_argument("--interval", type=float, default=0.1)
    ap.add_argument("--drain", type=float, default=30.0)
    a = ap.parse_args()

    pending: dict[str, tuple[str, int]] = {}  # uuid -> (time, accepted µs)
    lags: list[float] = []
    marks = 0
    pos = 0
    done_at = 0.0
    errors = 0
    while True:
        if os.path.exists(a.marks):
            with open(a.marks) as f:
                f.seek(pos)
                while True:
                    line = f.readline()
                    if not line.endswith("\n"):
                        break  # not completely written yet
                    pos += len(line)
                    uuid, when, accepted = line.split()
                    pending[uuid] = (when, int(accepted))
                    marks += 1
        if not done_at and os.path.exists(a.marks + ".done"):
            done_at = time.monotonic()
        if done_at and (not pending or
                        time.monotonic() - done_at > a.drain):
            break
        started = time.time()
        if pending:
            times = [t for t, _ in pending.values()]
            ids = ",".join("'%s'" % u for u in pending)
            sql = ("SELECT uuid FROM %s WHERE time >= '%s' AND "
                   "time <= '%s' AND uuid IN (%s) FORMAT TabSeparated" %
                   (a.table, min(times), max(times), ids))
            try:
                found = query(a.clickhouse, sql).split()
            except Exception as e:  # the table may not exist yet
                errors += 1
                if errors == 1 or errors % 100 == 0:
                    print("lag_watch: %s" % e, file=sys.stderr)
                found = []
            for u in found:
                if u in pending:
                    lags.append(started * 1e3 - pending.pop(u)[1] / 1e3)
        rest = a.interval - (time.time() - started)
        if rest > 0:
            time.sleep(rest)
    print("marks %d, seen %d: lag accepted -> queryable p50 %.0f ms, "
          "p99 %.0f ms, max %.0f ms; not seen after %.0f s: %d" %
          (marks, len(lags), percentile(lags, 0.5), percentile(lags, 0.99),
           max(lags) if lags else float("nan"), a.drain, len(pending)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
