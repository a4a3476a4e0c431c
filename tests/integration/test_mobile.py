"""POST /v1/mobile end to end (docs/proxy.md, "Mobile apps"): batches made
by the real Python protobuf library from proto/, posted to a live
`reestr serve`, read back with `reestr query`; the same events posted as
JSON to /v1/events store the same typed rows."""

import gzip
import json
import subprocess
import time
from datetime import datetime, timezone

import pytest

from conftest import EXAMPLES, ROOT, run, uuid7
from mobile_common import (batch, pb2, post, post_json, results,
                           write_registry)


@pytest.fixture
def registry(tmp_path):
    return write_registry(tmp_path / "registry")


@pytest.fixture
def mobile(make_server, registry):
    return make_server(registry=registry)


def ms(dt):
    return int(dt.timestamp() * 1000)


def rfc3339_ms(millis):
    return datetime.fromtimestamp(millis / 1000, timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def typed_rows(server):
    rows = server.query("SELECT * FROM app_action_v0 ORDER BY uuid")
    for r in rows:
        r.pop("received_at")
    return rows


# The same events, as an app sends them (string params) and as a backend
# sends them (the JSON wire format).
CASES = [
    ({"user.id": "413", "user.premium": "true", "screen": "item",
      "count": "-7", "score": "12.5", "opened_at": "2026-11-30T10:00:00Z",
      "tags.0": "a", "tags.1": "b", "items.0.id": "1", "items.0.price": "9.99",
      "items.1.id": "2", "note": "héllo"},
     {"user": {"id": 413, "premium": True}, "screen": "item", "count": -7,
      "score": 12.5, "opened_at": "2026-11-30T10:00:00Z", "tags": ["a", "b"],
      "items": [{"id": 1, "price": 9.99}, {"id": 2}], "note": "héllo"}),
    ({"user.id": "9223372036854775807", "user.premium": "0",
      "screen": "home", "count": "0", "score": "1e-3",
      "opened_at": "1764547200123", "tags": ""},
     {"user": {"id": 9223372036854775807, "premium": False},
      "screen": "home", "count": 0, "score": 0.001,
      "opened_at": "2025-12-01T00:00:00.123Z", "tags": []}),
    ({"user.id": "5", "screen": "cart", "count": "3", "score": "",
      "note": ""},
     {"user": {"id": 5}, "screen": "cart", "count": 3, "note": ""}),
]


def test_protobuf_batch_stores_the_rows_the_same_events_store_as_json(
        make_server, registry, tmp_path):
    pb_server = make_server(registry=registry)
    json_server = make_server(registry=registry)
    t0 = 1764547200000
    pb_events, json_events = [], []
    for i, (params, fields) in enumerate(CASES):
        u = uuid7()
        pb_events.append({"eventId": 900, "version": 0, "uuid": u,
                          "timestamp_ms": t0 + i, "params": params})
        json_events.append({"event_id": 900, "version": 0, "uuid": u,
                            "time": rfc3339_ms(t0 + i),
                            "environment": "mobile", "source": "android-app",
                            "fields": fields})
    resp = post_json(pb_server, batch(pb_events))
    assert [r["status"] for r in results(resp)] == ["accepted"] * 3, resp.raw
    resp = json_server.post_events(json_events)
    assert resp.status == 200 and resp.json()["accepted"] == 3, resp.raw

    pb_rows, json_rows = typed_rows(pb_server), typed_rows(json_server)
    assert len(pb_rows) == 3
    assert pb_rows == json_rows
    assert pb_rows[0]["environment"] == "mobile"
    assert pb_rows[0]["source"] == "android-app"
    # and the canonical fields, byte for byte
    sql = "SELECT uuid, time, fields FROM events ORDER BY uuid"
    assert pb_server.query(sql) == json_server.query(sql)


def test_the_talks_four_fields_alone_are_enough(mobile):
    """An app built against the talk's message (no uuid, int32 seconds)."""
    m = pb2()
    b = m.MobileAppEventBatch(app_id="com.example.android")
    e = b.events.add(eventId=900, version=0, timestamp=1764547200)
    e.params.update({"user.id": "1", "screen": "home", "count": "1"})
    resp = post_json(mobile, b)
    [r] = results(resp)
    assert r["status"] == "accepted", r
    rows = mobile.query("SELECT uuid, time FROM events")
    assert rows == [{"uuid": r["uuid"],
                     "time": "2025-12-01T00:00:00.000000Z"}]
    # a made uuid is a UUIDv7 of the event's time
    assert r["uuid"][14] == "7"
    # resending the same event makes a second row: no uuid, no de-dup
    assert results(post_json(mobile, b))[0]["status"] == "accepted"
    assert mobile.query("SELECT count(*) AS n FROM events") == [{"n": 2}]


def test_a_resent_event_with_its_uuid_is_a_duplicate(mobile):
    ev = {"eventId": 900, "version": 0, "uuid": uuid7(),
          "timestamp_ms": 1764547200000,
          "params": {"user.id": "1", "screen": "home", "count": "1"}}
    assert results(post_json(mobile, batch([ev])))[0]["status"] == "accepted"
    again = results(post_json(mobile, batch([ev])))[0]
    assert again == {"status": "duplicate", "unpublished": True,
                     "uuid": ev["uuid"]}
    assert mobile.query("SELECT count(*) AS n FROM events") == [{"n": 1}]


def test_time_int32_seconds_ms_and_device_clock_skew(mobile):
    m = pb2()
    base = {"eventId": 900, "version": 0,
            "params": {"user.id": "1", "screen": "home", "count": "1"}}
    now = int(time.time() * 1000)
    events = [
        dict(base, uuid=uuid7(), timestamp=2147483647),  # the last int32 s
        dict(base, uuid=uuid7(), timestamp=5, timestamp_ms=4102444800000),
        dict(base, uuid=uuid7(), timestamp=-2147483648),  # 2038 wrapped
        dict(base, uuid=uuid7()),  # no time at all
    ]
    rs = results(post_json(mobile, batch(events)))
    assert [r["status"] for r in rs] == ["accepted", "accepted", "rejected",
                                         "rejected"]
    assert "negative" in rs[2]["error"] and "timestamp_ms" in rs[2]["error"]
    assert rs[3]["error"].startswith("no time")
    times = {r["uuid"]: r["time"] for r in mobile.query(
        "SELECT uuid, time FROM events")}
    assert times[events[0]["uuid"]] == "2038-01-19T03:14:07.000000Z"
    assert times[events[1]["uuid"]] == "2100-01-01T00:00:00.000000Z"

    # A device whose clock is an hour fast: sent_at_ms says so, and the
    # event's time is moved back by the difference.
    skewed = dict(base, uuid=uuid7(), timestamp_ms=now + 3600_000 - 5000)
    b = batch([skewed], sent_at_ms=now + 3600_000)
    assert results(post_json(mobile, b))[0]["status"] == "accepted"
    [row] = mobile.query(
        f"SELECT time FROM events WHERE uuid = '{skewed['uuid']}'")
    stored = datetime.strptime(row["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=timezone.utc)
    assert abs(ms(stored) - (now - 5000)) < 10_000, row


def test_answers_in_protobuf_by_default_and_json_on_accept(mobile):
    m = pb2()
    ev = {"eventId": 900, "version": 0, "timestamp_ms": 1764547200000,
          "params": {"user.id": "1", "screen": "home", "count": "x"}}
    ok = dict(ev, params={"user.id": "1", "screen": "home", "count": "2"})
    resp = post(mobile, batch([ok, ev]))
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "application/x-protobuf"
    r = m.MobileAppEventBatchResult()
    r.ParseFromString(resp.raw)
    assert (r.accepted, r.duplicate, r.rejected) == (1, 0, 1)
    assert r.results[0].status == m.MobileAppEventResult.ACCEPTED
    assert len(r.results[0].uuid) == 36
    assert r.results[1].status == m.MobileAppEventResult.REJECTED
    assert r.results[1].error.startswith("param count: expected an int")
    assert r.results[1].uuid == ""  # a rejected event echoes no uuid
    # The answer is written without protobuf-c's pack (src/proxy/mobile.c),
    # in the bytes a pack gives: fields in number order, defaults left out.
    assert r.SerializeToString() == resp.raw

    resp = post(mobile, batch([ev]), accept="application/json")
    assert resp.headers["Content-Type"] == "application/json"
    assert resp.json()["rejected"] == 1

    # a whole request refused: the error in the asked format too
    bad = b"\x0a\x05\x08"
    resp = post(mobile, bad)
    assert resp.status == 400
    r = m.MobileAppEventBatchResult()
    r.ParseFromString(resp.raw)
    assert r.error.startswith("malformed protobuf: length past the end")
    assert post_json(mobile, bad).json()["error"] == r.error


def test_unknown_app_rejects_every_event_with_the_reason(mobile):
    ev = {"eventId": 900, "version": 0, "timestamp_ms": 1764547200000,
          "params": {"user.id": "1", "screen": "home", "count": "1"}}
    rs = results(post_json(mobile, batch([ev, ev], app_id="com.evil.app")))
    assert [r["status"] for r in rs] == ["rejected", "rejected"]
    assert rs[0]["error"] == ("unknown app 'com.evil.app': no source in the "
                              "registry has app.id 'com.evil.app'")
    rs = results(post_json(mobile, batch([ev], app_id="")))
    assert rs[0]["error"].startswith("the batch names no app")
    failed = mobile.query(
        "SELECT reason, source, event_id, payload FROM failed_events")
    assert len(failed) == 3
    assert failed[0]["source"] is None and failed[0]["event_id"] == 900
    payload = json.loads(failed[0]["payload"])
    assert payload["appId"] == "com.evil.app"
    assert payload["params"] == ev["params"]
    assert mobile.query("SELECT count(*) AS n FROM events") == [{"n": 0}]


def test_an_event_outside_the_apps_environment_is_rejected(make_server,
                                                           tmp_path):
    # the example registry: the app's environment (mobile) lacks item_click
    server = make_server(registry=EXAMPLES)
    ev = {"eventId": 200, "version": 0, "timestamp_ms": 1764547200000,
          "params": {}}
    [r] = results(post_json(server, batch([ev])))
    assert r["status"] == "rejected"
    assert "mobile" in r["error"], r


def test_unknown_event_or_version_is_named_as_for_json(mobile):
    evs = [{"eventId": 901, "version": 0, "timestamp_ms": 1764547200000},
           {"eventId": 900, "version": 3, "timestamp_ms": 1764547200000}]
    rs = results(post_json(mobile, batch(evs)))
    assert [r["status"] for r in rs] == ["rejected", "rejected"]
    assert "901" in rs[0]["error"]
    assert rs[1]["error"].startswith("version:")


def test_gzip_and_zstd_bodies(mobile):
    ev = {"eventId": 900, "version": 0, "timestamp_ms": 1764547200000,
          "params": {"user.id": "1", "screen": "home", "count": "1"}}
    raw = batch([ev]).SerializeToString()
    z = subprocess.run(["zstd", "-q", "-c"], input=raw, stdout=subprocess.PIPE,
                       check=True).stdout
    for body, enc in ((gzip.compress(raw), "gzip"), (z, "zstd")):
        resp = post_json(mobile, body, headers={"Content-Encoding": enc})
        assert results(resp)[0]["status"] == "accepted", enc
    resp = post_json(mobile, b"\x1f\x8b\x08garbage",
                     headers={"Content-Encoding": "gzip"})
    assert resp.status == 400 and "gzip" in resp.json()["error"]


def test_refused_methods_and_types(mobile):
    resp = mobile.request("POST", "/v1/mobile", b"",
                          {"Content-Type": "application/json",
                           "Accept": "application/json"})
    assert resp.status == 415
    assert "application/x-protobuf" in resp.json()["error"]
    resp = mobile.request("GET", "/v1/mobile", None,
                          {"Accept": "application/json"})
    assert resp.status == 405
    resp = post_json(mobile, b"", headers={"Content-Encoding": "br"})
    assert resp.status == 415
    # an empty batch is a batch of nothing
    resp = post_json(mobile, b"")
    assert resp.json() == {"accepted": 0, "duplicate": 0, "rejected": 0,
                           "results": []}


def test_schema_route_serves_the_proto_files(mobile):
    resp = mobile.request("GET", "/v1/mobile/schema")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/plain")
    assert resp.raw == (ROOT / "proto" / "reestr" / "mobile.proto").read_bytes()
    assert mobile.request("POST", "/v1/mobile/schema", b"").status == 405


def test_check_reports_app_problems_with_positions(tmp_path):
    reg = write_registry(tmp_path / "r")
    (reg / "sources.yaml").write_text("""sources:
  android-app:
    owner: apps
    app:
      id: com.example.android
      environment: mobile
  copy:
    owner: apps
    app:
      id: com.example.android
      environment: nowhere
  no-id:
    owner: apps
    app: {environment: mobile}
  bad:
    owner: apps
    app:
      id: "com example"
      environment: mobile
      platform: ios
""")
    out = run("check", str(reg))
    assert out.returncode != 0
    lines = out.stdout + out.stderr
    for want in (
            "sources.yaml:10:11: app id 'com.example.android' of source "
            "'copy' is already the app of source 'android-app' "
            "(sources.yaml:5)",
            "sources.yaml:11:20: app of source 'copy': no environment "
            "'nowhere'",
            "sources.yaml:14:11: app of source 'no-id' needs an id",
            "sources.yaml:18:12: app id 'com example' of source 'bad' must be",
            "sources.yaml:20:7: unknown key 'platform' in app of source 'bad' "
            "(allowed: id, environment)"):
        assert want in lines, lines
