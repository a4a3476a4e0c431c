"""The local cluster of scripts/cluster (docs/scale-out.md, "Local cluster"):
three Kafka brokers in one KRaft quorum and a ClickHouse server, all real
processes on loopback. Shows what the Kafka sink and the ClickHouse store of
issue 11 will stand on: a replicated topic that keeps taking acks=all writes
with one broker killed (-9), ReplacingMergeTree de-duplication read with FINAL
on Debian's ClickHouse 18.16 and, through chdb, on a current ClickHouse, and a
`down` that leaves no process behind.

The tests share one cluster and run in file order (each builds on the last).
The Kafka client is tests/tools/kafka/kafka_tool.c (librdkafka); a missing
tool or a service that does not start fails the test, naming it.
"""

import json
import os
import re
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from clusterlib import CLUSTER, ROOT, Cluster, alive, run, start_cluster, tool

TOPIC = "reestr-cluster-test"

# The same SQL runs on Debian's ClickHouse 18.16 (over HTTP) and on a current
# ClickHouse (chdb, in-process). 18.16 has no DateTime64: the microseconds of
# an event's time are kept beside it in time_us, and both are in the key, so
# the (time, uuid) de-duplication rule of the SQLite store holds.
DDL = """CREATE TABLE events_test (
    time DateTime,
    time_us UInt32,
    uuid UUID,
    name String,
    note Nullable(String),
    tags Array(Int64)
) ENGINE = ReplacingMergeTree ORDER BY (time, time_us, uuid)"""

ROW_A = {"time": "2026-11-30 10:00:00", "time_us": 123456,
         "uuid": "018f2c3a-7b1d-7c3e-9f00-000000000001", "name": "a",
         "note": "first", "tags": [1, 2]}
ROW_B = {"time": "2026-11-30 10:00:01", "time_us": 5,
         "uuid": "018f2c3a-7b1d-7c3e-9f00-000000000002", "name": "b",
         "note": None, "tags": []}
# The same event again (same time and uuid), as a redelivery writes it,
# and an event with the same uuid at another microsecond: a different row.
ROW_A_AGAIN = dict(ROW_A)
ROW_A_OTHER_US = dict(ROW_A, time_us=123457, name="a2")


def insert_sql(rows):
    body = "\n".join(json.dumps(r) for r in rows)
    return f"INSERT INTO events_test FORMAT JSONEachRow\n{body}\n"


INSERTS = [insert_sql([ROW_A, ROW_B]), insert_sql([ROW_A_AGAIN, ROW_A_OTHER_US])]
QUERY_FINAL = ("SELECT name, time_us, note, tags FROM events_test FINAL "
               "ORDER BY time, time_us, uuid FORMAT TSV")
QUERY_UNIQ = "SELECT uniqExact(time, time_us, uuid) FROM events_test FORMAT TSV"
EXPECTED_FINAL = "a\t123456\tfirst\t[1,2]\na2\t123457\tfirst\t[1,2]\nb\t5\t\\N\t[]\n"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = start_cluster(tmp_path_factory.mktemp("cluster"))
    try:
        yield c
    finally:
        c.cmd("down", check=False, timeout=120)


PROCESSES = ("kafka-1", "kafka-2", "kafka-3", "clickhouse",
             "collector-1", "collector-2", "loader-1", "loader-2")


def test_up_starts_every_process_and_status_reports_it(cluster):
    r = cluster.cmd("status")
    lines = r.stdout.splitlines()
    for name in PROCESSES:
        line = next((ln for ln in lines if ln.startswith(name + " ")), None)
        assert line and " running " in line, r.stdout
        assert "127.0.0.1:" in line, line
    assert cluster.clickhouse("SELECT 1") == "1\n"
    # the two collectors (reestr serve --sink kafka) answer on the addresses
    # `env` gives; each is its own process
    env = cluster.cmd("env").stdout
    urls = cluster.vars["REESTR_COLLECTORS"].split(",")
    assert f"REESTR_COLLECTORS={','.join(urls)}" in env, env
    assert len(set(urls)) == 2, urls
    for url in urls:
        with urllib.request.urlopen(url + "/healthz", timeout=10) as h:
            assert h.status == 200
    cmdlines = {n: (Path("/proc") / str(pid) / "cmdline").read_bytes().split(b"\0")
                for n, pid in cluster.pids().items()}
    assert b"--sink" in cmdlines["collector-1"] and b"kafka" in cmdlines["collector-1"]
    assert cmdlines["loader-2"][1:6] == [b"load", b"--from", b"kafka", b"--to", b"clickhouse"]
    assert cluster.clickhouse("SELECT version()").startswith("18.16"), \
        "the cluster runs Debian's clickhouse-server"


def test_three_brokers_form_one_quorum(cluster):
    r = cluster.cmd("kafka-tool", "org.apache.kafka.tools.MetadataQuorumCommand",
                    "--bootstrap-server", cluster.brokers, "describe", "--status")
    voters = re.search(r"CurrentVoters:\s*(\[.*\])", r.stdout)
    assert voters, r.stdout
    assert sorted(v["id"] for v in json.loads(voters.group(1))) == [1, 2, 3]
    leader = int(re.search(r"LeaderId:\s*(-?\d+)", r.stdout).group(1))
    assert leader in (1, 2, 3), r.stdout
    # and each broker, asked on its own, knows all three
    for addr in cluster.brokers.split(","):
        assert tool("metadata", addr).stdout == "brokers 1 2 3\n"


def test_replicated_topic_takes_acks_all_with_one_broker_killed(cluster):
    b = cluster.brokers
    tool("create-topic", b, TOPIC, 3, 3, 2)
    desc = tool("describe-topic", b, TOPIC).stdout
    assert desc.count("replicas 3 isr 3") == 3, desc
    assert "min.insync.replicas 2" in desc, desc
    # no auto-creation: a producer to an unknown topic is refused
    bad = tool("produce", b, "no-such-topic", 1, "x", 5000, check=False)
    assert bad.returncode != 0 and "delivered 0" in bad.stdout, bad.stdout

    assert tool("produce", b, TOPIC, 10, "before").stdout.startswith("delivered 10 failed 0")
    got = tool("consume", b, TOPIC, "g-before", 10, 60000).stdout.split()
    assert sorted(got) == sorted(f"before-{i}" for i in range(10))

    victim = cluster.pids()["kafka-1"]
    cluster.cmd("kill-broker", 1)
    assert not alive(victim), "kill -9 left kafka-1 running"
    assert "kafka-1       stopped" in cluster.cmd("status", check=False).stdout

    # acks=all still succeeds: the two brokers left are the in-sync replicas
    r = tool("produce", b, TOPIC, 20, "after", 60000)
    assert r.stdout.startswith("delivered 20 failed 0"), r.stdout
    desc = tool("describe-topic", b, TOPIC).stdout
    assert desc.count("replicas 3 isr 2") == 3, desc
    got = tool("consume", b, TOPIC, "g-after", 30, 60000).stdout.split()
    assert sorted(got) == sorted([f"before-{i}" for i in range(10)] +
                                 [f"after-{i}" for i in range(20)])


def test_two_brokers_down_nothing_is_acknowledged(cluster):
    # one broker left: fewer than min.insync.replicas (and no quorum), so an
    # acks=all write is never reported delivered
    cluster.cmd("kill-broker", 2)
    r = tool("produce", cluster.brokers, TOPIC, 3, "lonely", 6000, check=False)
    assert r.returncode == 1, r.stdout
    assert r.stdout.startswith("delivered 0 "), r.stdout


def test_killed_brokers_restart_and_rejoin(cluster):
    starts = [subprocess.Popen([str(CLUSTER), "start-broker", str(n)], env=cluster.env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
              for n in (1, 2)]
    for p in starts:
        out, _ = p.communicate(timeout=180)
        assert p.returncode == 0, out
    r = tool("produce", cluster.brokers, TOPIC, 5, "rejoined", 60000)
    assert r.stdout.startswith("delivered 5 failed 0"), r.stdout
    deadline = time.monotonic() + 60
    while True:  # the restarted followers catch up and re-enter the ISR
        desc = tool("describe-topic", cluster.brokers, TOPIC).stdout
        if desc.count("isr 3") == 3 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert desc.count("replicas 3 isr 3") == 3, desc


def check_replacing_merge_tree(run_sql):
    run_sql(DDL)
    for sql in INSERTS:  # two inserts: two parts, as two loader batches make
        run_sql(sql)
    assert run_sql(QUERY_FINAL) == EXPECTED_FINAL
    assert run_sql(QUERY_UNIQ) == "3\n"


def test_clickhouse_replacing_merge_tree_with_final(cluster):
    check_replacing_merge_tree(cluster.clickhouse)


def test_same_ddl_on_current_clickhouse_through_chdb(tmp_path):
    from chdb import session  # scripts/requirements-test.txt

    s = session.Session(str(tmp_path / "chdb"))
    try:
        version = str(s.query("SELECT version()", "TSV")).strip()
        assert int(version.split(".")[0]) >= 24, version

        def run_sql(sql):
            return str(s.query(sql, "TSV"))
        check_replacing_merge_tree(run_sql)
    finally:
        s.close()


def test_down_leaves_no_process(cluster):
    pids = cluster.pids()
    assert set(pids) == set(PROCESSES), pids
    start = time.monotonic()
    cluster.cmd("down")
    print(f"cluster down in {time.monotonic() - start:.1f}s")
    for name, pid in pids.items():
        assert not alive(pid), f"{name} (pid {pid}) still runs"
    assert cluster.ours() == []
    assert "stopped" in cluster.cmd("status", check=False).stdout


def fake_program(path, body):
    path.write_text("#!/bin/bash\n" + body)
    path.chmod(0o755)


def test_up_fails_naming_what_did_not_start(tmp_path):
    """Stand-ins for java and clickhouse-server (first on PATH): brokers
    that never answer and a ClickHouse that exits at once. `up` fails, names
    each with the tail of its log, and `down` stops what is left."""
    run(ROOT / "scripts" / "install-kafka")  # Maven must not meet the fake java
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # formatting "succeeds"; a broker runs but never listens
    fake_program(bin_dir / "java", 'case "$*" in *StorageTool*) exit 0;; esac\n'
                 'echo "fake broker $*"\nwhile :; do sleep 1; done\n')
    fake_program(bin_dir / "clickhouse-server",
                 'echo "Net Exception: Address already in use: 127.0.0.1" >&2\nexit 70\n')
    c = Cluster(tmp_path / "state")
    c.env["PATH"] = f"{bin_dir}:{os.environ['PATH']}"
    try:
        r = c.cmd("up", check=False)
        assert r.returncode == 1, r.stdout + r.stderr
        assert "cluster: clickhouse exited while starting" in r.stderr, r.stderr
        assert "Address already in use" in r.stderr, r.stderr  # its log's tail

        (bin_dir / "clickhouse-server").unlink()  # the real one from now on
        c.env["REESTR_CLUSTER_TIMEOUT"] = "3"
        r = c.cmd("up", check=False)
        assert r.returncode == 1, r.stdout + r.stderr
        assert "not answering after 3s: kafka-1 kafka-2 kafka-3" in r.stderr, r.stderr
        assert r.stderr.count("fake broker") == 3, r.stderr
        assert "clickhouse" not in r.stderr.split("not answering")[1].split("\n")[0]
    finally:
        c.cmd("down", check=False)
    assert c.ours() == []
