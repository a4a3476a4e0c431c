"""Nothing acknowledged is lost when a node dies (issue 11, "Failure").

A cluster of its own (scripts/cluster up: 3 brokers, ClickHouse, 2
collectors, 2 loaders). Producer threads post batches of clickstream events
through both collectors, as real senders do: a request that gets no answer,
a 503 or a connection error is sent again with the same events (same uuid,
same time), to the other collector, after its Retry-After. Every event
answered `accepted` is recorded. Meanwhile, one after the other:

  kill -9 of broker 2, then its restart (which overlaps the next two);
  kill -9 of collector 1, then its restart;
  kill -9 of loader 1 while it holds a batch, then its restart;
  ClickHouse stopped for 30 s, then started again.

Then the producers stop (finishing the retries in hand), the loaders catch
up, and ClickHouse is counted with the documented exactly-once read
(`FINAL`, docs/scale-out.md): every accepted event is there exactly once,
and nothing is there that was never sent. Prints
`acknowledged N, stored N, lost 0, duplicated 0`.

REESTR_FAILURE_RATE (events/s, default 3000) and REESTR_FAILURE_SECONDS
(the length of the quiet stretches between faults, default 4) tune it.
"""

import http.client
import json
import os
import threading
import time
import uuid as uuidlib
from datetime import datetime, timezone

from clusterlib import REESTR, run, start_cluster

RATE = int(os.environ.get("REESTR_FAILURE_RATE", "3000"))
QUIET = float(os.environ.get("REESTR_FAILURE_SECONDS", "4"))
BATCH = 200
PRODUCERS = 8


def uuid7():
    ms = time.time_ns() // 1_000_000
    value = (ms << 80) | int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)
    value = (value & ~(0x3 << 62)) | (0x2 << 62)
    return str(uuidlib.UUID(int=value))


def event(n):
    return {
        "event_id": 100, "version": 0, "uuid": uuid7(),
        "time": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "environment": "bo", "source": "example-service",
        "fields": {"user": {"id": 1 + n % 100000, "email": f"user{n}@example.com"},
                   "geo": {"latitude": 20.22, "longitude": -10.11},
                   "user_agent": "failure-test"},
    }


class Ledger:
    def __init__(self):
        self.lock = threading.Lock()
        self.sent = {}           # uuid -> time, every event posted at least once
        self.accepted = {}       # uuid -> time, answered accepted
        self.unanswered = set()  # posted, no answer yet (a retry is pending or gave up)
        self.unexpected = []     # answers a healthy sender never gets here
        self.attempts = self.retries = 0
        self.latencies = []      # seconds, requests answered 200
        self.failures = {}       # what made a retry: "503", "ConnectionRefusedError", ...

    def posting(self, batch):
        with self.lock:
            self.attempts += 1
            for e in batch:
                self.sent[e["uuid"]] = e["time"]
                self.unanswered.add(e["uuid"])

    def failed(self, why):
        with self.lock:
            self.retries += 1
            self.failures[why] = self.failures.get(why, 0) + 1

    def answered(self, batch, results, seconds):
        with self.lock:
            self.latencies.append(seconds)
            for e, r in zip(batch, results):
                self.unanswered.discard(e["uuid"])
                if r["status"] == "accepted":
                    self.accepted[e["uuid"]] = e["time"]
                else:
                    self.unexpected.append((e["uuid"], r))


class Producer(threading.Thread):
    def __init__(self, n, urls, ledger, stop, give_up):
        super().__init__(daemon=True)
        self.n, self.ledger, self.stop, self.give_up = n, ledger, stop, give_up
        self.addrs = [u.split("//", 1)[1] for u in urls]
        self.which = n % len(self.addrs)
        self.conn = None
        self.made = 0

    def connect(self):
        host, port = self.addrs[self.which].rsplit(":", 1)
        self.conn = http.client.HTTPConnection(host, int(port), timeout=30)

    def post(self, body):
        if self.conn is None:
            self.connect()
        try:
            self.conn.request("POST", "/v1/events", body,
                              {"Content-Type": "application/json"})
            r = self.conn.getresponse()
            return r.status, r.getheader("Retry-After"), r.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = None
            raise

    def deliver(self, batch):
        body = json.dumps({"events": batch}).encode()
        while True:
            self.ledger.posting(batch)
            start = time.monotonic()
            try:
                status, retry_after, raw = self.post(body)
            except (OSError, http.client.HTTPException) as e:
                why, wait = type(e).__name__, 0.2
            else:
                if status == 200:
                    self.ledger.answered(batch, json.loads(raw)["results"],
                                         time.monotonic() - start)
                    return
                why, wait = str(status), min(float(retry_after or 1), 2.0)
            self.ledger.failed(why)
            if time.monotonic() > self.give_up[0]:
                return  # left unanswered: counted as such
            # the same events to the other collector, as a sender behind a
            # load balancer would
            self.which = (self.which + 1) % len(self.addrs)
            if self.conn is not None:
                self.conn.close()
                self.conn = None
            time.sleep(wait)

    def run(self):
        per_batch = BATCH * PRODUCERS / RATE
        next_at = time.monotonic()
        while not self.stop.is_set():
            batch = [event(self.n * 10_000_000 + self.made + i) for i in range(BATCH)]
            self.made += BATCH
            self.deliver(batch)
            next_at += per_batch
            time.sleep(max(0.0, next_at - time.monotonic()))
            next_at = max(next_at, time.monotonic() - 1)  # no catch-up bursts after an outage


def clickhouse_count(cluster):
    out = cluster.clickhouse("SELECT count(), uniqExact(uuid) FROM reestr.events FINAL FORMAT TSV")
    n, u = out.split()
    return int(n), int(u)


def test_acknowledged_events_survive_broker_collector_loader_and_clickhouse_failures(tmp_path):
    cluster = start_cluster(tmp_path / "cluster")
    ledger, stop, give_up = Ledger(), threading.Event(), [float("inf")]
    producers = []
    steps = []
    try:
        producers = [Producer(n, cluster.collectors, ledger, stop, give_up)
                     for n in range(PRODUCERS)]
        t0 = time.monotonic()
        for p in producers:
            p.start()

        def step(what, *args):
            start = time.monotonic()
            cluster.cmd(*args, timeout=240)
            steps.append(f"{start - t0:5.1f}s {what} ({time.monotonic() - start:.1f}s)")
            print(steps[-1], flush=True)

        time.sleep(QUIET)
        step("kill -9 broker 2", "kill-broker", 2)
        time.sleep(QUIET)
        # the broker's restart (a JVM start and catching up) overlaps the
        # next faults: the cluster has a broker short while they happen
        restarted = []

        def restart_broker():
            r = cluster.cmd("start-broker", 2, check=False, timeout=240)
            restarted.append(r)
            steps.append(f"{time.monotonic() - t0:5.1f}s broker 2 answers again")
            print(steps[-1], flush=True)

        broker = threading.Thread(target=restart_broker)
        broker.start()
        time.sleep(2)
        step("kill -9 collector 1", "kill-collector", 1)
        time.sleep(2)
        step("collector 1 restarted", "start-collector", 1)
        time.sleep(QUIET)
        loader_before = cluster.pids()["loader-1"]
        step("kill -9 loader 1", "kill-loader", 1)
        time.sleep(2)
        step("loader 1 restarted", "start-loader", 1)
        assert cluster.pids()["loader-1"] != loader_before
        time.sleep(QUIET)
        step("ClickHouse stopped", "stop-clickhouse")
        time.sleep(30)
        step("ClickHouse started", "start-clickhouse")
        broker.join(timeout=240)
        assert restarted and restarted[0].returncode == 0, \
            f"broker 2 did not restart: {restarted and restarted[0].stderr}"
        time.sleep(QUIET)

        stop.set()
        give_up[0] = time.monotonic() + 60
        for p in producers:
            p.join(timeout=120)
        produced = time.monotonic() - t0
        assert not any(p.is_alive() for p in producers), "a producer did not finish"
        acknowledged = len(ledger.accepted)
        lat = sorted(ledger.latencies) or [0.0]
        print(f"producers: {len(ledger.sent)} events in {produced:.0f}s "
              f"({len(ledger.sent) / produced:.0f}/s), {ledger.attempts} requests of {BATCH} "
              f"(answered in p50 {lat[len(lat) // 2] * 1000:.0f} ms, "
              f"p99 {lat[len(lat) * 99 // 100] * 1000:.0f} ms), "
              f"{ledger.retries} retried {ledger.failures}, "
              f"{len(ledger.unanswered)} never answered", flush=True)

        # the loaders catch up: the exactly-once count reaches what was
        # acknowledged, or stops moving
        deadline, last, still_since = time.monotonic() + 150, None, time.monotonic()
        while True:
            n, _ = clickhouse_count(cluster)
            if n >= acknowledged and n == last and time.monotonic() - still_since > 3:
                break
            if n != last:
                last, still_since = n, time.monotonic()
            if time.monotonic() > deadline or time.monotonic() - still_since > 30:
                break
            time.sleep(1)
        caught_up = time.monotonic() - t0 - produced

        # the documented exactly-once read, through reestr query
        r = run(REESTR, "query", "--clickhouse", cluster.vars["REESTR_CLICKHOUSE_URL"],
                "--format", "csv", "SELECT uuid, time FROM events FINAL", timeout=300)
        rows = [line.split(",") for line in r.stdout.splitlines()[1:]]
        stored = {}
        for u, t in rows:
            stored.setdefault(u, []).append(t)
        count, unique = clickhouse_count(cluster)
        failed = cluster.clickhouse("SELECT count() FROM reestr.failed_events FINAL").strip()

        lost = [u for u in ledger.accepted if u not in stored]
        duplicated = len(rows) - len(stored)
        never_sent = [u for u in stored if u not in ledger.sent]
        not_acknowledged = [u for u in stored if u not in ledger.accepted]
        wrong_time = [u for u, t in ledger.accepted.items() if u in stored and stored[u] != [t]]
        print(f"acknowledged {acknowledged}, stored {len(stored)}, lost {len(lost)}, "
              f"duplicated {duplicated}")
        print(f"run {produced:.0f}s, loaders caught up {caught_up:.0f}s later; "
              f"count() FINAL {count}, uniqExact(uuid) {unique}; "
              f"stored without an accepted answer (retried, never answered): "
              f"{len(not_acknowledged)}")

        assert ledger.unexpected == [], ledger.unexpected[:5]
        assert acknowledged >= RATE * 20, f"only {acknowledged} events acknowledged"
        assert ledger.retries > 0, "no request failed: the faults did not reach the senders"
        assert lost == [], f"{len(lost)} acknowledged events are missing, e.g. {lost[:5]}"
        assert duplicated == 0 and count == unique == len(stored)
        assert never_sent == [], never_sent[:5]
        # stored without an accepted answer only when its request got none
        assert set(not_acknowledged) <= ledger.unanswered, not_acknowledged[:5]
        assert wrong_time == [], wrong_time[:5]
        assert failed == "0", f"{failed} failed events"
    finally:
        stop.set()
        give_up[0] = 0
        for p in producers:
            p.join(timeout=60)
        cluster.cmd("down", check=False, timeout=180)
    assert cluster.ours() == [], "down left processes behind"
