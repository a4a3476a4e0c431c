"""reestr load (docs/scale-out.md, "The loader") against the shared cluster:
messages written in the Kafka sink's layout (tests/tools/kafka_events.c,
through src/sink/kafka_message) are loaded into SQLite and ClickHouse;
a message reestr did not write lands in failed_events naming its
topic[partition]@offset; a loader killed (-9) mid-run loses nothing and its
replacement's redeliveries do not become rows; two loaders of one group
share the partitions; an SQLite store moves onto ClickHouse twice without a
second copy. Every test uses its own topic prefix and consumer group."""

import json
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid

import pytest

from clusterlib import REESTR, ROOT, run, tool

KAFKA_EVENTS = REESTR.parent / "kafka_events"
REGISTRY = ROOT / "examples" / "registry"


def produce(*args):
    if not KAFKA_EVENTS.exists():
        pytest.fail(f"{KAFKA_EVENTS} is missing (built from "
                    "tests/tools/kafka_events.c)")
    run(KAFKA_EVENTS, *args, timeout=120)


def topics(c, prefix, partitions=3):
    tool("create-topic", c.brokers, f"{prefix}.events.bo", partitions, 3, 2)
    tool("create-topic", c.brokers, f"{prefix}.failed", 1, 3, 2)


def load_args(c, prefix, group, *store):
    return [REESTR, "load", "--from", "kafka", "--registry", REGISTRY,
            "--kafka-brokers", c.brokers, "--kafka-topic-prefix", prefix,
            "--group", group, *store]


def query(data, sql):
    r = run(REESTR, "query", "--data", data, "--format", "json", sql)
    return json.loads(r.stdout)


def count_now(data):
    """Rows in a store a loader may still be creating (0 until it has
    its tables)."""
    r = run(REESTR, "query", "--data", data, "--format", "json",
            "SELECT count(*) AS n FROM events", check=False)
    return json.loads(r.stdout)[0]["n"] if r.returncode == 0 else 0


def ch_query(c, db, sql):
    r = run(REESTR, "query", "--clickhouse",
            c.vars["REESTR_CLICKHOUSE_URL"], "--clickhouse-database", db,
            "--format", "json", sql)
    return json.loads(r.stdout)


def uid(i):
    return f"00000000-0000-4000-8000-{i:012d}"


def fresh(name):
    return f"{name}{uuid.uuid4().hex[:8]}"


def test_load_to_sqlite_and_clickhouse(shared_cluster, tmp_path):
    c = shared_cluster
    prefix, data = fresh("ld"), tmp_path / "store"
    topics(c, prefix)
    produce("events", c.brokers, prefix, "bo", 0, 500)
    produce("failed", c.brokers, prefix, 0, 2)
    produce("raw", c.brokers, f"{prefix}.events.bo", "k", "not json")
    # decodes, but item_view's fields are not a payment's (event 300)
    produce("events", c.brokers, prefix, "bo", 900, 1, 300, 0)
    r = run(*load_args(c, prefix, "g", "--to", "sqlite", "--data", data,
                       "--until-caught-up"), timeout=120)
    assert "caught up" in r.stderr
    rows = query(data, "SELECT count(*) AS n, count(DISTINCT uuid) AS d, "
                 "min(uuid) AS lo, max(uuid) AS hi FROM events")
    assert rows == [{"n": 500, "d": 500, "lo": uid(0), "hi": uid(499)}]
    # the typed view of the version holds the fields
    assert query(data, "SELECT count(*) AS n FROM item_view_v0 "
                 "WHERE item_category_id = 7") == [{"n": 500}]
    failed = query(data, "SELECT reason, event_id, version, source, "
                   "payload FROM failed_events ORDER BY reason")
    assert [f["reason"] for f in failed[2:]] == ["test failure 0",
                                                 "test failure 1"]
    bad, wrong = sorted(failed[:2], key=lambda f: f["event_id"] or 0)
    assert re.fullmatch(
        rf"kafka message {prefix}\.events\.bo\[[0-2]\]@\d+: value is not "
        r"JSON: .*", bad["reason"]), bad
    assert bad["payload"] == "not json" and bad["event_id"] is None
    assert re.fullmatch(
        rf"kafka message {prefix}\.events\.bo\[[0-2]\]@\d+: fields\.\w+: "
        r".*", wrong["reason"]), wrong
    assert (wrong["event_id"], wrong["version"], wrong["source"]) == \
        (300, 0, "item-api")
    assert json.loads(wrong["payload"])["uuid"] == uid(900)
    # a redelivery of stored events is a duplicate, not a row
    produce("events", c.brokers, prefix, "bo", 0, 100)
    r = run(*load_args(c, prefix, "g", "--to", "sqlite", "--data", data,
                       "--until-caught-up"), timeout=120)
    assert "stored 0, duplicate 100, failed 0" in r.stderr
    assert query(data, "SELECT count(*) AS n FROM events") == [{"n": 500}]

    # the same topics into ClickHouse, read by another group; twice, the
    # second a redelivery of everything (a new group): FINAL counts once
    db = fresh("ld")
    for group in ("ch1", "ch2"):
        run(*load_args(c, prefix, group, "--to", "clickhouse",
                       "--clickhouse", c.vars["REESTR_CLICKHOUSE_URL"],
                       "--clickhouse-database", db, "--until-caught-up"),
            timeout=120)
    ev = ch_query(c, db, "SELECT count() AS n, uniqExact(uuid) AS d "
                  "FROM events FINAL")
    assert (int(ev[0]["n"]), int(ev[0]["d"])) == (500, 500)
    n = ch_query(c, db, "SELECT count() AS n FROM failed_events FINAL")
    assert int(n[0]["n"]) == 4


def test_killed_loader_loses_nothing(shared_cluster, tmp_path):
    c = shared_cluster
    prefix, data, total = fresh("lk"), tmp_path / "store", 20000
    topics(c, prefix)
    produce("events", c.brokers, prefix, "bo", 0, total)
    # the group gives a dead member's partitions away after the session
    # timeout (librdkafka's default 45 s; the broker's least is 6 s)
    props = tmp_path / "loader.properties"
    props.write_text("# a killed loader is noticed sooner\n"
                     "session.timeout.ms = 6000\n")
    log = open(tmp_path / "first.log", "w")
    first = subprocess.Popen(
        [str(a) for a in load_args(c, prefix, "g", "--to", "sqlite",
                                   "--data", data, "--batch-rows", "500",
                                   "--batch-ms", "60000",
                                   "--kafka-config", props)],
        stderr=log)
    try:
        deadline = time.monotonic() + 90
        n = 0
        while time.monotonic() < deadline and n == 0:
            time.sleep(0.05)
            n = count_now(data)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
        log.close()
    killed_at = query(data, "SELECT count(*) AS n FROM events")[0]["n"]
    assert 0 < killed_at < total, "the loader was not killed mid-run"
    r = run(*load_args(c, prefix, "g", "--to", "sqlite", "--data", data,
                       "--kafka-config", props, "--until-caught-up"),
            timeout=120)
    rows = query(data, "SELECT count(*) AS n, count(DISTINCT uuid) AS d "
                 "FROM events")
    assert rows == [{"n": total, "d": total}], r.stderr
    stored = int(re.findall(r"stored (\d+), duplicate (\d+)", r.stderr)[-1][0])
    assert stored == total - killed_at
    print(f"killed with {killed_at} rows stored; the replacement stored "
          f"{stored}")


def test_two_loaders_share_partitions(shared_cluster, tmp_path):
    c = shared_cluster
    prefix, total = fresh("l2"), 3000
    topics(c, prefix, partitions=6)
    procs, logs = [], []
    try:
        for i in (1, 2):
            logs.append(tmp_path / f"loader{i}.log")
            procs.append(subprocess.Popen(
                [str(a) for a in load_args(
                    c, prefix, "shared", "--to", "sqlite", "--data",
                    tmp_path / f"store{i}", "--batch-ms", "200")],
                stderr=open(logs[-1], "w")))
        # both members hold partitions once the group has settled
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            last = [re.findall(r"assigned (\d+) partition",
                               p.read_text()) for p in logs]
            if all(a and 0 < int(a[-1]) < 7 for a in last) and \
                    sum(int(a[-1]) for a in last) == 7:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the group did not give both loaders partitions:\n"
                        + "\n".join(p.read_text() for p in logs))
        produce("events", c.brokers, prefix, "bo", 0, total)
        seen = set()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and len(seen) < total:
            time.sleep(0.5)
            seen = set()
            for i in (1, 2):
                r = run(REESTR, "query", "--data", tmp_path / f"store{i}",
                        "--format", "json", "SELECT uuid FROM events",
                        check=False)
                if r.returncode == 0:
                    seen |= {row["uuid"] for row in json.loads(r.stdout)}
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            assert p.wait(timeout=30) == 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert seen == {uid(i) for i in range(total)}
    counts = [query(tmp_path / f"store{i}", "SELECT count(*) AS n FROM "
                    "events")[0]["n"] for i in (1, 2)]
    assert all(n > 0 for n in counts), counts
    print(f"rows per loader: {counts}")


def test_move_sqlite_store_onto_clickhouse(shared_cluster, tmp_path):
    """The migration of docs/scale-out.md: --from sqlite, run twice."""
    c = shared_cluster
    src = tmp_path / "old"
    # an SQLite store written by the loader itself (events and failures)
    prefix = fresh("lm")
    topics(c, prefix)
    produce("events", c.brokers, prefix, "bo", 0, 300)
    produce("failed", c.brokers, prefix, 0, 5)
    run(*load_args(c, prefix, "g", "--to", "sqlite", "--data", src,
                   "--until-caught-up"), timeout=120)
    db = fresh("lm")
    for _ in range(2):
        r = run(REESTR, "load", "--from", "sqlite", "--from-data", src,
                "--to", "clickhouse", "--clickhouse",
                c.vars["REESTR_CLICKHOUSE_URL"], "--clickhouse-database", db,
                "--registry", REGISTRY, "--batch-rows", "100", timeout=120)
        assert "stored 300, duplicate 0, failed 5," in r.stderr
    ev = ch_query(c, db, "SELECT count() AS n, uniqExact(uuid) AS d FROM "
                  "events FINAL")
    assert (int(ev[0]["n"]), int(ev[0]["d"])) == (300, 300)
    f = ch_query(c, db, "SELECT count() AS n FROM failed_events FINAL")
    assert int(f[0]["n"]) == 5


def test_sigterm_writes_the_batch_in_hand(shared_cluster, tmp_path):
    c = shared_cluster
    prefix, data = fresh("ls"), tmp_path / "store"
    topics(c, prefix)
    log = tmp_path / "loader.log"
    # a batch is written at 100,000 rows or after 10 minutes: only the stop
    # writes this one
    p = subprocess.Popen(
        [str(a) for a in load_args(c, prefix, "g", "--to", "sqlite",
                                   "--data", data, "--batch-ms", "600000",
                                   "--batch-rows", "100000")],
        stderr=open(log, "w"))
    try:
        produce("events", c.brokers, prefix, "bo", 0, 200)
        deadline = time.monotonic() + 90
        while "in hand 200" not in log.read_text():  # read, not written
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        assert query(data, "SELECT count(*) AS n FROM events") == [{"n": 0}]
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=30) == 0, log.read_text()
    finally:
        if p.poll() is None:
            p.kill()
    assert query(data, "SELECT count(*) AS n FROM events") == [{"n": 200}]
    # and its offsets were committed: nothing is read again
    r = run(*load_args(c, prefix, "g", "--to", "sqlite", "--data", data,
                       "--until-caught-up"), timeout=120)
    assert "stored 0, duplicate 0, failed 0, batches 0" in r.stderr


def test_version_missing_from_registry_waits(shared_cluster, tmp_path):
    """An event of a version the loader's registry lacks holds the batch
    (nothing committed past it) until the registry folder has it."""
    c = shared_cluster
    prefix, data = fresh("lv"), tmp_path / "store"
    registry = tmp_path / "registry"
    shutil.copytree(REGISTRY, registry)
    topics(c, prefix)
    produce("events", c.brokers, prefix, "bo", 0, 5)
    produce("events", c.brokers, prefix, "bo", 5, 1, 201, 1)
    log = tmp_path / "loader.log"
    args = [str(a) for a in load_args(c, prefix, "g", "--to", "sqlite",
                                      "--data", data, "--batch-ms", "100")]
    args[args.index("--registry") + 1] = str(registry)
    p = subprocess.Popen(args, stderr=open(log, "w"))
    try:
        deadline = time.monotonic() + 90
        while "is not in registry" not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        # The batch holding the unknown version is held, not written; the
        # v0 events may have come in an earlier batch (the topic has 3
        # partitions, read as they come) and been stored already.
        time.sleep(1)
        assert count_now(data) < 6, "an event of a version not in the registry was stored"
        with open(registry / "events" / "item_view.yaml", "a") as f:
            f.write("      - version: 1\n        fields:\n          item:\n"
                    "            type: item\n"
                    "            description: The listing shown.\n")
        deadline = time.monotonic() + 90
        while "version 1: found" not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        deadline = time.monotonic() + 30
        while count_now(data) < 6:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=30) == 0
    finally:
        if p.poll() is None:
            p.kill()
    assert query(data, "SELECT count(*) AS n FROM item_view_v1") == [{"n": 1}]


class Gate:
    """A TCP forwarder to ClickHouse that can be shut and opened again:
    the store goes away for the loader without stopping the shared
    cluster's ClickHouse."""

    def __init__(self, target_port):
        self.target = ("127.0.0.1", target_port)
        self.conns = []
        self.lock = threading.Lock()
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.listener = None

    def open(self):
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(16)
        threading.Thread(target=self._accept, args=(self.listener,),
                         daemon=True).start()

    def shut(self):
        # shutdown wakes the thread blocked in accept (close alone does not)
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        with self.lock:
            for s in self.conns:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            self.conns = []

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            with self.lock:
                self.conns += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b),
                                 daemon=True).start()

    @staticmethod
    def _pipe(a, b):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
            b.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def test_store_away_is_retried_and_nothing_committed_past_it(
        shared_cluster, tmp_path):
    c = shared_cluster
    prefix, db = fresh("lg"), fresh("lg")
    topics(c, prefix)
    url = c.vars["REESTR_CLICKHOUSE_URL"]
    gate = Gate(int(url.rsplit(":", 1)[1]))
    gate.open()
    log = tmp_path / "loader.log"

    def stored():
        r = ch_query(c, db, "SELECT count() AS n, uniqExact(uuid) AS d "
                     "FROM events FINAL")
        return int(r[0]["n"]), int(r[0]["d"])

    def wait_for(what, check):
        deadline = time.monotonic() + 90
        while not check():
            assert time.monotonic() < deadline, \
                f"waiting for {what}:\n{log.read_text()}"
            time.sleep(0.3)

    p = subprocess.Popen(
        [str(a) for a in load_args(
            c, prefix, "g", "--to", "clickhouse", "--clickhouse",
            f"http://127.0.0.1:{gate.port}", "--clickhouse-database", db,
            "--batch-ms", "200")],
        stderr=open(log, "w"))
    try:
        produce("events", c.brokers, prefix, "bo", 0, 100)
        wait_for("the first 100", lambda: "stored 100" in log.read_text())
        gate.shut()
        produce("events", c.brokers, prefix, "bo", 100, 100)
        wait_for("two failed tries", lambda: "failed (try 2)" in
                 log.read_text())
        assert stored() == (100, 100)
        gate.open()
        wait_for("the next 100", lambda: stored() == (200, 200))
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=30) == 0, log.read_text()
    finally:
        if p.poll() is None:
            p.kill()
        gate.shut()
    text = log.read_text()
    assert "trying again in 500 ms" in text and \
        "trying again in 1000 ms" in text, text
    # what was written was committed, and only that
    r = run(*load_args(c, prefix, "g", "--to", "clickhouse", "--clickhouse",
                       url, "--clickhouse-database", db,
                       "--until-caught-up"), timeout=120)
    assert "stored 0, duplicate 0, failed 0, batches 0" in r.stderr
