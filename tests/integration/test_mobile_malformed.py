"""Malformed and oversized protobuf at POST /v1/mobile: the whole request is
refused with a message naming the problem and where, the server stays up,
and nothing is stored (no event, no failed_events row)."""

import pytest

from mobile_common import batch, post, post_json, write_registry

GOOD = {"eventId": 900, "version": 0, "timestamp_ms": 1764547200000,
        "params": {"user.id": "1", "screen": "home", "count": "1"}}


@pytest.fixture
def mobile(make_server, tmp_path):
    return make_server(registry=write_registry(tmp_path / "registry"),
                       extra_args=["--max-body-bytes", "65536",
                                   "--max-batch-events", "50",
                                   "--max-string-bytes", "1000"])


def good_bytes():
    return batch([GOOD]).SerializeToString()


def groups(depth):
    """Field 15 as a group holding itself depth times."""
    return b"\x7b" * depth + b"\x7c" * depth


CASES = [
    # (name, body, status, the error's start)
    ("truncated varint", good_bytes()[:-1] + b"\x28\xff",
     400, "malformed protobuf: truncated varint at byte "),
    ("truncated key", b"\x0a\x00\xff",
     400, "malformed protobuf: truncated varint at byte 2 (a field key in "
     "MobileAppEventBatch)"),
    ("over-long varint", b"\x28" + b"\xff" * 10 + b"\x01",
     400, "malformed protobuf: over-long (more than 10 bytes) varint at "
     "byte 1 (sent_at_ms in MobileAppEventBatch)"),
    ("wrong wire type", b"\x08\x01",
     400, "malformed protobuf: wrong wire type at byte 0: field events (1) "
     "of MobileAppEventBatch has wire type 0 (varint), expected 2 "
     "(length-delimited)"),
    ("wrong wire type inside an event", b"\x0a\x02\x22\x01",
     400, "malformed protobuf: length past the end: field params (4) at "
     "byte 2 of MobileAppEvent in events[0] says 1 bytes, 0 are left"),
    ("wrong wire type of a param", b"\x0a\x04\x22\x02\x08\x01",
     400, "malformed protobuf: wrong wire type at byte 4: field key (1) of a "
     "params entry in events[0].params[0] has wire type 0 (varint), "
     "expected 2 (length-delimited)"),
    ("length past the end", b"\x0a\x10\x08\x01",
     400, "malformed protobuf: length past the end: field events (1) at "
     "byte 0 of MobileAppEventBatch says 16 bytes, 2 are left"),
    ("nested too deep", b"\x0a\x42" + groups(33),
     400, "malformed protobuf: nested too deep: more than 16 levels at byte "),
    ("a group", b"\x7b\x7c",
     400, "malformed protobuf: group (wire type 3) at byte 0, field 15 of "
     "MobileAppEventBatch: groups are not supported"),
    ("an unopened group end", b"\x7c",
     400, "malformed protobuf: group end (wire type 4) at byte 0"),
    ("wire type 7", b"\x0f",
     400, "malformed protobuf: wire type 7 at byte 0 (field 1 of "
     "MobileAppEventBatch) is not a protobuf wire type"),
    ("field number 0", b"\x00\x01",
     400, "malformed protobuf: field number 0 at byte 0"),
    ("not protobuf at all", b'{"events": []}',
     400, "malformed protobuf: "),
    ("too many events", batch([GOOD] * 51).SerializeToString(),
     413, "limit exceeded: batch of more than 50 events is larger than the "
     "limit (--max-batch-events)"),
    ("a string over --max-string-bytes",
     batch([dict(GOOD, params={"note": "x" * 1001})]).SerializeToString(),
     413, "limit exceeded: value in events[0].params[0] at byte "),
    ("a body over --max-body-bytes",
     batch([dict(GOOD, params={f"k{i}": "x" * 900 for i in range(80)})])
     .SerializeToString(),
     413, "body is larger than the limit of 65536 bytes (--max-body-bytes)"),
]


@pytest.mark.parametrize("name,body,status,want", CASES,
                         ids=[c[0] for c in CASES])
def test_malformed_body_is_refused_whole(mobile, name, body, status, want):
    resp = post_json(mobile, body)
    assert resp.status == status, (resp.status, resp.raw)
    error = resp.json()["error"]
    assert error.startswith(want), error
    # the server is up and stored nothing of it
    assert mobile.request("GET", "/healthz").status == 200
    assert mobile.query("SELECT (SELECT count(*) FROM events) AS e, "
                        "(SELECT count(*) FROM failed_events) AS f") == \
        [{"e": 0, "f": 0}]
    # and the next good batch is stored
    r = post_json(mobile, batch([GOOD]))
    assert r.json()["accepted"] == 1, r.raw


def test_unknown_fields_are_read_past_as_protobuf_does(mobile):
    """A newer app's fields, unknown to this collector, are read past (the
    protobuf rule that lets an app be ahead of its collector)."""
    body = good_bytes() + b"\xa0\x06\x01" + b"\xaa\x06\x03abc" + \
        b"\xad\x06\x00\x00\x00\x00" + b"\xa9\x06" + b"\x00" * 8
    resp = post_json(mobile, body)
    assert resp.json()["accepted"] == 1, resp.raw


def test_many_malformed_bodies_leave_the_server_up(mobile):
    """Every cut of a good batch: each answered (200 when the cut falls
    between fields, else 400), never a crash."""
    raw = batch([GOOD, GOOD]).SerializeToString()
    seen = set()
    for n in range(len(raw)):
        resp = post(mobile, raw[:n], accept="application/json")
        assert resp.status in (200, 400), (n, resp.status, resp.raw)
        seen.add(resp.status)
    assert seen == {200, 400}
    assert mobile.request("GET", "/healthz").status == 200


def test_the_densest_body_unpacks_within_its_memory_bound(mobile):
    """Empty params entries are two bytes each on the wire, the most
    allocations a byte can cause: such a batch is unpacked (its events
    rejected for the unknown param), not refused for memory."""
    m = __import__("mobile_common").pb2()
    ev = m.MobileAppEvent(eventId=900, version=0, timestamp_ms=1764547200000)
    ev.params.update(GOOD["params"])
    entry = b"\x22\x00"  # an empty params entry: key "" -> value ""
    event = ev.SerializeToString() + entry * 4000
    body = b"".join(b"\x0a" + _varint(len(event)) + event for _ in range(7))
    body += b"\x12\x13com.example.android"
    assert len(body) < 65536
    rs = post_json(mobile, body).json()["results"]
    assert len(rs) == 7
    assert all(r["status"] == "rejected" for r in rs)
    assert rs[0]["error"].startswith("params the event's version 0 does not "
                                     "define: \"\""), rs[0]


def _varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def test_a_gzip_body_that_decodes_over_the_limit_is_413(mobile):
    import gzip
    body = batch([dict(GOOD, params={f"k{i}": "x" * 900 for i in range(80)})]
                 ).SerializeToString()
    assert len(body) > 65536
    resp = post_json(mobile, gzip.compress(body),
                     headers={"Content-Encoding": "gzip"})
    assert resp.status == 413, resp.raw
    assert "decoded body is larger than the limit of 65536 bytes" in \
        resp.json()["error"]
    assert mobile.query("SELECT count(*) AS n FROM failed_events") == \
        [{"n": 0}]


def test_the_unpack_takes_its_memory_from_the_inflight_budget(
        make_server, tmp_path):
    """protobuf-c's allocations are charged to --max-inflight-bytes: a
    dense batch the budget cannot unpack is answered 503 with Retry-After,
    nothing stored, and the same batch fits a larger budget."""
    m = __import__("mobile_common").pb2()
    ev = m.MobileAppEvent(eventId=900, version=0, timestamp_ms=1764547200000)
    ev.params.update(GOOD["params"])
    event = ev.SerializeToString() + b"\x22\x00" * 4000
    body = b"".join(b"\x0a" + _varint(len(event)) + event for _ in range(12))
    body += b"\x12\x13com.example.android"
    reg = write_registry(tmp_path / "registry")
    small = make_server(registry=reg, extra_args=[
        "--max-inflight-bytes", "300000"])
    resp = post_json(small, body)
    assert resp.status == 503, resp.raw
    assert resp.headers.get("Retry-After") == "5"
    assert "memory budget of 300000 bytes" in resp.json()["error"]
    assert small.query("SELECT (SELECT count(*) FROM events) + "
                       "(SELECT count(*) FROM failed_events) AS n") == \
        [{"n": 0}]
    big = make_server(registry=reg)
    assert post_json(big, body).status == 200
