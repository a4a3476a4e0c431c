"""The conversion rules of docs/proxy.md ("Conversion rules"): every row of
the table, right and wrong, posted as a mobile app posts it. Each wrong
param rejects its event alone, with a reason naming the param and the
expected type, and the event is kept in failed_events as received."""

import json

import pytest

from mobile_common import batch, post_json, results, write_registry

GOOD = {"user.id": "1", "screen": "home", "count": "1"}

# (params over GOOD (None removes one), the error, exactly or its start)
ERRORS = [
    # int
    ({"count": "12a"}, 'param count: expected an int (a decimal integer '
     'within int64), got "12a"'),
    ({"count": "1.0"}, 'param count: expected an int'),
    ({"count": "+1"}, 'param count: expected an int'),
    ({"count": "007"}, 'param count: expected an int'),
    ({"count": " 1"}, 'param count: expected an int'),
    ({"count": "9223372036854775808"}, 'param count: expected an int within '
     'int64 (out of range), got "9223372036854775808"'),
    ({"count": "-9223372036854775809"}, 'param count: expected an int within '
     'int64 (out of range)'),
    # float
    ({"score": "abc"}, 'param score: expected a float (a decimal number such '
     'as -12.5 or 1e-3), got "abc"'),
    ({"score": "1."}, 'param score: expected a float'),
    ({"score": ".5"}, 'param score: expected a float'),
    ({"score": "NaN"}, 'param score: expected a float'),
    ({"score": "inf"}, 'param score: expected a float'),
    ({"score": "0x10"}, 'param score: expected a float'),
    ({"score": "1e309"}, 'param score: expected a float within a double (out '
     'of range), got "1e309"'),
    # bool
    ({"user.premium": "yes"}, 'param user.premium: expected a bool (true, '
     'false, 1 or 0), got "yes"'),
    ({"user.premium": "TRUE"}, 'param user.premium: expected a bool'),
    ({"user.premium": "2"}, 'param user.premium: expected a bool'),
    # timestamp
    ({"opened_at": "yesterday"}, 'param opened_at: expected a timestamp '
     '(RFC 3339 such as 2026-12-01T10:00:00Z, or integer milliseconds since '
     '1970), got "yesterday": '),
    ({"opened_at": "2026-13-01T00:00:00Z"}, 'param opened_at: expected a '
     'timestamp'),
    ({"opened_at": "2026-12-01T00:00:00"}, 'param opened_at: expected a '
     'timestamp'),
    ({"opened_at": "999999999999999999"}, 'param opened_at: expected a '
     'timestamp within years 0001-9999 (milliseconds out of range)'),
    # enum
    ({"screen": "shop"}, 'param screen: expected one of home, item, cart '
     '(enum), got "shop"'),
    ({"screen": "Home"}, 'param screen: expected one of home, item, cart'),
    # params the version does not define: all named at once
    ({"foo": "1", "user.foo": "2"}, "params the event's version 0 does not "
     'define: '),
    # missing required
    ({"count": None}, "param count: missing (a required int)"),
    ({"user.id": None}, "param user.id: missing (a required int)"),
    ({"count": ""}, "param count: missing (a required int)"),
    ({"items.0.price": "1"}, "param items.0.id: missing (a required int)"),
    # bad dotted paths
    ({"count.x": "1"}, "param count.x: count is an int, it has no keys "
     "below it"),
    ({"user": "5"}, "param user: an object (device_user); give its fields as "
     "user.<field>"),
    ({"tags": "a,b"}, 'param tags: an array; give its items as tags.0, '
     'tags.1, ... (or "" for an empty array)'),
    ({"tags.x": "a"}, "param tags.x: tags is an array; expected an index "
     "0-9999 after it (tags.0, tags.1, ...)"),
    ({"tags.-1": "a"}, "param tags.-1: tags is an array; expected an index"),
    ({"tags.01": "a"}, "param tags.01: tags is an array; expected an index"),
    ({"tags.10000": "a"}, "param tags.10000: tags is an array; expected an "
     "index"),
    ({"tags.0": "a", "tags.2": "c"}, "param tags.1: missing; items of an "
     "array run from .0 without gaps"),
    ({"items.x.id": "1"}, "param items.x.id: items is an array"),
    # values convert, then the registry's constraints apply as for JSON
    ({"user.id": "0"}, "fields.user.id: "),
]


@pytest.fixture
def mobile(make_server, tmp_path):
    return make_server(registry=write_registry(tmp_path / "registry"))


def params_of(over):
    p = dict(GOOD)
    for k, v in over.items():
        if v is None:
            p.pop(k)
        else:
            p[k] = v
    return p


def test_every_conversion_error_names_its_param(mobile):
    events = [{"eventId": 900, "version": 0, "timestamp_ms": 1764547200000,
               "params": params_of(over)} for over, _ in ERRORS]
    events.append({"eventId": 900, "version": 0,
                   "timestamp_ms": 1764547200000, "params": GOOD})
    rs = results(post_json(mobile, batch(events)))
    assert len(rs) == len(ERRORS) + 1
    for (over, want), r in zip(ERRORS, rs):
        assert r["status"] == "rejected", (over, r)
        assert r["error"].startswith(want), (over, r["error"], want)
    assert rs[-1]["status"] == "accepted"
    unknown = rs[[o for o, _ in ERRORS].index({"foo": "1", "user.foo": "2"})]
    assert '"foo"' in unknown["error"] and '"user.foo"' in unknown["error"]

    failed = mobile.query("SELECT reason, payload, event_id, version, source "
                          "FROM failed_events")
    assert sorted(f["reason"] for f in failed) == sorted(
        r["error"] for r in rs[:-1])
    for f in failed:
        assert (f["event_id"], f["version"], f["source"]) == \
            (900, 0, "android-app")
        payload = json.loads(f["payload"])
        assert payload["eventId"] == 900 and payload["appId"] == \
            "com.example.android"
    assert mobile.query("SELECT count(*) AS n FROM events") == [{"n": 1}]


def test_a_param_given_twice_and_invalid_utf8(mobile):
    """Cases the Python library will not make: a map key twice (two
    serialized events concatenate into one), and bytes that are not
    UTF-8 in a value."""
    from mobile_common import pb2
    m = pb2()
    ev = m.MobileAppEvent(eventId=900, version=0, timestamp_ms=1764547200000)
    ev.params.update(GOOD)
    twice = m.MobileAppEvent()
    twice.params["count"] = "2"
    ev_bytes = ev.SerializeToString() + twice.SerializeToString()
    entry = b"\x0a\x04note\x12\x02\xff\xfe"
    bad_utf8 = ev.SerializeToString() + b"\x22" + bytes([len(entry)]) + entry
    body = b"".join(b"\x0a" + bytes([len(e)]) + e
                    for e in (ev_bytes, bad_utf8))
    body += b"\x12\x13com.example.android"
    rs = results(post_json(mobile, body))
    assert rs[0] == {"status": "rejected", "error": "param count: given twice"}
    assert rs[1] == {"status": "rejected",
                     "error": "param note: not valid UTF-8"}
    # the payload kept is text: the bad bytes shown as '?'
    [p] = mobile.query("SELECT payload FROM failed_events WHERE reason LIKE "
                       "'%UTF-8%'")
    assert json.loads(p["payload"])["params"]["note"] == "??"


def test_every_type_converts(mobile):
    """The right side of the table: each spelling the rules accept."""
    cases = [
        ({"count": "-0"}, "count", 0),
        ({"count": "-9223372036854775808"}, "count", -9223372036854775808),
        ({"score": "-12.5"}, "score", -12.5),
        ({"score": "1E+2"}, "score", 100.0),
        ({"score": "3"}, "score", 3.0),
        ({"user.premium": "1"}, "user_premium", 1),
        ({"user.premium": "false"}, "user_premium", 0),
        ({"opened_at": "2026-12-01T10:00:00.5+02:00"}, "opened_at",
         "2026-12-01T08:00:00.500000Z"),
        ({"opened_at": "0"}, "opened_at", "1970-01-01T00:00:00.000000Z"),
        ({"opened_at": "-1000"}, "opened_at", "1969-12-31T23:59:59.000000Z"),
        ({"screen": "cart"}, "screen", "cart"),
        ({"note": ""}, "note", ""),
        ({"user.premium": ""}, "user_premium", None),
    ]
    events = [{"eventId": 900, "version": 0, "timestamp_ms": 1764547200000,
               "uuid": f"0192f0c4-8b7a-7cde-8f00-{i:012d}",
               "params": params_of(over)} for i, (over, _, _) in
              enumerate(cases)]
    rs = results(post_json(mobile, batch(events)))
    assert [r["status"] for r in rs] == ["accepted"] * len(cases), rs
    rows = mobile.query("SELECT * FROM app_action_v0 ORDER BY uuid")
    for (over, col, want), row in zip(cases, rows):
        assert row[col] == want, (over, row)
