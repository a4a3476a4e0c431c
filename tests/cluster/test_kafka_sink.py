"""The Kafka sink (docs/scale-out.md, "The Kafka sink"): `reestr serve --sink
kafka` answers `accepted` only once Kafka confirmed the event, and the
messages carry the layout of src/sink/kafka_message.h. Tests that leave the
brokers running share one cluster (`shared_cluster`), each with its own topic
prefix; the test that stops the brokers starts a cluster of its own.
Messages are read back with build/kafka_dump (librdkafka, no consumer group).
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid as uuidlib
from datetime import datetime, timezone

import pytest

from clusterlib import REESTR, ROOT, run, start_cluster, tool

KAFKA_DUMP = REESTR.parent / "kafka_dump"
EXAMPLES = ROOT / "examples" / "registry"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def uuid7():
    ms = time.time_ns() // 1_000_000
    value = (ms << 80) | int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)
    value = (value & ~(0x3 << 62)) | (0x2 << 62)
    return str(uuidlib.UUID(int=value))


def clickstream(env="bo", **fields):
    f = {"user": {"id": 413, "email": "user413@example.com"},
         "geo": {"latitude": 20.22, "longitude": -10.11},
         "user_agent": "fluffy_browser"}
    f.update(fields)
    return {"event_id": 100, "version": 0, "uuid": uuid7(),
            "time": datetime.now(timezone.utc).isoformat(
                timespec="microseconds"),
            "environment": env, "source": "example-service", "fields": f}


def item_click(env="front"):
    ev = clickstream(env=env)
    ev.update(event_id=200, version=0,
              fields={"item_id": 5, "position": 0})
    return ev


def prefix():
    return "t" + uuidlib.uuid4().hex[:10]


class Collector:
    """`reestr serve --sink kafka` on a free port, its log in tmp."""

    def __init__(self, tmp, brokers, *extra):
        self.port = free_port()
        self.log = tmp / f"serve-{self.port}.log"
        self.args = [str(REESTR), "serve", "--insecure-local", "--dev", "--registry", str(EXAMPLES),
                     "--data", str(tmp / f"data-{self.port}"), "--listen",
                     f"127.0.0.1:{self.port}", "--sink", "kafka",
                     "--kafka-brokers", brokers, *map(str, extra)]
        self.proc = None

    def start(self, want_healthy=True, timeout=60):
        with open(self.log, "ab") as logf:
            self.proc = subprocess.Popen(self.args, stdout=logf, stderr=logf)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited {self.proc.returncode}:"
                                     f"\n{self.log.read_text()}")
            try:
                st, _, _ = self.get("/healthz")
                if st == 200 or not want_healthy:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"serve not healthy:\n{self.log.read_text()}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            assert self.proc.wait(timeout=60) == 0, self.log.read_text()

    def request(self, method, path, body=None, timeout=60):
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=body, method=method,
            headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.read(), dict(r.headers)
        except urllib.error.HTTPError as e:
            return e.code, e.read(), dict(e.headers)

    def get(self, path):
        return self.request("GET", path, timeout=5)

    def post(self, events):
        return self.request("POST", "/v1/events",
                            json.dumps({"events": events}).encode())

    def wait_health(self, ok, timeout):
        deadline = time.time() + timeout
        while True:
            st, body, _ = self.get("/healthz")
            if (st == 200) == ok:
                return json.loads(body)
            assert time.time() < deadline, \
                f"/healthz still {st} {body}:\n{self.log.read_text()}"
            time.sleep(0.2)


def dump(brokers, topic):
    """Every message topic holds now, as dicts (headers as a dict)."""
    r = run(KAFKA_DUMP, brokers, topic, 30000)
    out = []
    for line in r.stdout.splitlines():
        m = json.loads(line)
        m["headers"] = dict(m["headers"])
        out.append(m)
    return out


@pytest.fixture
def collectors(tmp_path):
    started = []

    def make(brokers, *extra, want_healthy=True):
        c = Collector(tmp_path, brokers, *extra)
        started.append(c)
        return c.start(want_healthy)

    yield make
    for c in started:
        c.stop()


def test_events_reach_their_topics_with_key_value_and_headers(
        shared_cluster, collectors):
    b, p = shared_cluster.brokers, prefix()
    c = collectors(b, "--kafka-topic-prefix", p)
    assert re.search(rf"sink kafka \(brokers {re.escape(b)}, "
                     rf"topics {p}\.events", c.log.read_text())
    bo, front = clickstream(), item_click()
    bad = clickstream()
    bad["fields"]["user"]["id"] = "x"
    st, body, _ = c.post([bo, front, bad, bo])
    assert st == 200, body
    assert [r["status"] for r in json.loads(body)["results"]] == [
        "accepted", "accepted", "rejected", "duplicate"]

    # the second bo (same time and uuid in one batch) was not produced
    msgs = dump(b, f"{p}.events.bo")
    assert len(msgs) == 1
    m = msgs[0]
    assert m["key"] == bo["uuid"]
    value = json.loads(m["value"])
    assert value["uuid"] == bo["uuid"] and value["fields"] == bo["fields"]
    assert value["time"].endswith("Z") and value["environment"] == "bo"
    assert m["headers"]["reestr-event-id"] == "100"
    assert m["headers"]["reestr-version"] == "0"
    received = int(m["headers"]["reestr-received-at"])
    assert abs(received / 1e6 - time.time()) < 120
    assert [json.loads(x["value"])["uuid"]
            for x in dump(b, f"{p}.events.front")] == [front["uuid"]]

    failed = dump(b, f"{p}.failed")
    assert len(failed) == 1
    f = failed[0]
    assert uuidlib.UUID(f["key"]).version == 7
    assert json.loads(f["value"])["uuid"] == bad["uuid"]
    h = f["headers"]
    assert h["reestr-reason"] == \
        "fields.user.id: expected an integer, got a string"
    assert (h["reestr-event-id"], h["reestr-version"],
            h["reestr-source"]) == ("100", "0", "example-service")
    assert int(h["reestr-payload-length"]) == len(f["value"].encode())
    assert len(h["reestr-payload-sha256"]) == 64

    # a redelivery in another request is accepted and produced again (the
    # warehouse collapses it); /v1/stats lives in the store, not here
    st, body, _ = c.post([bo])
    assert st == 200 and json.loads(body)["accepted"] == 1
    assert [x["key"] for x in dump(b, f"{p}.events.bo")] == [bo["uuid"]] * 2
    assert c.get("/v1/stats?from=2026-01-01T00:00:00Z")[0] == 501


def test_topics_created_with_the_flags(shared_cluster, collectors):
    b, p = shared_cluster.brokers, prefix()
    collectors(b, "--kafka-topic-prefix", p, "--kafka-partitions", 2)
    out = tool("describe-topic", b, f"{p}.failed").stdout
    assert len(re.findall(r"^partition \d+ leader \d+ replicas 3 isr 3$", out,
                          re.M)) == 2, out
    assert "min.insync.replicas 2" in out


@pytest.mark.parametrize("rf, isr, words", [
    (3, 1, "min.insync.replicas is 1, must be at least 2"),
    (2, 2, "replication factor 2 is less than min.insync.replicas + 1 (3)"),
])
def test_unsafe_existing_topic_refuses_start(shared_cluster, tmp_path, rf,
                                             isr, words):
    b, p = shared_cluster.brokers, prefix()
    tool("create-topic", b, f"{p}.failed", 1, rf, isr)
    r = run(REESTR, "serve", "--insecure-local", "--dev", "--registry", EXAMPLES, "--data",
            tmp_path / "d", "--listen", "127.0.0.1:0", "--sink", "kafka",
            "--kafka-brokers", b, "--kafka-topic-prefix", p, check=False,
            timeout=60)
    assert r.returncode == 1, r.stderr
    assert f"topic {p}.failed: {words}" in r.stderr
    # refused before it created anything
    assert "created topic" not in r.stderr
    assert tool("describe-topic", b, f"{p}.events.bo",
                check=False).returncode != 0


@pytest.mark.parametrize("args, words", [
    (["--kafka-min-insync-replicas", "1"], "min.insync.replicas is 1"),
    (["--kafka-replication-factor", "2"], "replication factor 2"),
    (["--kafka-topic-prefix", "a/b"], "character 2"),
])
def test_unsafe_flags_refuse_start(tmp_path, args, words):
    r = run(REESTR, "serve", "--insecure-local", "--dev", "--data", tmp_path / "d", "--listen",
            "127.0.0.1:0", "--sink", "kafka", "--kafka-brokers",
            "127.0.0.1:1", *args, check=False)
    assert r.returncode == 1 and words in r.stderr, r.stderr


def test_command_line_and_config_file_errors(tmp_path):
    base = [REESTR, "serve", "--insecure-local", "--dev", "--data", tmp_path / "d", "--listen",
            "127.0.0.1:0"]
    r = run(*base, "--sink", "kafka", check=False)
    assert r.returncode == 2 and "--kafka-brokers" in r.stderr
    r = run(*base, "--kafka-brokers", "h:1", check=False)
    assert r.returncode == 2 and "--kafka-brokers needs --sink kafka" in \
        r.stderr
    r = run(*base, "--sink", "mysql", check=False)
    assert r.returncode == 2 and "not sqlite or kafka" in r.stderr
    cfg = tmp_path / "kafka.properties"
    cfg.write_text("# tuning\nlinger.ms=10\nacks=1\n")
    r = run(*base, "--sink", "kafka", "--kafka-brokers", "127.0.0.1:1",
            "--kafka-config", cfg, check=False)
    assert r.returncode == 1
    assert f"{cfg}:3: acks cannot be set here" in r.stderr
    cfg.write_text("linger.ms=10\ncompression.type=brotli\n")
    r = run(*base, "--sink", "kafka", "--kafka-brokers", "127.0.0.1:1",
            "--kafka-config", cfg, check=False)
    assert r.returncode == 1 and f"{cfg}:2: " in r.stderr, r.stderr


def assert_503(c, events):
    st, body, headers = c.post(events)
    assert st == 503, body
    assert headers.get("Retry-After") == "5"
    assert "nothing of this batch was stored" in json.loads(body)["error"]


def post_until_accepted(c, ev, timeout=60):
    """As a sender does: send again after a 503 until it is accepted (a
    fresh cluster may need a few seconds for its first write: the
    producer id, the new partitions' leaders)."""
    deadline = time.time() + timeout
    while True:
        st, body, headers = c.post([ev])
        if st == 200:
            assert json.loads(body)["accepted"] == 1, body
            return
        assert st == 503 and headers.get("Retry-After") == "5", body
        assert time.time() < deadline, body
        time.sleep(0.5)


def test_kafka_unavailable_at_start_and_during_a_run(tmp_path, collectors):
    """One collector loses every broker during its run, a second starts
    while they are down (its topics do not exist yet); both answer 503 with
    Retry-After and say why on /healthz, and both recover by themselves
    when the brokers return (one `up`, to keep the test short)."""
    cl = start_cluster(tmp_path / "cluster")
    t0 = time.monotonic()

    def step(what):
        print(f"{time.monotonic() - t0:5.1f}s {what}")
    try:
        b, late_prefix = cl.brokers, prefix()
        running = collectors(b, "--kafka-delivery-timeout-ms", 3000)
        first = clickstream()
        post_until_accepted(running, first)
        step("accepted")

        for n in (1, 2, 3):
            cl.cmd("kill-broker", n)
        step("brokers killed")
        lost = [clickstream() for _ in range(3)]
        assert_503(running, lost)
        reason = running.wait_health(False, 10)["reason"]
        assert reason.startswith("no Kafka broker reachable") or \
            reason.startswith("last Kafka delivery failed"), reason
        assert_503(running, lost)
        step("503 during the run")

        late = collectors(b, "--kafka-topic-prefix", late_prefix,
                          "--kafka-delivery-timeout-ms", 3000,
                          want_healthy=False)
        assert late.wait_health(False, 5)["reason"].startswith(
            "Kafka topics not checked yet: no Kafka broker reachable")
        early = clickstream()
        assert_503(late, [early])
        step("503 at start")

        cl.cmd("up", timeout=180)
        step("brokers up")
        for c in (running, late):
            c.wait_health(True, 60)
            ev = clickstream()
            post_until_accepted(c, ev)
            c.accepted = ev
        step("both healthy and accepting")
        assert f"created topic {late_prefix}.events.bo" in \
            late.log.read_text()
        # what was answered accepted is in the topics (a retried event
        # may be there twice: the warehouse collapses it), what was sent
        # only while every broker was down is not
        assert {m["key"] for m in dump(b, "reestr.events.bo")} == \
            {first["uuid"], running.accepted["uuid"]}
        assert {m["key"] for m in dump(b, f"{late_prefix}.events.bo")} == \
            {late.accepted["uuid"]}
    finally:
        cl.cmd("down", check=False, timeout=120)


def test_fatal_producer_error_replaces_the_producer(shared_cluster):
    """A fabricated fatal (idempotence) error: writes fail, never succeed,
    until the poll thread has put a new producer in place; then they
    succeed again, and the topic holds exactly the writes that returned
    0 (tests/tools/kafka_sink_fatal.c drives the sink in-process)."""
    b, p = shared_cluster.brokers, prefix()
    r = run(REESTR.parent / "kafka_sink_fatal", b, p, EXAMPLES, check=False,
            timeout=90)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "fatal producer error (test_fatal_error: fabricated by a " \
        "test)" in r.stderr
    assert "new producer in place" in r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "before ok"
    writes = [x for x in lines if x.startswith("write ")]
    assert writes[-1].endswith(": ok")
    assert all(": failed: " in x for x in writes[:-1])
    stored = {x.split()[1] for x in lines if x.startswith("stored ")}
    assert len(stored) == 2
    assert {m["key"] for m in dump(b, f"{p}.events.bo")} == stored


def test_reload_adds_the_topic_of_a_new_environment(shared_cluster,
                                                    collectors, tmp_path):
    """A reload whose registry has a new environment creates its topic,
    checked like the others, before any request may use it."""
    b, p = shared_cluster.brokers, prefix()
    reg = tmp_path / "registry"
    shutil.copytree(EXAMPLES, reg)
    c = collectors(b, "--kafka-topic-prefix", p, "--registry", reg)
    st, body, _ = c.post([item_click(env="kiosk")])
    assert st == 200 and json.loads(body)["rejected"] == 1, body
    env = reg / "environments.yaml"
    env.write_text(env.read_text() + "  kiosk:\n    description: In-store kiosks.\n"
                   "    events:\n      - item_click\n")
    deadline = time.time() + 60
    while "reloaded registry" not in c.log.read_text():
        assert time.time() < deadline, c.log.read_text()
        time.sleep(0.1)
    assert "+environment kiosk" in c.log.read_text()
    ev = item_click(env="kiosk")
    st, body, _ = c.post([ev])
    assert st == 200 and json.loads(body)["accepted"] == 1, body
    assert [json.loads(x["value"])["uuid"]
            for x in dump(b, f"{p}.events.kiosk")] == [ev["uuid"]]
    out = tool("describe-topic", b, f"{p}.events.kiosk").stdout
    assert "min.insync.replicas 2" in out, out


def test_personal_data_never_reaches_kafka_in_clear(shared_cluster,
                                                    collectors, tmp_path):
    """The PII policy (docs/security.md, "Personal data") is applied before
    the sink: the event and failed topics carry hashes or nothing."""
    import hashlib
    import hmac
    b, p = shared_cluster.brokers, prefix()
    reg = tmp_path / "registry"
    shutil.copytree(EXAMPLES, reg)
    env = reg / "environments.yaml"
    text = env.read_text()
    text = text.replace("    description: Backend services, daemons and cron "
                        "jobs (PHP, Go, Python).\n    pii: store\n",
                        "    description: Backend services.\n    pii: hash\n")
    text = text.replace("The mobile apps, sending protobuf through "
                        "the proxy.\n    pii: store\n",
                        "The mobile apps.\n    pii: redact\n")
    assert "pii: hash" in text and "pii: redact" in text, text
    env.write_text(text)
    c = collectors(b, "--kafka-topic-prefix", p, "--registry", reg)
    email = "user413@example.com"
    bo, mobile = clickstream(), clickstream(env="mobile")
    bad = clickstream()
    bad["fields"]["user"]["id"] = "x"
    st, body, _ = c.post([bo, mobile, bad])
    assert st == 200, body
    assert [r["status"] for r in json.loads(body)["results"]] == [
        "accepted", "accepted", "rejected"]
    key = next(tmp_path.glob("data-*/pii.key")).read_bytes().rstrip(b"\n")
    want = hmac.new(key, email.encode(), hashlib.sha256).hexdigest()
    [m] = dump(b, f"{p}.events.bo")
    assert json.loads(m["value"])["fields"]["user"] == {"id": 413,
                                                         "email": want}
    [m] = dump(b, f"{p}.events.mobile")
    assert json.loads(m["value"])["fields"]["user"] == {"id": 413}
    [f] = dump(b, f"{p}.failed")
    assert email not in f["value"]
    assert json.loads(f["value"])["fields"]["user"]["email"] == want
