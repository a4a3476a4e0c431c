"""Rate limits per key (docs/security.md, "Rate limits"): a key beyond its
events or bytes a second is answered 429 with Retry-After, nothing of the
refused batch is stored, and the same batch is taken once Retry-After has
passed; another key is not affected; `reestr keys limit` reaches a running
serve within a second, and is in the audit log; the mobile route is
limited as the JSON one; the agent, forwarding under a limited key, waits
as told and delivers every event once."""

import gzip
import importlib.util
import json
import os
import socket
import subprocess
import time
import uuid

from conftest import ROOT, support
from test_agent_key import start_agent, stop
from test_keys import BROWSER_REGISTRY, audit, create, keys, post, stored

REESTR = support.REESTR
LIMITS_FILE = "limits.json"  # the agent's copy of GET /v1/limits (src/agent/agent.h)
clickstream = support.clickstream


def limited(make_server, tmp_path, *rate, extra_args=()):
    """serve with a write key for example-service limited by rate (the
    options of `reestr keys create`) and an unlimited one for the same
    source."""
    data = tmp_path / "data"
    key, kid = create(data, "example-service", *rate)
    free, free_id = create(data, "example-service")
    s = make_server(data=data, extra_args=extra_args)
    s.key, s.kid, s.free = key, kid, free
    return s


def retry_after(r):
    """The 429's Retry-After, checked to be whole seconds, at least 1."""
    assert r.status == 429, r.raw
    value = r.headers.get("Retry-After")
    assert value and value.isdigit() and int(value) >= 1, r.headers
    return int(value)


def uuids(server):
    return {row["uuid"] for row in server.query("SELECT uuid FROM events")}


def test_beyond_its_events_per_second_a_key_gets_429_and_nothing_is_stored(
        make_server, tmp_path):
    # 2 events a second: a full bucket holds 4. The tests take more than a
    # bucket at first, leaving it in debt, so that the next batch waits
    # seconds, not a fraction of one: a loaded machine's slow requests do
    # not refill it in between.
    s = limited(make_server, tmp_path, "--events-per-second", "2")
    first = [clickstream() for _ in range(10)]
    r = post(s, first, key=s.key)
    assert r.status == 200 and r.json()["accepted"] == 10, r.raw
    # 4 - 10 = -6 tokens: 2 more events need (2 + 6) / 2 = 4 s
    refused = [clickstream() for _ in range(2)]
    r = post(s, refused, key=s.key)
    wait = retry_after(r)
    assert 2 <= wait <= 4, r.headers
    error = r.json()["error"]
    assert "rate limit" in error and s.kid in error and "2 events a second" in error
    assert "by its events" in error and "nothing of it was stored" in error
    assert s.key not in r.raw.decode()
    assert stored(s) == (10, 0)  # not even in failed_events
    assert uuids(s) == {e["uuid"] for e in first}
    # the log names the key, never its secret
    log = s.log.read_text()
    assert "answered 429" in log and s.kid in log and s.key not in log
    # another key of the same source is not affected
    other = [clickstream() for _ in range(20)]
    r = post(s, other, key=s.free)
    assert r.status == 200 and r.json()["accepted"] == 20, r.raw
    # and once Retry-After has passed, the same batch is taken, whole
    time.sleep(wait + 0.05)
    r = post(s, refused, key=s.key)
    assert r.status == 200 and r.json()["accepted"] == 2, r.raw
    assert stored(s) == (32, 0)
    assert uuids(s) == {e["uuid"] for e in first + other + refused}


def test_beyond_its_bytes_per_second_likewise(make_server, tmp_path):
    # 1000 bytes a second: a full bucket holds 2000
    s = limited(make_server, tmp_path, "--bytes-per-second", "1000")
    batch = [clickstream() for _ in range(20)]
    plain = json.dumps({"events": batch}).encode()
    body = gzip.compress(plain)
    assert len(plain) > 5000 and len(body) < 1500, (len(plain), len(body))
    # compressed, the batch is a fraction of the bytes on the wire, but the
    # decoded body is what counts: taken from the full bucket, it leaves
    # 2000 - len(plain) tokens (with the wire's bytes, 2000 - len(body))
    r = s.request("POST", "/v1/events", body,
                  {"Content-Type": "application/json", "Content-Encoding": "gzip",
                   "Authorization": f"Bearer {s.key}"})
    assert r.status == 200 and r.json()["accepted"] == 20, r.raw
    one = [clickstream()]
    size = len(json.dumps({"events": one}).encode())
    r = post(s, one, key=s.key)
    wait = retry_after(r)
    assert wait >= 3, (wait, len(plain), size)  # (size + len(plain) - 2000) / 1000
    error = r.json()["error"]
    assert "1000 bytes a second" in error and "by its bytes" in error, error
    assert stored(s) == (20, 0)
    # after the wait, the batch is taken whole
    time.sleep(wait + 0.05)
    r = post(s, one, key=s.key)
    assert r.status == 200 and r.json()["accepted"] == 1, r.raw
    assert stored(s) == (21, 0)


def test_a_limit_change_takes_effect_without_restart(make_server, tmp_path):
    # no limit yet: two batches of 3,000 events back to back are taken
    s = limited(make_server, tmp_path)
    for _ in range(2):
        r = post(s, [clickstream() for _ in range(3000)], key=s.key)
        assert r.status == 200 and r.json()["accepted"] == 3000, r.raw
    # limited to 1 event a second (2 held): serve reads keys.db again at
    # most every 200 ms, so after 0.3 s the next request meets the limit:
    # 6 events from the full bucket leave it at -4, and 1 more waits 5 s
    keys(s.data, "limit", s.kid, "--events-per-second", "1")
    time.sleep(0.3)
    r = post(s, [clickstream() for _ in range(6)], key=s.key)
    assert r.status == 200 and r.json()["accepted"] == 6, r.raw
    r = post(s, [clickstream()], key=s.key)
    assert retry_after(r) >= 3, r.headers
    assert "1 event a second" in r.json()["error"]
    assert stored(s) == (6006, 0)
    # raised to 1000 a second: the tokens come at the new rate from the
    # next request on, so what the old rate made wait 5 s now waits at
    # most one
    keys(s.data, "limit", s.kid, "--events-per-second", "1000")
    time.sleep(0.3)
    r = post(s, [clickstream() for _ in range(5)], key=s.key)
    if r.status == 429:
        assert retry_after(r) == 1 and "1000 events a second" in r.json()["error"]
        time.sleep(1.05)
        r = post(s, [clickstream() for _ in range(5)], key=s.key)
    assert r.status == 200 and r.json()["accepted"] == 5, r.raw
    # lifted (0: no limit): two batches of 3,000 back to back again, which
    # 1000 a second (2,000 held) would not take
    keys(s.data, "limit", s.kid, "--events-per-second", "0")
    time.sleep(0.3)
    for _ in range(2):
        r = post(s, [clickstream() for _ in range(3000)], key=s.key)
        assert r.status == 200 and r.json()["accepted"] == 3000, r.raw
    # each change in the audit log, by id, with the new rates
    lines = [l for l in audit(s.data) if l["action"] == "key limit"]
    assert [(l["id"], l["events_per_second"], l["bytes_per_second"])
            for l in lines] == [(s.kid, 1, 0), (s.kid, 1000, 0), (s.kid, 0, 0)], lines
    assert "who" in lines[0] and "time" in lines[0]
    # and `keys list` shows the rates
    listed = json.loads(keys(s.data, "list", "--format", "json").stdout)
    mine = [k for k in listed if k["id"] == s.kid][0]
    assert mine["events_per_second"] == 0 and mine["bytes_per_second"] == 0
    keys(s.data, "limit", s.kid, "--bytes-per-second", "5000")
    listed = json.loads(keys(s.data, "list", "--format", "json").stdout)
    mine = [k for k in listed if k["id"] == s.kid][0]
    assert mine["events_per_second"] == 0 and mine["bytes_per_second"] == 5000


def test_limit_refuses_what_it_cannot_apply(tmp_path):
    data = tmp_path / "data"
    _, read_id = create(data, "analyst", "--read")
    out = keys(data, "limit", read_id, "--events-per-second", "5", check=False)
    assert out.returncode == 1 and "read key" in out.stderr
    out = keys(data, "create", "analyst", "--read", "--events-per-second", "5",
               check=False)
    assert out.returncode == 2 and "read key" in out.stderr
    _, kid = create(data, "example-service")
    for bad in ("-1", "x", "nan", "1e99"):
        out = keys(data, "limit", kid, "--events-per-second", bad, check=False)
        assert out.returncode == 2 and "not a number" in out.stderr, bad
    out = keys(data, "limit", kid, check=False)
    assert out.returncode == 2 and "--events-per-second" in out.stderr
    out = keys(data, "limit", "0123456789abcdef", "--bytes-per-second", "1",
               check=False)
    assert out.returncode == 1 and "no key has the id" in out.stderr
    # nothing of these is in the audit log
    assert [l for l in audit(data) if l["action"] == "key limit"] == []


def test_the_external_route_is_limited_as_the_json_one(make_server, tmp_path):
    data = tmp_path / "data"
    key, kid = create(data, "partner-feed", "--events-per-second", "1")
    s = make_server(data=data)
    h = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}

    def body(*ids):
        return json.dumps([{"someIntField": i, "someStringField": f"q{i}"}
                           for i in ids]).encode()

    # 5 from a full bucket of 2 leave -3: one more waits 4 s
    r = s.request("POST", "/v1/external/partner_feed", body(1, 2, 3, 4, 5), h)
    assert r.status == 200 and r.json()["accepted"] == 5, r.raw
    r = s.request("POST", "/v1/external/partner_feed", body(6), h)
    wait = retry_after(r)
    assert "rate limit" in r.json()["error"] and kid in r.json()["error"]
    assert stored(s) == (5, 0)
    time.sleep(wait + 0.05)
    r = s.request("POST", "/v1/external/partner_feed", body(6), h)
    assert r.status == 200 and r.json()["accepted"] == 1, r.raw
    assert stored(s) == (6, 0)


def test_a_browsers_beacon_gets_429_it_can_read(make_server, tmp_path):
    """A publishable key's rate, on POST /v1/beacon: the 429 carries the
    CORS headers, Retry-After among those a page may read."""
    data = tmp_path / "data"
    reg = tmp_path / "registry"
    reg.mkdir()
    (reg / "registry.yaml").write_text(BROWSER_REGISTRY)
    key, kid = create(data, "web-frontend", "--publishable", "--environment",
                      "front", "--origin", "https://www.example.com",
                      "--events-per-second", "1")
    s = make_server(registry=reg, data=data)

    def ev():
        return {"event_id": 1, "version": 0, "uuid": support.uuid7(),
                "time": support.now_rfc3339(), "environment": "front",
                "source": "web-frontend", "fields": {"path": "/"}}

    h = {"Content-Type": "text/plain", "Origin": "https://www.example.com"}
    # 5 from a full bucket of 2 leave -3: one more waits 4 s
    r = post(s, [ev() for _ in range(5)], headers=h, path=f"/v1/beacon?key={key}")
    assert r.status == 200 and r.json()["accepted"] == 5, r.raw
    r = post(s, [ev()], headers=h, path=f"/v1/beacon?key={key}")
    retry_after(r)
    assert r.headers.get("Access-Control-Allow-Origin") == "https://www.example.com"
    assert "Retry-After" in r.headers.get("Access-Control-Expose-Headers", "")
    assert kid in r.json()["error"]
    assert stored(s) == (5, 0)


def _mobile_common():
    spec = importlib.util.spec_from_file_location(
        "mobile_common", ROOT / "tests" / "integration" / "mobile_common.py")
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return m


def test_the_mobile_route_is_limited_as_the_json_one(make_server, tmp_path):
    mc = _mobile_common()
    registry = mc.write_registry(tmp_path / "registry")
    data = tmp_path / "data"
    key, kid = create(data, "android-app", "--events-per-second", "2")
    s = make_server(registry=registry, data=data)
    auth = {"Authorization": f"Bearer {key}"}

    def events(n):
        return [{"eventId": 900, "version": 0, "uuid": str(uuid.uuid4()),
                 "timestamp_ms": int(time.time() * 1000),
                 "params": {"user.id": "5", "screen": "cart", "count": "3"}}
                for _ in range(n)]

    # 10 from a full bucket of 4 leave -6: two more wait 4 s
    r = mc.post(s, mc.batch(events(10)), accept="application/json", headers=auth)
    assert r.status == 200, r.raw
    assert [x["status"] for x in r.json()["results"]] == ["accepted"] * 10
    r = mc.post(s, mc.batch(events(2)), accept="application/json", headers=auth)
    wait = retry_after(r)
    assert "rate limit" in r.json()["error"] and kid in r.json()["error"]
    assert stored(s) == (10, 0)
    time.sleep(wait + 0.05)
    r = mc.post(s, mc.batch(events(2)), accept="application/json", headers=auth)
    assert r.status == 200, r.raw
    assert stored(s) == (12, 0)


def test_the_mobile_route_applies_the_keys_source(make_server, tmp_path):
    """A write key on /v1/mobile: its app's events are stored, another
    source's key is forbidden per event (serve crashed on a keyed mobile
    request before: the per-event rule read the JSON tree the mobile route
    does not build)."""
    mc = _mobile_common()
    registry = mc.write_registry(tmp_path / "registry")
    data = tmp_path / "data"
    key, _ = create(data, "android-app")
    other, other_id = create(data, "example-service")
    s = make_server(registry=registry, data=data)
    ev = {"eventId": 900, "version": 0, "timestamp_ms": int(time.time() * 1000),
          "params": {"user.id": "5", "screen": "cart", "count": "3"}}
    r = mc.post(s, mc.batch([dict(ev, uuid=str(uuid.uuid4()))]),
                accept="application/json",
                headers={"Authorization": f"Bearer {other}"})
    assert r.status == 403, r.raw
    res = r.json()["results"][0]
    assert res["status"] == "rejected" and "android-app" in res["error"]
    assert other_id in res["error"]
    assert stored(s) == (0, 0)
    r = mc.post(s, mc.batch([dict(ev, uuid=str(uuid.uuid4()))]),
                accept="application/json",
                headers={"Authorization": f"Bearer {key}"})
    assert r.status == 200, r.raw
    assert r.json()["results"][0]["status"] == "accepted"
    assert stored(s) == (1, 0)


def test_the_agent_under_a_limited_key_waits_and_delivers_everything(
        make_server, tmp_path):
    # 20 events a second (40 held), batches of at most 10 (the collector's
    # limit, which the agent reads): 120 events take >= (120 - 40) / 20 s
    data = tmp_path / "data"
    key, kid = create(data, "example-service", "--events-per-second", "20")
    s = make_server(data=data, extra_args=["--max-batch-events", "10"])
    a = tmp_path / "a"
    a.mkdir()
    proc, sock = start_agent(a, s.url, key)
    try:
        # the agent batches by the collector's limits once it has read
        # them (and kept a copy in its spool folder)
        copy = a / "spool" / LIMITS_FILE
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (
                copy.exists() and '"max_batch_events":10,' in copy.read_text()):
            time.sleep(0.1)
        assert '"max_batch_events":10,' in copy.read_text()
        events = [clickstream() for _ in range(120)]
        started = time.monotonic()
        with socket.socket(socket.AF_UNIX) as c:
            c.connect(sock)
            c.sendall(("\n".join(json.dumps(e) for e in events) + "\n").encode())
            got = b""
            while got.count(b"\n") < len(events):
                chunk = c.recv(65536)
                assert chunk, got
                got += chunk
        assert got.decode().splitlines() == ["ok"] * 120
        deadline = time.monotonic() + 90
        while stored(s)[0] < 120 and time.monotonic() < deadline:
            time.sleep(0.2)
        took = time.monotonic() - started
        time.sleep(0.5)
    finally:
        stop(proc)
    # everything, once, nothing failed
    assert stored(s) == (120, 0)
    assert uuids(s) == {e["uuid"] for e in events}
    # limited: it took the rate's time, and the collector said 429
    assert took >= (120 - 40) / 20 - 0.5, took
    log = s.log.read_text()
    refusals = log.count("answered 429")
    assert refusals >= 1, log
    # the agent waited as told (whole seconds), so the refusals are few:
    # about one a second of the delay, not one per backoff step
    assert refusals <= took + 3, (refusals, took)
    agent_log = (a / "agent.log").read_text()
    assert "rate limit for the agent's key" in agent_log, agent_log
    assert key not in agent_log


def test_reestr_send_waits_as_told_and_delivers_everything(make_server, tmp_path):
    """`reestr send --collector` under a key of 1 event a second, batches of
    12 (the collector's --max-batch-events): the first batch empties the
    bucket and leaves it in debt, so the second is answered 429 with a
    Retry-After of 12 s, longer than the 10 s send gives a batch nobody
    answered; it waits as told and delivers both, each event once."""
    data = tmp_path / "data"
    key, kid = create(data, "example-service", "--events-per-second", "1")
    s = make_server(data=data, extra_args=["--max-batch-events", "12"])
    lines = "".join(
        '{"user":{"id":%d},"geo":{"latitude":1,"longitude":2},'
        '"user_agent":"rate"}\n' % (i + 1) for i in range(24))
    env = {k: v for k, v in os.environ.items() if k != "REESTR_KEY"}
    env["REESTR_KEY"] = key
    started = time.monotonic()
    out = subprocess.run(
        [REESTR, "send", "--collector", s.url, "--environment", "bo",
         "--source", "example-service", "--event", "clickstream_event",
         "--version", "0", "--ndjson"],
        input=lines, capture_output=True, text=True, env=env, timeout=120)
    took = time.monotonic() - started
    assert out.returncode == 0, out.stderr
    assert stored(s) == (24, 0)
    assert took >= 10, took  # the rate's time: 12 events at 1 a second
    refusals = s.log.read_text().count("answered 429")
    assert 1 <= refusals <= 2, refusals  # not one per backoff step
    assert key not in out.stderr
