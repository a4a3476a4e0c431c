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
import signal
import subprocess
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
    r = run(*load_args(c, prefix, "g", "--to", "sqlite", "--data", data,
                       "--until-caught-up"), timeout=60)
    assert "caught up" in r.stderr
    rows = query(data, "SELECT count(*) AS n, count(DISTINCT uuid) AS d, "
                 "min(uuid) AS lo, max(uuid) AS hi FROM events")
    assert rows == [{"n": 500, "d": 500, "lo": uid(0), "hi": uid(499)}]
    # the typed view of the version holds the fields
    assert query(data, "SELECT count(*) AS n FROM item_view_v0 "
                 "WHERE item_category_id = 7") == [{"n": 500}]
    failed = query(data, "SELECT reason, event_id, payload FROM "
                   "failed_events ORDER BY reason")
    assert [f["reason"] for f in failed[1:]] == ["test failure 0",
                                                 "test failure 1"]
    bad = failed[0]
    assert re.fullmatch(
        rf"kafka message {prefix}\.events\.bo\[[0-2]\]@\d+: value is not "
        r"JSON: .*", bad["reason"]), bad
    assert bad["payload"] == "not json" and bad["event_id"] is None
    # a redelivery of stored events is a duplicate, not a row
    produce("events", c.brokers, prefix, "bo", 0, 100)
    r = run(*load_args(c, prefix, "g", "--to", "sqlite", "--data", data,
                       "--until-caught-up"), timeout=60)
    assert "stored 0, duplicate 100, failed 0" in r.stderr
    assert query(data, "SELECT count(*) AS n FROM events") == [{"n": 500}]

    # the same topics into ClickHouse, read by another group; twice, the
    # second a redelivery of everything (a new group): FINAL counts once
    db = fresh("ld")
    for group in ("ch1", "ch2"):
        run(*load_args(c, prefix, group, "--to", "clickhouse",
                       "--clickhouse", c.vars["REESTR_CLICKHOUSE_URL"],
                       "--clickhouse-database", db, "--until-caught-up"),
            timeout=60)
    ev = ch_query(c, db, "SELECT count() AS n, uniqExact(uuid) AS d "
                  "FROM events FINAL")
    assert (int(ev[0]["n"]), int(ev[0]["d"])) == (500, 500)
    n = ch_query(c, db, "SELECT count() AS n FROM failed_events FINAL")
    assert int(n[0]["n"]) == 3


def test_killed_loader_loses_nothing(shared_cluster, tmp_path):
    c = shared_cluster
    prefix, data, total = fresh("lk"), tmp_path / "store", 40000
    topics(c, prefix)
    produce("events", c.brokers, prefix, "bo", 0, total)
    log = open(tmp_path / "first.log", "w")
    first = subprocess.Popen(
        [str(a) for a in load_args(c, prefix, "g", "--to", "sqlite",
                                   "--data", data, "--batch-rows", "1000",
                                   "--batch-ms", "60000")],
        stderr=log)
    try:
        deadline = time.monotonic() + 60
        n = 0
        while time.monotonic() < deadline and n == 0:
            time.sleep(0.05)
            if (data / "reestr.db").exists():
                n = query(data, "SELECT count(*) AS n FROM events")[0]["n"]
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
        log.close()
    killed_at = query(data, "SELECT count(*) AS n FROM events")[0]["n"]
    assert 0 < killed_at < total, "the loader was not killed mid-run"
    r = run(*load_args(c, prefix, "g", "--to", "sqlite", "--data", data,
                       "--until-caught-up"), timeout=90)
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
        deadline = time.monotonic() + 60
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
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(seen) < total:
            time.sleep(0.5)
            seen = set()
            for i in (1, 2):
                if (tmp_path / f"store{i}" / "reestr.db").exists():
                    seen |= {r["uuid"] for r in query(
                        tmp_path / f"store{i}", "SELECT uuid FROM events")}
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
                   "--until-caught-up"), timeout=60)
    db = fresh("lm")
    for _ in range(2):
        r = run(REESTR, "load", "--from", "sqlite", "--from-data", src,
                "--to", "clickhouse", "--clickhouse",
                c.vars["REESTR_CLICKHOUSE_URL"], "--clickhouse-database", db,
                "--registry", REGISTRY, "--batch-rows", "100", timeout=60)
        assert "stored 300, duplicate 0, failed 5," in r.stderr
    ev = ch_query(c, db, "SELECT count() AS n, uniqExact(uuid) AS d FROM "
                  "events FINAL")
    assert (int(ev[0]["n"]), int(ev[0]["d"])) == (300, 300)
    f = ch_query(c, db, "SELECT count() AS n FROM failed_events FINAL")
    assert int(f[0]["n"]) == 5
