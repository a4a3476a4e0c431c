"""The collector end to end: a live `reestr serve`, real HTTP, the real
SQLite store read back with `reestr query`."""

import hashlib
import json
import sqlite3

import pytest

from conftest import clickstream, page_view, uuid7


def statuses(resp):
    assert resp.status == 200, resp.raw
    return [r["status"] for r in resp.json()["results"]]


def errors(resp):
    assert resp.status == 200, resp.raw
    return [r.get("error") for r in resp.json()["results"]]


def test_valid_clickstream_batch_is_stored_with_typed_columns(server):
    events = [clickstream(), clickstream()]
    events[1]["fields"]["user"]["id"] = 414
    resp = server.post_events(events)
    assert statuses(resp) == ["accepted", "accepted"]
    body = resp.json()
    assert (body["accepted"], body["duplicate"], body["rejected"]) == (2, 0, 0)

    rows = server.query(
        "SELECT uuid, user_id, user_email, geo_latitude, geo_longitude, "
        "user_agent, environment, source FROM clickstream_event_v0 "
        "ORDER BY user_id")
    assert rows == [
        {"uuid": events[0]["uuid"], "user_id": 413,
         "user_email": "user413@example.com", "geo_latitude": 20.22,
         "geo_longitude": -10.11, "user_agent": "fluffy_browser",
         "environment": "bo", "source": "example-service"},
        {"uuid": events[1]["uuid"], "user_id": 414,
         "user_email": "user413@example.com", "geo_latitude": 20.22,
         "geo_longitude": -10.11, "user_agent": "fluffy_browser",
         "environment": "bo", "source": "example-service"},
    ]
    raw = server.query("SELECT event_id, version, fields FROM events")
    assert raw[0]["event_id"] == 100 and raw[0]["version"] == 0
    assert json.loads(raw[0]["fields"])["geo"] == {"latitude": 20.22,
                                                   "longitude": -10.11}


def test_time_is_stored_as_utc_microseconds(server):
    ev = clickstream(time="2018-04-11T22:37:05.5+03:00")
    assert statuses(server.post_events([ev])) == ["accepted"]
    rows = server.query("SELECT time, received_at FROM events")
    assert rows[0]["time"] == "2018-04-11T19:37:05.500000Z"
    assert rows[0]["received_at"].endswith("Z")


def test_results_follow_request_order_for_mixed_batch(test_server):
    good = page_view()
    bad = page_view(kind="nope")
    resp = test_server.post_events([good, bad, page_view()])
    assert statuses(resp) == ["accepted", "rejected", "accepted"]
    assert "fields.kind" in errors(resp)[1]


@pytest.mark.parametrize("event, field_in_error", [
    ({"event_id": 999}, "event_id"),
    ({"version": 7}, "version"),
    ({"event_id": 3}, "event_id"),                  # decommissioned event
    ({"event_id": 2, "version": 1}, "version"),     # decommissioned version
    ({"environment": "front"}, "environment"),      # page_view not in front
    ({"environment": "nowhere"}, "environment"),
    ({"source": "unknown-service"}, "source"),
    ({"uuid": "not-a-uuid"}, "uuid"),
    ({"uuid": "00000000-0000-0000-0000-000000000000"}, "uuid"),
    ({"time": "2026-11-25 10:00:00"}, "time"),      # no time zone
    ({"time": 1732530000}, "time"),
    ({"extra": 1}, "extra"),                        # unknown envelope key
])
def test_envelope_rejections_name_the_key(test_server, event, field_in_error):
    ev = page_view()
    ev.update(event)
    resp = test_server.post_events([ev])
    assert statuses(resp) == ["rejected"]
    assert errors(resp)[0].startswith(field_in_error), errors(resp)[0]


def test_missing_envelope_key_is_named(test_server):
    ev = page_view()
    del ev["uuid"]
    resp = test_server.post_events([ev])
    assert statuses(resp) == ["rejected"]
    assert "uuid" in errors(resp)[0]


@pytest.mark.parametrize("fields, path, words", [
    ({"url": None}, "fields.url", "missing"),
    ({"user": {}}, "fields.user.id", "missing"),
    ({"user": {"id": "7"}}, "fields.user.id", "integer"),
    ({"user": {"id": 1.5}}, "fields.user.id", "integer"),
    ({"user": {"id": 0}}, "fields.user.id", "min"),
    ({"user": {"id": 7, "email": "x" * 21}}, "fields.user.email", "max_length"),
    ({"user": {"id": 7, "name": "x"}}, "fields.user.name", "unknown"),
    ({"url": "ftp://example.com"}, "fields.url", "pattern"),
    ({"url": "https://" + "e" * 60}, "fields.url", "max_length"),
    ({"kind": "banner"}, "fields.kind", "one of"),
    ({"kind": 3}, "fields.kind", "string"),
    ({"score": 1.5}, "fields.score", "max"),
    ({"score": "high"}, "fields.score", "float"),
    ({"tags": ["a", "b", "c", "d"]}, "fields.tags", "max_items"),
    ({"tags": ["a", "toolong"]}, "fields.tags[1]", "max_length"),
    ({"tags": "a"}, "fields.tags", "array"),
    ({"seen_at": "yesterday"}, "fields.seen_at", "RFC 3339"),
    ({"logged_in": "yes"}, "fields.logged_in", "bool"),
    ({"colour": "red"}, "fields.colour", "unknown field"),
])
def test_field_rejections_name_the_field(test_server, fields, path, words):
    ev = page_view(**fields)
    if fields.get("url", "") is None:
        del ev["fields"]["url"]
    resp = test_server.post_events([ev])
    assert statuses(resp) == ["rejected"], resp.raw
    err = errors(resp)[0]
    assert err.startswith(path + ":"), err
    assert words.lower() in err.lower(), err


def test_rejected_events_are_stored_with_payload_and_reason(test_server):
    ev = page_view(kind="banner")
    resp = test_server.post_events([ev])
    assert statuses(resp) == ["rejected"]
    rows = test_server.query(
        "SELECT reason, payload, event_id, version, source FROM failed_events")
    assert len(rows) == 1
    assert rows[0]["reason"] == errors(resp)[0]
    assert json.loads(rows[0]["payload"]) == ev
    assert (rows[0]["event_id"], rows[0]["version"], rows[0]["source"]) == (
        1, 0, "test-service")
    assert test_server.query("SELECT count(*) AS n FROM events") == [{"n": 0}]


def test_deprecated_event_is_accepted(test_server):
    ev = {"event_id": 4, "version": 0, "uuid": uuid7(),
          "time": "2026-11-25T10:00:00Z", "environment": "bo",
          "source": "test-service", "fields": {"query": "bike"}}
    assert statuses(test_server.post_events([ev])) == ["accepted"]


def test_second_delivery_is_a_duplicate_and_stored_once(test_server):
    evs = [page_view(), page_view()]
    assert statuses(test_server.post_events(evs)) == ["accepted", "accepted"]
    again = test_server.post_events([evs[1], page_view(), evs[0]])
    assert statuses(again) == ["duplicate", "accepted", "duplicate"]
    assert again.json()["duplicate"] == 2
    n = test_server.query("SELECT count(*) AS n FROM events")[0]["n"]
    assert n == 3


def test_duplicate_inside_one_batch(test_server):
    ev = page_view()
    assert statuses(test_server.post_events([ev, ev])) == ["accepted",
                                                           "duplicate"]


@pytest.mark.parametrize("encoding", ["gzip", "zstd"])
def test_compressed_batches(test_server, encoding):
    evs = [page_view() for _ in range(50)]
    resp = test_server.post_events(evs, encoding=encoding)
    assert statuses(resp) == ["accepted"] * 50


def test_empty_batch(test_server):
    resp = test_server.post_events([])
    assert resp.status == 200
    assert resp.json()["results"] == []


@pytest.mark.parametrize("body, words", [
    (b'{"events": [', "line 1, column 13"),
    (b'{"events": [{"event_id": 1,}]}', "malformed JSON"),
    (b'[]', "JSON object"),
    (b'{"evnts": []}', "unknown key 'evnts'"),
    (b'{"events": {}}', "must be an array"),
    (b'{}', 'no "events"'),
    (b'{"events": []} x', "trailing"),
    (b'\xff\xfe', "malformed JSON"),
])
def test_malformed_bodies_are_400_and_store_nothing(test_server, body, words):
    resp = test_server.post_raw(body)
    assert resp.status == 400
    assert words in resp.json()["error"], resp.raw
    assert test_server.query(
        "SELECT (SELECT count(*) FROM events) + "
        "(SELECT count(*) FROM failed_events) AS n") == [{"n": 0}]


def test_malformed_event_inside_valid_json_is_rejected_not_400(test_server):
    resp = test_server.post_raw(b'{"events": [42, "x", null]}')
    assert statuses(resp) == ["rejected"] * 3
    assert "JSON object" in errors(resp)[0]


@pytest.mark.parametrize("score, words", [
    (b"NaN", "fields.score: not a finite number: JSON has no NaN"),
    (b"-Infinity", "fields.score: not a finite number: JSON has no -Infinity"),
    (b"1e999", "fields.score: not a finite number: 1e999 is beyond"),
    (b'"\\ud800"', "fields.score: lone surrogate"),
    (b'"\xff"', "fields.score: invalid UTF-8"),
])
def test_value_json_cannot_hold_rejects_its_event_not_the_batch(
        test_server, score, words):
    """NaN from a JavaScript or Python sender, a bad byte, a lone
    surrogate: that event is rejected with the field's path (and stored as
    failed), the others of the batch are accepted."""
    good = json.dumps(page_view()).encode()
    bad = json.dumps(page_view(score=0.5)).encode().replace(b"0.5", score)
    resp = test_server.post_raw(b'{"events": [' + good + b", " + bad + b"]}")
    assert statuses(resp) == ["accepted", "rejected"], resp.raw
    assert errors(resp)[1].startswith(words), errors(resp)[1]
    assert test_server.query(
        "SELECT (SELECT count(*) FROM events) AS stored, "
        "(SELECT count(*) FROM failed_events) AS failed") == \
        [{"stored": 1, "failed": 1}]
    # The payload column stays text (a bad byte kept as '?'); the hash is
    # of the event as sent.
    con = sqlite3.connect(test_server.data / "reestr.db")
    payload, digest = con.execute(
        "SELECT payload, payload_sha256 FROM failed_events").fetchone()
    con.close()
    assert payload == bad.decode("utf-8", "replace").replace("\ufffd", "?")
    assert digest == hashlib.sha256(bad).hexdigest()


def test_wrong_content_type_is_415(test_server):
    body = json.dumps({"events": [page_view()]}).encode()
    for ct in ["text/plain", "application/x-www-form-urlencoded", None]:
        headers = {"Content-Type": ct} if ct else {}
        resp = test_server.request("POST", "/v1/events", body, headers)
        assert resp.status == 415, (ct, resp.raw)
        assert "application/json" in resp.json()["error"]
    resp = test_server.post_raw(body, {"Content-Encoding": "br"})
    assert resp.status == 415


def test_bad_compressed_bodies_are_400(test_server):
    resp = test_server.post_raw(b"not gzip at all", {"Content-Encoding": "gzip"})
    assert resp.status == 400 and "gzip" in resp.json()["error"]
    resp = test_server.post_raw(b"not zstd at all", {"Content-Encoding": "zstd"})
    assert resp.status == 400 and "zstd" in resp.json()["error"]


def test_limits_are_configurable_and_enforced(make_server):
    from conftest import FIXTURE_REGISTRY
    import gzip as gz
    s = make_server(registry=FIXTURE_REGISTRY, extra_args=[
        "--max-body-bytes", "4096", "--max-batch-events", "5",
        "--max-string-bytes", "100", "--max-depth", "6"])
    big = json.dumps({"events": [page_view()] * 30}).encode()
    resp = s.post_raw(big)
    assert resp.status == 413 and "--max-body-bytes" in resp.json()["error"]
    # A small gzip body that inflates past the limit (a zip bomb) too.
    bomb = gz.compress(b'{"events": [' + b" " * 100000 + b"]}")
    assert len(bomb) < 4096
    resp = s.post_raw(bomb, {"Content-Encoding": "gzip"})
    assert resp.status == 413 and "decoded" in resp.json()["error"]
    resp = s.post_events([page_view() for _ in range(6)])
    assert resp.status == 413 and "--max-batch-events" in resp.json()["error"]
    # A string or nesting limit broken inside one event rejects that event
    # alone (tests/integration/test_limits.py has more).
    resp = s.post_events([page_view(url="https://" + "e" * 200)])
    assert resp.status == 200
    assert "--max-string-bytes" in resp.json()["results"][0]["error"]
    resp = s.post_raw(b'{"events": [[[[[[[1]]]]]]]}')
    assert resp.status == 200
    assert "--max-depth" in resp.json()["results"][0]["error"]
    assert s.query("SELECT count(*) AS n FROM failed_events") == [{"n": 2}]
    assert statuses(s.post_events([page_view()])) == ["accepted"]


def test_stats_count_per_event_version_source_and_hour(test_server):
    test_server.post_events([page_view(), page_view(), page_view(kind="x")])
    dup = page_view()
    test_server.post_events([dup, dup])
    resp = test_server.request("GET", "/v1/stats")
    assert resp.status == 200
    hours = resp.json()["hours"]
    assert len(hours) == 1
    h = hours[0]
    assert h["hour"].endswith(":00:00Z")
    assert (h["event_id"], h["version"], h["source"]) == (1, 0, "test-service")
    assert (h["accepted"], h["rejected"], h["duplicate"]) == (3, 1, 1)


def test_stats_time_window_and_bad_arguments(test_server):
    test_server.post_events([page_view()])
    resp = test_server.request("GET", "/v1/stats?from=2000-01-01T00:00:00Z"
                               "&to=2000-01-02T00:00:00Z")
    assert resp.status == 200 and resp.json()["hours"] == []
    assert test_server.request("GET", "/v1/stats?from=yesterday").status == 400


def test_unknown_routes_and_methods(test_server):
    assert test_server.request("GET", "/nope").status == 404
    assert test_server.request("GET", "/v1/events").status == 405
    assert test_server.request("POST", "/v1/stats", b"").status == 405
