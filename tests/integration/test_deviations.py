"""Deviations and unused events (docs/governance.md) against seeded data
with known answers: each rule kind fires exactly when it should, and not
on normal data; items keep their status and history; unused versions with
a controlled clock; bad rules refused by `reestr check`."""

import json
import re
import os
import subprocess
import time
from datetime import datetime, timedelta, timezone

import pytest

from conftest import REESTR, run, uuid7

REGISTRY = """\
owners:
  shop:
    contact: shop@example.com
sources:
  web:
    owner: shop
  app:
    owner: shop
environments:
  bo:
    events: [checkout_started, payment_done, page_hit, legacy_ping]
    # technical thresholds for every event of bo
    checks:
      - {kind: reject_rate, max: 0.2, min_events: 5}
      - {kind: new_reasons, days: 7}
    unused_after: 14
events:
  checkout_started:
    id: 1
    owner: shop
    checks:
      - {kind: range, field: amount, min: 1, max: 1000}
      - {kind: null_share, field: coupon, max: 0.5, min_events: 4}
      - {kind: enum_share, field: method, value: wallet, max: 0.5, min_events: 4}
    versions:
      - version: 0
        fields:
          amount: {type: int}
          method: {type: enum, values: [card, wallet]}
          coupon: {type: string, required: false}
  payment_done:
    id: 2
    owner: shop
    checks:
      - {kind: relation, op: "<=", event: checkout_started}
    versions:
      - version: 0
        fields:
          amount: {type: int}
  page_hit:
    id: 3
    owner: shop
    checks:
      - {kind: volume, per: hour, min: 5, max: 20}
      - {kind: volume_change, ratio: 3, days: 7, min_median: 4}
      - {kind: freshness, minutes: 30, days: 7}
    versions:
      - version: 0
        fields:
          path: {type: string}
  legacy_ping:
    id: 4
    owner: shop
    unused_after: 3
    versions:
      - version: 0
        fields:
          n: {type: int}
      - version: 1
        fields:
          n: {type: int}
          m: {type: int, required: false}
"""

H = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)  # the hour evaluated
NOW = "2026-11-20T10:05:00Z"


def ts(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def ev(event_id, t, source, fields, version=0):
    return {"event_id": event_id, "version": version, "uuid": uuid7(),
            "time": ts(t), "environment": "bo", "source": source,
            "fields": fields}


def checkout(t, source="web", amount=100, method="card", coupon="X1"):
    f = {"amount": amount, "method": method}
    if coupon is not None:
        f["coupon"] = coupon
    return ev(1, t, source, f)


@pytest.fixture
def registry(tmp_path):
    d = tmp_path / "reg"
    (d / "events").mkdir(parents=True)
    (d / "registry.yaml").write_text(REGISTRY)
    out = run("check", str(d))
    assert out.returncode == 0, out.stderr
    return d


def post(srv, events):
    for i in range(0, len(events), 100):
        r = srv.post_events(events[i:i + 100])
        assert r.status == 200, r.raw


def normal_data():
    """An ordinary hour: every rule holds."""
    evs = []
    for i in range(8):  # 2 wallets of 8, 2 coupons missing of 8
        evs.append(checkout(H + timedelta(minutes=5 * i), amount=10 + 60 * i,
                            method="wallet" if i < 2 else "card",
                            coupon=None if i in (3, 4) else "X"))
    evs += [ev(2, H + timedelta(minutes=i), "web", {"amount": 5})
            for i in range(5)]
    for day in range(0, 8):  # 10 page hits in the same hour, 8 days
        evs += [ev(3, H - timedelta(days=day) + timedelta(minutes=5 * i),
                   "web", {"path": "/"}) for i in range(10)]
    return evs


def deviations(data, registry, *args, now=NOW, run_it=True):
    cmd = ["deviations", "--data", str(data), "--registry", str(registry),
           "--now", now, "--json", *args]
    if run_it:
        cmd.insert(1, "--run")
    out = run(*cmd)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["deviations"]


def found(items, status=None):
    return sorted((d["kind"], d["event"], d["source"]) for d in items
                  if status is None or d["status"] == status)


def test_normal_data_fires_nothing(make_server, registry):
    srv = make_server(registry=registry)
    post(srv, normal_data())
    assert deviations(srv.data, registry) == []
    # the same at the next hour's end for the field rules (no data: no
    # sample) — but page_hit's volume (min 5 per hour) and freshness fire
    later = deviations(srv.data, registry, now="2026-11-20T11:05:00Z")
    assert found(later) == [("freshness", "page_hit", "web"),
                            ("volume", "page_hit", "")]
    fresh = [d for d in later if d["kind"] == "freshness"][0]
    assert "no event from web since 2026-11-20T09:45:00.000000Z" in \
        fresh["detail"]
    assert fresh["owner"] == "shop"
    assert fresh["contact"] == "shop@example.com"
    assert fresh["rule_at"].startswith("registry.yaml:")


def bad_data():
    evs = []
    for i in range(8):
        evs.append(checkout(H + timedelta(minutes=5 * i),
                            amount=5000 if i == 0 else 100,
                            method="wallet" if i < 6 else "card",
                            coupon=None if i < 6 else "X"))
    evs += [ev(2, H + timedelta(minutes=i), "web", {"amount": 5})
            for i in range(5)]
    # app pays three times without a checkout
    evs += [ev(2, H + timedelta(minutes=i), "app", {"amount": 5})
            for i in range(3)]
    # page_hit: 40 this hour against 10 on each day before; app sent
    # yesterday and is silent since
    evs += [ev(3, H + timedelta(seconds=80 * i), "web", {"path": "/"})
            for i in range(40)]
    for day in range(1, 8):
        evs += [ev(3, H - timedelta(days=day) + timedelta(minutes=5 * i),
                   "web", {"path": "/"}) for i in range(10)]
    evs.append(ev(3, H - timedelta(days=1), "app", {"path": "/"}))
    return evs


def test_each_rule_fires_on_its_bad_data(make_server, registry):
    srv = make_server(registry=registry)
    post(srv, bad_data())
    items = deviations(srv.data, registry)
    assert found(items) == [
        ("enum_share", "checkout_started", "web"),
        ("freshness", "page_hit", "app"),
        ("null_share", "checkout_started", "web"),
        ("range", "checkout_started", "web"),
        ("relation", "payment_done", "app"),
        ("volume", "page_hit", ""),
        ("volume_change", "page_hit", ""),
    ]
    by = {d["kind"]: d for d in items}
    assert by["range"]["detail"] == (
        "1 of 8 events with amount outside the range (from 1 to 1000) in "
        "the hour from 2026-11-20T09:00Z")
    assert by["null_share"]["detail"].startswith(
        "coupon is null in 6 of 8 events (75%)")
    assert by["enum_share"]["detail"].startswith(
        "method = wallet in 6 of 8 events (75%)")
    assert by["relation"]["detail"].startswith(
        "3 payment_done against 0 checkout_started from app")
    assert by["volume"]["detail"].startswith("40 events in the hour from")
    assert "median of 10" in by["volume_change"]["detail"]
    assert "x4" in by["volume_change"]["detail"]
    for d in items:
        assert d["status"] == "open"
        assert d["first_seen"] == d["last_seen"] == \
            "2026-11-20T10:05:00.000000Z"
        assert [h["status"] for h in d["history"]] == ["open"]
        assert d["version"] is None  # the event's rules: every version

    # the same evaluation again changes nothing: same ids, no history
    again = deviations(srv.data, registry)
    assert [(d["id"], d["status"], len(d["history"])) for d in again] == \
        [(d["id"], d["status"], 1) for d in items]

    # acknowledge one, resolve another by hand
    rid = by["range"]["id"]
    vid = by["volume"]["id"]
    out = run("deviations", "--data", str(srv.data), "--now", NOW,
              "--note", "known bad import", "--by", "alice", "ack", str(vid))
    assert out.returncode == 0, out.stderr
    shown = json.loads(out.stdout)["deviations"]
    assert shown[0]["status"] == "acknowledged"
    assert shown[0]["history"][-1] == {
        "at": "2026-11-20T10:05:00.000000Z", "status": "acknowledged",
        "by": "alice", "note": "known bad import"}
    out = run("deviations", "--data", str(srv.data), "ack", str(vid))
    assert out.returncode == 1 and "already acknowledged" in out.stderr
    out = run("deviations", "--data", str(srv.data), "ack", "999")
    assert out.returncode == 1 and "no deviation 999" in out.stderr
    out = run("deviations", "--data", str(srv.data), "--now", NOW,
              "resolve", str(rid))
    assert out.returncode == 0, out.stderr

    # still there at the next run: the resolved one opens again, the
    # acknowledged one stays acknowledged
    again = {d["id"]: d for d in deviations(srv.data, registry)}
    assert again[rid]["status"] == "open"
    assert [h["status"] for h in again[rid]["history"]] == \
        ["open", "resolved", "open"]
    assert again[vid]["status"] == "acknowledged"

    # an hour later the checkout hour has no data: its field rules do
    # not fire, so their items are resolved by the evaluation; page_hit
    # is still under its volume (0 < 5), so that item stays acknowledged
    later = {d["id"]: d for d in deviations(
        srv.data, registry, now="2026-11-20T11:05:00Z")}
    assert later[rid]["status"] == "resolved"
    assert later[rid]["history"][-1]["by"] == "reestr"
    assert later[rid]["last_seen"] == "2026-11-20T10:05:00.000000Z"
    assert later[vid]["status"] == "acknowledged"
    assert later[vid]["last_seen"] == "2026-11-20T11:05:00.000000Z"
    assert later[vid]["detail"].startswith("0 events in the hour from "
                                           "2026-11-20T10:00Z")
    opened = run("deviations", "--data", str(srv.data), "list", "open")
    assert opened.returncode == 0
    assert "#%d" % rid not in opened.stdout


def test_reject_rate_and_new_reasons(make_server, registry):
    """By the hour the collector received the events (its stats and
    failed_events), so against the real clock."""
    srv = make_server(registry=registry)
    while datetime.now(timezone.utc).minute == 59 and \
            datetime.now(timezone.utc).second > 40:
        time.sleep(1)  # the hour's events in one hour
    t0 = datetime.now(timezone.utc)
    good = [checkout(t0) for _ in range(3)]
    bad = [checkout(t0, amount="many") for _ in range(3)]
    app = [checkout(t0, source="app") for _ in range(6)]
    r = srv.post_events(good + bad + app)
    assert r.status == 200
    assert r.json()["rejected"] == 3
    now = t0.replace(minute=0, second=0, microsecond=0) + \
        timedelta(hours=1, minutes=2)
    items = deviations(srv.data, registry, now=ts(now))
    # (page_hit has no traffic: its volume rule fires too)
    assert found(items) == [("new_reasons", "checkout_started", ""),
                            ("reject_rate", "checkout_started", "web"),
                            ("volume", "page_hit", "")]
    by = {d["kind"]: d for d in items}
    assert by["reject_rate"]["detail"].startswith("3 of 6 rejected (50%)")
    assert "fields.amount" in by["new_reasons"]["detail"]
    # the same reason an hour later is no longer new
    later = t0 + timedelta(hours=1)
    r = srv.post_events([checkout(later, amount="lots")])  # by receipt
    assert r.json()["rejected"] == 1
    items = deviations(srv.data, registry, now=ts(now + timedelta(hours=1)))
    assert ("new_reasons", "checkout_started", "") in found(items, "resolved")


def test_unused_with_a_controlled_clock(make_server, registry):
    srv = make_server(registry=registry)
    post(srv, normal_data() + [ev(4, H - timedelta(days=2), "web", {"n": 1})])

    def unused(now):
        out = run("unused", "--data", str(srv.data), "--registry",
                  str(registry), "--now", now, "--json")
        assert out.returncode == 0, out.stderr
        return {(u["event"], u["version"]): u
                for u in json.loads(out.stdout)["unused"]}

    # legacy_ping v0 sent 2 days before; v1 never; unused_after 3 days
    u = unused(NOW)
    assert sorted(u) == [("legacy_ping", 1)]
    assert u[("legacy_ping", 1)]["environments"] == [
        {"environment": "bo", "days": 3, "last_event": None,
         "last_download": None}]
    # a day later v0 passes its 3 days; page_hit (the bo default of 14)
    # does not
    u = unused("2026-11-21T10:00:00Z")
    assert sorted(u) == [("legacy_ping", 0), ("legacy_ping", 1)]
    assert "last event 2026-11-18T09:00:00.000000Z, 3 days before now" in \
        u[("legacy_ping", 0)]["evidence"]
    # 15 days on, everything is (bo's unused_after: 14)
    u = unused("2026-12-05T09:30:00Z")
    assert ("checkout_started", 0) in u and ("page_hit", 0) in u
    text = run("unused", "--data", str(srv.data), "--registry", str(registry),
               "--now", NOW)
    assert text.returncode == 0
    assert text.stdout.endswith("1 unused event version\n")


BAD = """\
owners:
  shop: {contact: shop@example.com}
environments:
  bo:
    events: [a, b]
    checks:
      - {kind: range, field: n, max: 3}
    unused_after: 0
events:
  a:
    id: 1
    owner: shop
    checks:
      - {kind: relation, event: nobody}
      - {kind: null_share, field: n, max: 0.5}
      - {kind: enum_share, field: e, value: blue, max: 0.5}
      - {kind: range, field: e, min: 0}
      - {kind: volume, per: week, min: 5}
      - {kind: volume_change, ratio: 0.5, colour: red}
      - {kind: sparkle}
      - {kind: null_share, field: missing, max: 2}
      - {kind: freshness, minutes: 10, days: 400}
    versions:
      - version: 0
        fields:
          n: {type: int}
          e: {type: enum, values: [red, green]}
  b:
    id: 2
    owner: shop
    versions:
      - version: 0
        checks: [{kind: range, field: nope, min: 1}]
        fields:
          n: {type: int}
"""


def test_check_refuses_bad_rules(tmp_path):
    (tmp_path / "r.yaml").write_text(BAD)
    out = run("check", str(tmp_path))
    assert out.returncode == 1
    assert out.stderr.splitlines() == [
        "r.yaml:7:16: an environment's checks are technical thresholds "
        "(reject_rate, volume_change, new_reasons, freshness); put range "
        "on the event",
        "r.yaml:8:19: 'unused_after' must be from 1 to 3650, not 0",
        "r.yaml:14:33: relation: unknown event 'nobody'",
        "r.yaml:15:16: null_share: field 'n' of a v0 is required (and so "
        "are the objects around it): it is never null",
        "r.yaml:16:16: enum_share: 'blue' is not a value of field 'e' of "
        "a v0 (values: red, green)",
        "r.yaml:17:16: range: field 'e' of a v0 is enum; a range needs an "
        "int or a float",
        "r.yaml:18:29: 'per' is hour or day, not 'week'",
        "r.yaml:19:38: 'ratio' must be above 1, not 0.5",
        "r.yaml:19:43: unknown key 'colour' in a volume_change check "
        "(allowed: kind, ratio, days, min_median)",
        "r.yaml:20:16: unknown check kind 'sparkle' (kinds: range, "
        "null_share, enum_share, relation, volume, freshness, "
        "reject_rate, volume_change, new_reasons)",
        "r.yaml:21:49: 'max' is a share, from 0 to 1 (0.05 is 5%), not 2",
        "r.yaml:22:46: 'days' must be from 1 to 90, not 400",
        "r.yaml:33:25: range: event 'b' version 0 has no field 'nope'",
    ]
    assert out.stdout == f"{tmp_path}: 13 problems\n"


def test_decommission_edits_the_yaml_and_the_collector_refuses(
        make_server, registry):
    srv = make_server(registry=registry)
    v1 = ev(4, H, "web", {"n": 1}, version=1)
    assert srv.post_events([v1]).json()["accepted"] == 1
    before = (registry / "registry.yaml").read_text()

    dry = run("decommission", "legacy_ping", "1", "--registry", str(registry),
              "--reason", "unused for 3 days", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert (registry / "registry.yaml").read_text() == before
    out = run("decommission", "legacy_ping", "1", "--registry", str(registry),
              "--reason", "unused for 3 days")
    assert out.returncode == 0, out.stderr
    assert out.stdout == dry.stdout
    assert "+        status: decommissioned\n" \
           "+        status_reason: \"unused for 3 days\"\n" in out.stdout
    assert out.stdout.startswith("--- a/registry.yaml\n+++ b/registry.yaml\n")
    after = (registry / "registry.yaml").read_text()
    # only the two lines are new: comments and layout stay
    assert after.replace('        status: decommissioned\n'
                         '        status_reason: "unused for 3 days"\n',
                         "") == before
    assert run("check", str(registry)).returncode == 0

    # the collector reloads and tells senders the reason
    deadline = time.monotonic() + 30
    while True:
        r = srv.post_events([ev(4, H, "web", {"n": 1}, version=1)]).json()
        if r["rejected"] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert r["results"][0]["error"] == \
        "version: legacy_ping v1 is decommissioned: unused for 3 days"
    assert srv.post_events([ev(4, H, "web", {"n": 1})]).json()["accepted"] == 1

    again = run("decommission", "legacy_ping", "1", "--registry",
                str(registry))
    assert again.returncode == 1
    assert "legacy_ping v1 is already decommissioned" in again.stderr
    nobody = run("decommission", "nobody", "--registry", str(registry))
    assert nobody.returncode == 1 and "no event 'nobody'" in nobody.stderr
    bad = run("decommission", "legacy_ping", "--registry", str(registry),
              "--reason", "two\nlines")
    assert bad.returncode == 2
    assert (registry / "registry.yaml").read_text() == after


def test_the_collector_runs_them_on_a_schedule_and_serves_them(
        make_server, registry):
    """serve --deviations-every: the evaluation at start and every
    interval (by the real clock), GET /v1/deviations and /v1/unused."""
    srv = make_server(registry=registry, extra_args=["--deviations-every",
                                                     "1s"])
    # (page_hit's volume may be found already: it has no traffic)
    first = srv.request("GET", "/v1/deviations").json()["deviations"]
    assert not [d for d in first if d["kind"] == "range"]
    now = datetime.now(timezone.utc)
    last_hour = now.replace(minute=0, second=0, microsecond=0) - \
        timedelta(minutes=30)
    post(srv, [checkout(last_hour, amount=5000)])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        items = srv.request("GET", "/v1/deviations").json()["deviations"]
        if any(d["kind"] == "range" for d in items):
            break
        time.sleep(0.2)
    assert ("range", "checkout_started", "web") in found(items)
    log = srv.log.read_text()
    assert "reestr serve: deviations: 9 rules, " in log
    opened = srv.request("GET", "/v1/deviations?status=open").json()
    assert found(opened["deviations"]) == found(items, "open")
    assert srv.request("GET", "/v1/deviations?status=nope").status == 400
    assert srv.request("POST", "/v1/deviations", b"").status == 405
    # with a body too: the method is wrong, whatever it sends
    assert srv.request("POST", "/v1/deviations", b"{}").status == 405
    unused = srv.request("GET", "/v1/unused").json()["unused"]
    assert sorted((u["event"], u["version"]) for u in unused) == [
        ("legacy_ping", 0), ("legacy_ping", 1), ("page_hit", 0),
        ("payment_done", 0)]


def test_the_routes_need_a_read_key(make_server, registry, tmp_path):
    data = tmp_path / "keyed"
    out = run("keys", "create", "analyst", "--read", "--data", str(data))
    assert out.returncode == 0, out.stderr
    reader = out.stdout.strip()
    srv = make_server(registry=registry, data=data, insecure=False)
    for path in ("/v1/deviations", "/v1/unused"):
        assert srv.request("GET", path).status == 401
        r = srv.request("GET", path,
                        headers={"Authorization": f"Bearer {reader}"})
        assert r.status == 200, r.raw


def test_serve_refuses_a_bad_interval(registry, tmp_path):
    for bad in ("0s", "10x", "8d", "-1"):
        out = run("serve", "--registry", str(registry), "--data",
                  str(tmp_path / "d"), "--insecure-local",
                  "--deviations-every", bad)
        assert out.returncode == 2
        assert "--deviations-every" in out.stderr
    # the ClickHouse store is --sink kafka's (tests/cluster/test_gov_stores.py)
    base = ["serve", "--registry", str(registry), "--data",
            str(tmp_path / "d"), "--insecure-local"]
    for args, said in [
            (["--clickhouse", "http://127.0.0.1:1"], "names the store of "
             "--sink kafka"),
            (["--sink", "kafka", "--kafka-brokers", "127.0.0.1:1",
              "--deviations-every", "1m"], "needs --clickhouse URL"),
            (["--sink", "kafka", "--kafka-brokers", "127.0.0.1:1",
              "--clickhouse-database", "x"], "needs --clickhouse")]:
        out = run(*base, *args)
        assert out.returncode == 2 and said in out.stderr, out.stderr
    for cmd in (["deviations", "--clickhouse", "http://127.0.0.1:1"],
                ["deviations", "--clickhouse-database", "x"],
                ["unused", "--registry", str(registry),
                 "--clickhouse-database", "x"]):
        out = run(*cmd)
        assert out.returncode == 2 and "--clickhouse" in out.stderr


class Hook:
    """An owner's webhook: records what is posted, answers `status`."""

    def __init__(self, status=204):
        import http.server
        import threading
        hook = self
        self.posts, self.status = [], status

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers["Content-Length"])
                hook.posts.append((self.headers["Content-Type"],
                                   json.loads(self.rfile.read(n))))
                self.send_response(hook.status)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.srv.server_port}/hook"
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def test_owners_webhook_gets_new_deviations(make_server, registry):
    hook = Hook()
    try:
        text = (registry / "registry.yaml").read_text()
        (registry / "registry.yaml").write_text(text.replace(
            "    contact: shop@example.com\n",
            f"    contact: shop@example.com\n    webhook: {hook.url}\n", 1))
        srv = make_server(registry=registry)
        post(srv, bad_data())
        out = run("deviations", "--data", str(srv.data), "--registry",
                  str(registry), "--now", NOW, "--run")
        assert out.returncode == 0, out.stderr
        assert "7 opened, owners told by webhook: 1 (0 failed)" in out.stderr
        assert len(hook.posts) == 1
        ctype, body = hook.posts[0]
        assert ctype == "application/json"
        assert found(body["deviations"]) == found(
            deviations(srv.data, registry, run_it=False))
        # nothing new: nothing posted
        deviations(srv.data, registry)
        assert len(hook.posts) == 1
        # a webhook that keeps failing: tried 3 times, said, and the run
        # (and the items) stand
        hook.status = 500
        rid = found_id(srv.data, registry, "range")
        run("deviations", "--data", str(srv.data), "resolve", str(rid))
        started = time.monotonic()
        out = run("deviations", "--data", str(srv.data), "--registry",
                  str(registry), "--now", NOW, "--run")
        assert out.returncode == 0, out.stderr
        assert "webhook of shop (" + hook.url + "): answered 500, after 3 " \
            "tries; the items stay in deviations.db" in out.stderr
        assert len(hook.posts) == 4  # 1 + 3 tries
        assert time.monotonic() - started < 20
        again = deviations(srv.data, registry, run_it=False)
        assert [d["status"] for d in again if d["id"] == rid] == ["open"]
    finally:
        hook.close()


def found_id(data, registry, kind):
    items = deviations(data, registry, run_it=False)
    return [d["id"] for d in items if d["kind"] == kind][0]


def test_check_refuses_a_bad_webhook(tmp_path):
    (tmp_path / "r.yaml").write_text(
        "owners:\n  shop:\n    contact: s@example.com\n"
        "    webhook: ftp://example.com/x\n")
    out = run("check", str(tmp_path))
    assert out.returncode == 1
    assert out.stderr == ("r.yaml:4:14: owner 'shop': webhook must be an "
                          "http:// or https:// URL without spaces, not "
                          "'ftp://example.com/x'\n")


def test_a_langpack_download_keeps_a_version_in_use(make_server, registry):
    """Downloads of bo's langpack (recorded by the package routes in
    langpacks.db) count as use: nobody sends legacy_ping v1, but a
    project that just installed the langpack may be about to."""
    srv = make_server(registry=registry)
    r = srv.request("POST", "/langpack/python/latest/?environment=bo")
    assert r.status == 200 and len(r.raw) > 1000
    t0 = datetime.now(timezone.utc)

    def unused(now):
        out = run("unused", "--data", str(srv.data), "--registry",
                  str(registry), "--now", ts(now), "--json")
        assert out.returncode == 0, out.stderr
        return {(u["event"], u["version"]): u
                for u in json.loads(out.stdout)["unused"]}

    # a day after the download: in use (3 days for legacy_ping)
    assert ("legacy_ping", 1) not in unused(t0 + timedelta(days=1))
    # four days after: a candidate, the download in its evidence
    u = unused(t0 + timedelta(days=4))[("legacy_ping", 1)]
    got = datetime.strptime(u["environments"][0]["last_download"],
                            "%Y-%m-%dT%H:%M:%S.%fZ")
    assert abs(got.replace(tzinfo=timezone.utc) - t0) < timedelta(minutes=2)
    assert "bo: no event stored, langpack last downloaded " in u["evidence"]
    # a missing langpacks file counts no download
    out = run("unused", "--data", str(srv.data), "--registry", str(registry),
              "--langpacks", str(srv.data / "nope.db"), "--now",
              ts(t0 + timedelta(days=1)), "--json")
    assert ("legacy_ping", 1) in {
        (x["event"], x["version"]) for x in json.loads(out.stdout)["unused"]}


NESTED = """\
owners:
  shop: {contact: shop@example.com}
sources:
  web: {owner: shop}
environments:
  bo: {events: [signup]}
events:
  signup:
    id: 9
    owner: shop
    checks:
      - {kind: null_share, field: buyer.email, max: 0.5, min_events: 10}
      - {kind: range, field: buyer.age, min: 14}
      - {kind: enum_share, field: buyer.tier, value: gold, min: 0.1}
    versions:
      - version: 0
        fields:
          buyer:
            type: object
            required: false
            fields:
              email: {type: string, required: false}
              age: {type: float}
              tier: {type: enum, values: [basic, gold]}
"""


def test_field_rules_follow_paths_into_optional_objects(make_server,
                                                        tmp_path):
    """A field inside an optional object is null when the object is
    absent too; a float range; an enum share under its minimum."""
    reg = tmp_path / "nested"
    reg.mkdir()
    (reg / "registry.yaml").write_text(NESTED)
    srv = make_server(registry=reg)
    evs = []
    for i in range(10):
        if i < 4:
            f = {}  # no buyer: buyer.email is null
        else:
            f = {"buyer": {"age": 13.5 if i == 4 else 30.0, "tier": "basic"}}
            if i >= 6:
                f["buyer"]["email"] = f"b{i}@example.com"
        evs.append(ev(9, H + timedelta(minutes=i), "web", f))
    post(srv, evs)
    items = {d["kind"]: d for d in deviations(srv.data, reg)}
    assert sorted(items) == ["enum_share", "null_share", "range"]
    assert items["null_share"]["detail"].startswith(
        "buyer.email is null in 6 of 10 events (60%)")
    assert items["range"]["detail"].startswith(
        "1 of 10 events with buyer.age outside the range (at least 14)")
    assert items["enum_share"]["detail"].startswith(
        "buyer.tier = gold in 0 of 10 events (0%)")
    assert items["range"]["field"] == "buyer.age"


def test_a_listing_shows_the_newest_history_lines(make_server, registry):
    srv = make_server(registry=registry)
    post(srv, bad_data())
    deviations(srv.data, registry)
    rid = found_id(srv.data, registry, "range")
    for i in range(60):  # 120 lines more
        for action in ("ack", "reopen"):
            out = run("deviations", "--data", str(srv.data), "--note",
                      f"{action} {i}", action, str(rid))
            assert out.returncode == 0, out.stderr
    out = run("deviations", "--data", str(srv.data), "show", str(rid))
    history = json.loads(out.stdout)["deviations"][0]["history"]
    assert len(history) == 100  # RS_DEVIATIONS_HISTORY_MAX
    assert history[-1]["note"] == "reopen 59"
    assert history[0]["note"] == "ack 10"  # 121 lines, the newest 100


def test_rules_as_json(registry):
    out = run("deviations", "--registry", str(registry), "rules")
    assert out.returncode == 0, out.stderr
    rules = json.loads(out.stdout)["rules"]
    assert len(rules) == 9
    assert rules[0] == {
        "kind": "range", "event": "checkout_started", "version": None,
        "environment": None, "field": "amount",
        "rule": "1 <= range(amount) <= 1000", "at": "registry.yaml:22:16"}
    env = [r for r in rules if r["environment"]]
    assert [(r["kind"], r["event"], r["environment"]) for r in env] == [
        ("reject_rate", None, "bo"), ("new_reasons", None, "bo")]
    assert env[0]["rule"] == "reject_rate <= 0.2"
    bad = run("deviations", "rules")
    assert bad.returncode == 2 and "rules needs --registry" in bad.stderr


def test_the_catalogue_shows_deviations_unused_and_live_figures(
        make_server, registry):
    """/v1/catalogue (docs/catalogue.md, "Deviations, unused versions and
    live figures"): each event's open deviations, each version whether it
    is unused, owners' counts; an event's page with its deviations, unused
    evidence and the store's figures of the last 24 hours."""
    srv = make_server(registry=registry)
    # no deviations.db yet: the counts are not known
    idx = srv.request("GET", "/v1/catalogue").json()
    assert {e["name"]: e["open_deviations"] for e in idx["events"]} == {
        "checkout_started": None, "payment_done": None, "page_hit": None,
        "legacy_ping": None}
    assert not (srv.data / "deviations.db").exists()  # not made by a read
    # unused by the real clock: nothing was sent, nothing downloaded
    assert all(v["unused"] is True for e in idx["events"]
               for v in e["versions"])
    t0 = datetime.now(timezone.utc)
    good = [checkout(t0) for _ in range(3)]
    bad = [checkout(t0, amount="many") for _ in range(2)]
    bad.append(checkout(t0, amount="many", coupon="c" * 3000))  # a big one
    r = srv.post_events(good + bad + [ev(4, t0, "app", {"n": 1}, version=1)])
    assert r.status == 200 and r.json()["rejected"] == 3
    now = t0.replace(minute=0, second=0, microsecond=0) + \
        timedelta(hours=1, minutes=2)
    items = deviations(srv.data, registry, now=ts(now))
    assert ("reject_rate", "checkout_started", "web") in found(items)
    # resolve one by hand: it is listed on the page, not counted as open
    vol = [d for d in items if d["kind"] == "volume"][0]
    out = run("deviations", "--data", str(srv.data), "resolve", str(vol["id"]),
              "--by", "test", "--note", "quiet page")
    assert out.returncode == 0, out.stderr
    idx = srv.request("GET", "/v1/catalogue").json()
    opened = {e["name"]: e["open_deviations"] for e in idx["events"]}
    assert opened == {"checkout_started": 2, "payment_done": 0,
                      "page_hit": 0, "legacy_ping": 0}
    assert [o["open_deviations"] for o in idx["owners"]] == [2]
    unused = {(e["name"], v["number"]): v["unused"] for e in idx["events"]
              for v in e["versions"]}
    assert unused == {("checkout_started", 0): False,
                      ("payment_done", 0): True, ("page_hit", 0): True,
                      ("legacy_ping", 0): True, ("legacy_ping", 1): False}
    page = srv.request("GET", "/v1/catalogue/events/checkout_started").json()
    assert page["open_deviations"] == 2
    assert sorted(d["kind"] for d in page["deviations"]) == [
        "new_reasons", "reject_rate"]
    assert all(d["first_seen"] and d["history"] for d in page["deviations"])
    assert page["unused"] == []
    live = page["live"]
    assert live["hours"] == 24
    assert live["versions"] == [{"version": 0, "sources": [
        {"source": "web", "accepted": 3, "rejected": 3, "per_hour": 0.25,
         "reject_rate": 0.5}]}]
    assert len(live["reasons"]) == 1 and live["reasons"][0]["count"] == 3
    assert "fields.amount" in live["reasons"][0]["reason"]
    # sample payloads (a read key's: --insecure-local here), bounded
    samples = live["reasons"][0]["samples"]
    assert len(samples) == 3
    assert all('"many"' in x["payload"] for x in samples)
    big = [x for x in samples if x["truncated"]]
    assert len(big) == 1 and big[0]["length"] > 3000
    assert big[0]["payload"].endswith("\u2026")
    assert len(big[0]["payload"].encode()) == 1024 + 3
    assert [x["length"] == len(x["payload"]) for x in samples
            if not x["truncated"]] == [True, True]
    page = srv.request("GET", "/v1/catalogue/events/page_hit").json()
    assert [d["status"] for d in page["deviations"]] == ["resolved"]
    assert page["open_deviations"] == 0
    assert [(u["version"], u["environments"][0]["last_event"])
            for u in page["unused"]] == [(0, None)]
    # beside it, the exact edit to review and commit: the diff `reestr
    # decommission --dry-run` prints for the file as it is on disk
    dec = page["decommission"]
    assert [(d["version"], d["file"]) for d in dec] == [
        (0, "registry.yaml")], dec
    head = "reestr decommission page_hit 0 --registry . --reason '"
    assert dec[0]["command"].startswith(head)
    reason = dec[0]["command"][len(head):-1]
    assert reason.startswith("unused: ")
    out = run("decommission", "page_hit", "0", "--registry", str(registry),
              "--reason", reason, "--dry-run")
    assert out.returncode == 0, out.stderr
    assert dec[0]["diff"] == out.stdout
    assert "status: decommissioned" in dec[0]["diff"], dec[0]["diff"]
    assert srv.request("GET", "/v1/catalogue/events/checkout_started") \
        .json()["decommission"] == []
    assert page["live"]["versions"] == [{"version": 0, "sources": []}]
    assert page["live"]["reasons"] == []
    # reestr docs (no data folder): nothing known
    site = srv.data.parent / "site"
    out = run("docs", "--registry", str(registry), "--out", str(site))
    assert out.returncode == 0, out.stderr
    html = (site / "index.html").read_text()
    assert '"open_deviations":null' in html and '"live":null' in html
    assert '"open_deviations":2' not in html


def test_the_catalogue_shows_the_data_to_a_read_key_only(
        make_server, registry, tmp_path):
    """A write key may read the catalogue (it needs the registry) but not
    the data: its deviations, unused versions and figures are null."""
    data = tmp_path / "keyed"
    keys = {}
    for kind, args in (("read", ["analyst", "--read"]), ("write", ["web"])):
        out = run("keys", "create", *args, "--data", str(data))
        assert out.returncode == 0, out.stderr
        keys[kind] = {"Authorization": f"Bearer {out.stdout.strip()}"}
    srv = make_server(registry=registry, data=data, insecure=False)
    deviations(data, registry)
    assert srv.request("GET", "/v1/catalogue").status == 401
    for kind, known in (("read", True), ("write", False)):
        idx = srv.request("GET", "/v1/catalogue", headers=keys[kind])
        assert idx.status == 200, idx.raw
        e = idx.json()["events"][0]
        assert (e["open_deviations"] is not None) == known
        assert (e["versions"][0]["unused"] is not None) == known
        page = srv.request("GET", "/v1/catalogue/events/checkout_started",
                           headers=keys[kind]).json()
        assert (page["live"] is not None) == known
        assert (page["deviations"] is not None) == known
        assert (page["decommission"] is not None) == known


def static_data(site):
    """The catalogue JSON `reestr docs` inlined in site/index.html."""
    html = (site / "index.html").read_text()
    start = html.index('<script id="catalogue-data" type="application/json">')
    return json.loads(html[start:].split(">", 1)[1].split("</script>", 1)[0])


def test_docs_with_data_carries_what_a_read_key_is_served(
        make_server, registry, tmp_path):
    """reestr docs --data (docs/catalogue.md): the static site carries the
    deviations, unused versions and live figures GET /v1/catalogue gives a
    read key, as of the build, said on the pages ("as_of")."""
    data = tmp_path / "keyed"
    out = run("keys", "create", "analyst", "--read", "--data", str(data))
    assert out.returncode == 0, out.stderr
    read = {"Authorization": f"Bearer {out.stdout.strip()}"}
    out = run("keys", "create", "web", "--data", str(data))
    assert out.returncode == 0, out.stderr
    write = {"Authorization": f"Bearer {out.stdout.strip()}"}
    srv = make_server(registry=registry, data=data, insecure=False)
    t0 = datetime.now(timezone.utc)
    good = [checkout(t0) for _ in range(3)]
    bad = [checkout(t0, amount="many") for _ in range(2)]
    r = srv.request("POST", "/v1/events", body=json.dumps(
        {"events": good + bad + [ev(4, t0, "web", {"n": 1}, version=1)]}).encode(),
        headers=dict(write, **{"Content-Type": "application/json"}))
    assert r.status == 200 and r.json()["rejected"] == 2, r.raw
    now = t0.replace(minute=0, second=0, microsecond=0) + \
        timedelta(hours=1, minutes=2)
    assert found(deviations(data, registry, now=ts(now)))

    def served():
        idx = srv.request("GET", "/v1/catalogue", headers=read)
        assert idx.status == 200, idx.raw
        pages = {}
        for e in idx.json()["events"]:
            p = srv.request("GET", f"/v1/catalogue/events/{e['name']}",
                            headers=read)
            assert p.status == 200, p.raw
            pages[e["name"]] = p.json()
        return idx.json(), pages

    site = tmp_path / "site"
    for _attempt in range(2):  # the live figures' window is the hour now in
        hour = datetime.now(timezone.utc).hour
        out = run("docs", "--registry", str(registry), "--out", str(site),
                  "--data", str(data))
        assert out.returncode == 0, out.stderr
        idx, pages = served()
        if datetime.now(timezone.utc).hour == hour:
            break
    assert ", data as of 20" in out.stdout, out.stdout
    static = static_data(site)
    as_of = datetime.strptime(static["as_of"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert abs(as_of.replace(tzinfo=timezone.utc) - t0) < timedelta(minutes=5)
    assert static["index"] == idx
    assert static["events"] == pages
    # what it carries is the data: counts, unused flags, figures
    assert {e["name"]: e["open_deviations"] for e in idx["events"]}[
        "checkout_started"] >= 1
    live = pages["checkout_started"]["live"]["versions"][0]["sources"]
    assert [(s["accepted"], s["rejected"]) for s in live] == [(3, 2)]
    assert [u["version"] for u in pages["legacy_ping"]["unused"]] == [0]
    # --now moves the clock: 30 days on, everything is unused and the
    # figures' window is empty
    later = ts(t0 + timedelta(days=30))
    out = run("docs", "--registry", str(registry), "--out", str(site),
              "--data", str(data), "--now", later)
    assert out.returncode == 0, out.stderr
    static = static_data(site)
    assert static["as_of"] == later
    assert all(v["unused"] for e in static["index"]["events"]
               for v in e["versions"])
    assert static["events"]["checkout_started"]["live"]["versions"] == [
        {"version": 0, "sources": []}]
    # without --data: nothing known, no "as_of"
    out = run("docs", "--registry", str(registry), "--out", str(site))
    assert out.returncode == 0, out.stderr
    static = static_data(site)
    assert "as_of" not in static
    assert static["index"]["events"][0]["open_deviations"] is None
    # a data folder with no store: exit 1 naming it; bad usage: 2
    out = run("docs", "--registry", str(registry), "--out", str(site),
              "--data", str(tmp_path / "nothing"))
    assert out.returncode == 1 and "--data " in out.stderr, out.stderr
    assert "nothing" in out.stderr
    out = run("docs", "--registry", str(registry), "--out", str(site),
              "--now", later)
    assert out.returncode == 2 and "need --data" in out.stderr
    out = run("docs", "--registry", str(registry), "--out", str(site),
              "--data", str(data), "--now", "yesterday")
    assert out.returncode == 2 and "--now 'yesterday'" in out.stderr


def examples(registry, tmp_path):
    """{(event, lang, version): program}: the catalogue's usage examples,
    the generated code's own API (docs/catalogue.md, "Examples")."""
    site = tmp_path / "examples-site"
    out = run("docs", "--registry", str(registry), "--out", str(site))
    assert out.returncode == 0, out.stderr
    return {(name, p["lang"], p["version"]): p["code"]
            for name, page in static_data(site)["events"].items()
            for p in (page["examples"] or {"programs": []})["programs"]}


def without_dac():
    """A command prefix under which root, too, is refused a folder of mode
    000 (the capabilities that bypass file modes dropped)."""
    if os.geteuid() != 0:
        return []
    caps = "-dac_override,-dac_read_search"
    return ["setpriv", f"--bounding-set={caps}", f"--inh-caps={caps}"]


def test_code_imports_keep_versions_in_use(make_server, registry, tmp_path):
    """reestr usage scan (docs/governance.md, "Code that uses a version"):
    a Go, a Python, a PHP and a TypeScript file using four versions
    through their langpacks keep them off the unused list, with the
    evidence; a mention in a comment or a string does not count; vendor/,
    node_modules/ and the langpacks' own files are left out; a huge file,
    a binary file, a symbolic link loop, a pipe and an unreadable folder
    are each skipped with a message, and the scan goes on."""
    srv = make_server(registry=registry)
    ex = examples(registry, tmp_path)
    tree = tmp_path / "mono"
    files = {"svc-go/main.go": ex[("checkout_started", "go", 0)],
             "svc-py/app.py": ex[("payment_done", "python", 0)],
             "svc-php/index.php": ex[("page_hit", "php", 0)],
             "web/src/send.ts": ex[("legacy_ping", "ts", 1)],
             # a mention in a comment, a docstring or a string: no use
             "tools/notes.py": '# LegacyPingV0 is old\n"""LegacyPingV0"""\n'
                               'print("LegacyPingV0", \'LegacyPingV0\')\n',
             "tools/old.go": "package x\n// NewLegacyPingV0 is gone\n"
                             "/* LegacyPingV0 */ var s = `LegacyPingV0`\n",
             "tools/old.ts": "// LegacyPingV0\nconst s = 'LegacyPingV0';\n"
                             "const t = `LegacyPingV0`; /* LegacyPingV0 */\n",
             "tools/old.php": "<?php\n# LegacyPingV0\n// LegacyPingV0\n"
                              "$s = 'LegacyPingV0 \\' LegacyPingV0';\n",
             # others' code and a name that only contains one
             "vendor/lib/use.go": ex[("legacy_ping", "go", 0)],
             "web/node_modules/x/index.ts": ex[("legacy_ping", "ts", 0)],
             "tools/longer.py": "x = MyLegacyPingV0Wrapper()\n"}
    for rel, text in files.items():
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_text(text)
    # a langpack checked into the tree: its own files are not a use
    out = run("gen", "--registry", str(registry), "--env", "bo", "--lang",
              "python", "--out", str(tree / "langpacks" / "py"))
    assert out.returncode == 0, out.stderr
    # hostile: a file over the cap, a binary one, a loop, a pipe, a folder
    # that cannot be read, each holding a use that would count
    use = "x = LegacyPingV0(n=1)\n"
    (tree / "huge.py").write_text(use + "#" * (9 << 20))
    (tree / "blob.py").write_bytes(use.encode() + b"\0\1\2")
    (tree / "web" / "loop").symlink_to(tree)
    os.mkfifo(tree / "pipe.py")
    locked = tree / "locked"
    locked.mkdir()
    (locked / "use.py").write_text(use)
    locked.chmod(0)
    try:
        out = subprocess.run(
            [*without_dac(), REESTR, "usage", "scan", "--registry",
             str(registry), "--data", str(srv.data), "--now", NOW, str(tree)],
            capture_output=True, text=True, timeout=120)
    finally:
        locked.chmod(0o755)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[:4] == [
        f"checkout_started v0: {tree}/svc-go/main.go:{line_of(files['svc-go/main.go'], 'NewCheckoutStartedV0')} (1 file)",
        f"payment_done v0: {tree}/svc-py/app.py:{line_of(files['svc-py/app.py'], 'PaymentDoneV0')} (1 file)",
        f"page_hit v0: {tree}/svc-php/index.php:{line_of(files['svc-php/index.php'], 'PageHitV0')} (1 file)",
        f"legacy_ping v1: {tree}/web/src/send.ts:{line_of(files['web/src/send.ts'], 'LegacyPingV1')} (1 file)"]
    assert out.stdout.splitlines()[4].startswith("reestr usage: 4 event versions used in ")
    generated = int(re.search(r"; (\d+) langpack files? ", out.stdout).group(1))
    assert generated >= 1, out.stdout  # the langpack's __init__.py and more
    err = out.stderr
    assert f"{tree}/huge.py: 9437206 bytes, over the 8 MiB cap; skipped" in err
    assert f"{tree}/blob.py: binary (a NUL byte); skipped" in err
    assert f"{tree}/locked: cannot read the folder: Permission denied; skipped" in err
    assert "loop" not in err and "pipe" not in err, err  # no noise, no hang

    def unused(now):
        out = run("unused", "--data", str(srv.data), "--registry",
                  str(registry), "--now", now, "--json")
        assert out.returncode == 0, out.stderr
        return {(u["event"], u["version"]): u
                for u in json.loads(out.stdout)["unused"]}

    # a day on: only legacy_ping v0, used by nothing of ours, is unused
    u = unused("2026-11-21T10:00:00Z")
    assert sorted(u) == [("legacy_ping", 0)]
    assert u[("legacy_ping", 0)]["last_import"] is None
    # four days on, legacy_ping v1 passes its 3 days: the import is its
    # evidence
    u = unused("2026-11-24T10:00:00Z")
    assert sorted(u) == [("legacy_ping", 0), ("legacy_ping", 1)]
    v1 = u[("legacy_ping", 1)]
    assert v1["last_import"] == NOW.replace("Z", ".000000Z")
    assert v1["import_evidence"] == out_line(files, tree, "web/src/send.ts", "LegacyPingV1")
    assert f"code import last seen {v1['last_import']} at {v1['import_evidence']}" \
        in v1["evidence"]
    # the collector counts them too (its clock is now, past 3 days)
    served = srv.request("GET", "/v1/unused").json()["unused"]
    assert sorted((x["event"], x["version"]) for x in served) == [
        ("legacy_ping", 0), ("legacy_ping", 1)]
    # a later scan that finds nothing keeps the record; one that finds a
    # version again moves it on; a scan never moves a record back
    out = run("usage", "scan", "--registry", str(registry), "--data",
              str(srv.data), "--now", "2026-11-19T00:00:00Z",
              str(tree / "web" / "src"))
    assert out.returncode == 0, out.stderr
    assert unused("2026-11-24T10:00:00Z")[("legacy_ping", 1)]["last_import"] \
        == NOW.replace("Z", ".000000Z")
    # a path that cannot be read: exit 1, the others still recorded
    out = run("usage", "scan", "--registry", str(registry), "--data",
              str(srv.data), "--now", "2026-11-25T00:00:00Z",
              str(tmp_path / "nope"), str(tree / "svc-go"))
    assert out.returncode == 1
    assert f"{tmp_path}/nope: cannot read: No such file or directory" in out.stderr
    assert "checkout_started v0" in out.stdout
    assert run("usage", "scan", "--registry", str(registry)).returncode == 2
    assert run("usage", "--registry", str(registry), str(tree)).returncode == 2


def line_of(text, word):
    return next(i for i, line in enumerate(text.splitlines(), 1) if word in line)


def out_line(files, tree, rel, word):
    return f"{tree}/{rel}:{line_of(files[rel], word)}"
