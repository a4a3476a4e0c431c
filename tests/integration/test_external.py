"""External projects (docs/proxy.md, "External projects"): a partner's own
protobuf message, described by a .proto kept in the registry and turned into
an event by a mapping. Messages are encoded by the real Python `protobuf`
library from code `protoc --python_out` made from the registry's own .proto;
they are posted to POST /v1/external/{mapping} and read back as typed rows.
`reestr check` verifies mappings against the .proto and the event version,
and a published mapping never changes."""
import importlib
import json
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid

import pytest
from conftest import EXAMPLES, held_open, query, run

from google.protobuf import json_format

PB = {"Content-Type": "application/x-protobuf"}
JS = {"Content-Type": "application/json"}


_MODULES = {}


def protoc_module(proto_path, tmp_path, extra=""):
    """The Python module protoc makes from a .proto (plus extra text, e.g. a
    batch wrapper), imported under a name of its own; once per text, as the
    library's default descriptor pool takes each message name once."""
    text = proto_path.read_text() + extra
    if text in _MODULES:
        return _MODULES[text]
    out = tmp_path / f"pb{uuid.uuid4().hex[:8]}"
    out.mkdir()
    name = f"m{uuid.uuid4().hex[:8]}"
    (out / f"{name}.proto").write_text(text)
    subprocess.run(["protoc", f"--proto_path={out}", f"--python_out={out}",
                    f"{name}.proto"], check=True)
    sys.path.insert(0, str(out))
    try:
        _MODULES[text] = importlib.import_module(f"{name}_pb2")
        return _MODULES[text]
    finally:
        sys.path.remove(str(out))


@pytest.fixture
def registry(tmp_path):
    reg = tmp_path / "registry"
    shutil.copytree(EXAMPLES, reg)
    return reg


@pytest.fixture
def feed(tmp_path):
    """The example registry's partner message, with a batch wrapper."""
    return protoc_module(
        EXAMPLES / "mappings" / "partner_feed.proto", tmp_path,
        "\nmessage Batch { repeated ExternalProjectEvent events = 1; }\n")


def rows(server, sql):
    return query(server.data, sql)


def counts(server):
    return (rows(server, "SELECT count(*) AS n FROM events")[0]["n"],
            rows(server, "SELECT count(*) AS n FROM failed_events")[0]["n"])


def check(reg):
    return run("check", str(reg))


# ---- the example mapping, end to end ---------------------------------------

def test_protobuf_messages_become_typed_rows(server, feed):
    one = feed.ExternalProjectEvent(someIntField=42,
                                    someStringField="red bike",
                                    someBoolFied=True)
    r = server.request("POST", "/v1/external/partner_feed",
                       one.SerializeToString(), PB)
    assert r.status == 200, r.raw
    assert r.json()["accepted"] == 1
    batch = feed.Batch(events=[
        feed.ExternalProjectEvent(someIntField=7, someStringField="sofa"),
        feed.ExternalProjectEvent(someIntField=8, someStringField="lamp",
                                  someBoolFied=True)])
    r = server.request("POST", "/v1/external/partner_feed?batch=1",
                       batch.SerializeToString(), PB)
    assert r.status == 200, r.raw
    assert [x["status"] for x in r.json()["results"]] == ["accepted"] * 2
    got = rows(server, "SELECT item_id, query, promoted, channel, source, "
                       "environment FROM partner_signal_v0 ORDER BY item_id")
    assert got == [
        {"item_id": 7, "query": "sofa", "promoted": 0,
         "channel": "partner_feed", "source": "partner-feed",
         "environment": "partners"},
        {"item_id": 8, "query": "lamp", "promoted": 1,
         "channel": "partner_feed", "source": "partner-feed",
         "environment": "partners"},
        {"item_id": 42, "query": "red bike", "promoted": 1,
         "channel": "partner_feed", "source": "partner-feed",
         "environment": "partners"}]


def test_the_json_form_stores_the_same_rows(make_server, feed):
    a, b = make_server(), make_server()
    msgs = [feed.ExternalProjectEvent(someIntField=i, someStringField=f"q{i}",
                                      someBoolFied=i % 2 == 0)
            for i in range(1, 5)]
    r = a.request("POST", "/v1/external/partner_feed?batch=1",
                  feed.Batch(events=msgs).SerializeToString(), PB)
    assert r.json()["accepted"] == 4, r.raw
    # the library's own JSON: lowerCamelCase names; one object, then an
    # array; and the declared names are accepted too
    first = json_format.MessageToJson(msgs[0])
    assert '"someIntField": 1' in first
    r = b.request("POST", "/v1/external/partner_feed", first.encode(), JS)
    assert r.json()["accepted"] == 1, r.raw
    rest = "[" + ",".join(json_format.MessageToJson(
        m, preserving_proto_field_name=True) for m in msgs[1:]) + "]"
    r = b.request("POST", "/v1/external/partner_feed", rest.encode(), JS)
    assert r.json()["accepted"] == 3, r.raw
    sql = ("SELECT item_id, query, promoted, channel FROM partner_signal_v0 "
           "ORDER BY item_id")
    assert rows(a, sql) == rows(b, sql) and len(rows(a, sql)) == 4


def test_a_conversion_error_rejects_that_event_only(server):
    body = json.dumps([
        {"someIntField": 5, "someStringField": "ok"},
        {"someIntField": "five", "someStringField": "bad"},
        {"someIntField": 6, "someStringField": "x" * 201},
    ]).encode()
    r = server.request("POST", "/v1/external/partner_feed", body, JS)
    assert r.status == 200, r.raw
    res = r.json()["results"]
    assert res[0] == {"status": "accepted", "unpublished": True}
    assert res[1]["status"] == "rejected"
    assert "someIntField" in res[1]["error"]
    assert "expected an integer" in res[1]["error"]
    assert res[2]["status"] == "rejected"
    assert res[2]["error"].startswith("fields.query: 201 characters")
    failed = rows(server, "SELECT reason, payload, event_id, source FROM "
                          "failed_events ORDER BY reason")
    assert len(failed) == 2
    assert failed[1]["payload"] == ('{"someIntField": "five", '
                                    '"someStringField": "bad"}')
    assert failed[1]["event_id"] == 550
    assert failed[1]["source"] == "partner-feed"


def test_json_keys_must_be_fields_once(server):
    body = json.dumps([
        {"someIntField": 5, "someStringFeld": "typo"},
        {"someIntField": 5, "some_int_field": 6},
        {"someIntField": 5, "someStringField": "ok", "someBoolFied": None},
    ]).encode()
    r = server.request("POST", "/v1/external/partner_feed", body, JS)
    assert [x.get("error") for x in r.json()["results"]] == [
        "someStringFeld: not a field of partner.feed.ExternalProjectEvent",
        "some_int_field: not a field of partner.feed.ExternalProjectEvent",
        None], r.raw
    # null is proto3 JSON's default value
    assert rows(server, "SELECT promoted FROM partner_signal_v0") == [
        {"promoted": 0}]


def test_a_rejected_protobuf_message_is_kept_readable(server, feed):
    # proto3 cannot tell 0 from absent: item.id 0 breaks min 1
    msg = feed.ExternalProjectEvent(someStringField="no id")
    r = server.request("POST", "/v1/external/partner_feed",
                       msg.SerializeToString(), PB)
    assert r.json()["results"][0]["error"] == "fields.item.id: 0 is less " \
                                              "than min 1"
    failed = rows(server, "SELECT payload FROM failed_events")
    assert failed == [{"payload": '{"someStringField":"no id"}'}]


def test_unknown_mapping_and_wrong_content_type(server, feed):
    r = server.request("POST", "/v1/external/partner_fed", b"", PB)
    assert r.status == 404
    assert r.json()["error"] == "no mapping 'partner_fed'; known: partner_feed"
    r = server.request("POST", "/v1/external/partner_feed", b"x",
                       {"Content-Type": "text/plain"})
    assert r.status == 415
    r = server.request("GET", "/v1/external/partner_feed")
    assert r.status == 405
    assert counts(server) == (0, 0)


@pytest.mark.parametrize("body,problem", [
    (b"\x08", "field someIntField (1): truncated or overlong varint at "
              "byte 0"),
    (b"\x08" + b"\xff" * 10 + b"\x01",
     "field someIntField (1): truncated or overlong varint at byte 0"),
    (b"\x0a\x01\x01", "field someIntField (1): wire type 2 (length), "
                      "expected 0, at byte 0"),
    (b"\x12\x05abc", "field someStringField (2): length 5 past the end at "
                     "byte 0"),
    (b"\x12\x02\xc3\x28", "field someStringField (2): invalid UTF-8 at "
                          "byte 2 (a proto3 string is UTF-8)"),
    (b"\x1b", "field someBoolFied (3): wire type 3, expected 0, at byte 0"),
    (b"\x4b", "field number 9: groups (wire types 3, 4) are not supported, "
              "at byte 0"),
    (b"\x00", "field number 0 at byte 0"),
])
def test_malformed_protobuf_is_a_400_and_nothing_is_stored(server, body,
                                                          problem):
    ok = b"\x08\x2a\x12\x01a"
    r = server.request("POST", "/v1/external/partner_feed", body, PB)
    assert r.status == 400, r.raw
    assert r.json()["error"] == ("malformed protobuf partner.feed."
                                 "ExternalProjectEvent: " + problem)
    # in a batch: the message is named, and its good neighbour not stored
    batch = (b"\x0a" + bytes([len(ok)]) + ok + b"\x0a" + bytes([len(body)])
             + body)
    r = server.request("POST", "/v1/external/partner_feed?batch=1", batch,
                       PB)
    assert r.status == 400, r.raw
    assert r.json()["error"].startswith("message 1: malformed protobuf")
    r = server.request("POST", "/v1/external/partner_feed?batch=1",
                       b"\x0a\x09" + ok, PB)
    assert r.status == 400
    assert "runs past the end" in r.json()["error"]
    assert counts(server) == (0, 0)
    assert server.request("GET", "/healthz").status == 200


def test_unknown_proto_fields_are_read_past_as_protobuf_does(server):
    # field 9 (a newer partner's) in each wire type, then known fields
    body = (b"\x48\x01" + b"\x51" + b"\x00" * 8 + b"\x5a\x02hi"
            + b"\x5d" + b"\x00" * 4 + b"\x08\x03\x12\x01q")
    r = server.request("POST", "/v1/external/partner_feed", body, PB)
    assert r.json()["accepted"] == 1, r.raw
    assert rows(server, "SELECT item_id, query FROM partner_signal_v0") == [
        {"item_id": 3, "query": "q"}]


def test_too_many_messages_is_413(make_server, feed):
    s = make_server(extra_args=["--max-batch-events", "2"])
    batch = feed.Batch(events=[feed.ExternalProjectEvent(someIntField=i)
                               for i in range(1, 4)])
    r = s.request("POST", "/v1/external/partner_feed?batch=1",
                  batch.SerializeToString(), PB)
    assert r.status == 413
    assert "--max-batch-events" in r.json()["error"]
    assert counts(s) == (0, 0)


# ---- a richer mapping: enums, nested paths, repeated, time and uuid -------

RICH_PROTO = """syntax = "proto3";
package acme.v1;

// An order placed on the partner's site.
message Order {
  message Buyer { int64 id = 1; string email = 2; }
  enum Platform { PLATFORM_UNSPECIFIED = 0; WEB = 1; IOS = 2; ANDROID = 3; API = 4; }
  string order_uuid = 1;
  int64 placed_at_ms = 2;
  Buyer buyer = 3;
  uint64 listing = 4;
  Platform platform = 5;
  repeated string tags = 6;
  double total = 7;
  string internal_note = 8;
  Order parent = 9;
}
"""

RICH_EVENT = """events:
  partner_order:
    id: 701
    owner: marketplace
    description: An order a partner reports.
    versions:
      - version: 0
        fields:
          user: user
          item_id: {type: int, min: 1}
          platform: {type: enum, values: [platform_unspecified, web, ios, android, api]}
          tags: {type: array, items: string, max_items: 5}
          total: {type: float, min: 0}
          partner: {type: string}
          placed_at: {type: timestamp, required: false}
"""

RICH_MAPPING = """mappings:
  acme_orders:
    proto: mappings/acme.proto
    message: acme.v1.Order
    event: partner_order
    version: 0
    source: partner-feed
    environment: partners
    uuid: order_uuid
    time: placed_at_ms
    fields:
      buyer.id: user.id
      buyer.email: user.email
      listing: item_id
      platform: platform
      tags: tags
      total: total
      placed_at_ms: placed_at
    constants:
      partner: acme
    ignore: [internal_note, parent]
"""


def add_rich(reg, proto=RICH_PROTO, mapping=RICH_MAPPING, event=RICH_EVENT):
    (reg / "mappings" / "acme.proto").write_text(proto)
    (reg / "mappings" / "acme.yaml").write_text(mapping)
    (reg / "events" / "partner_order.yaml").write_text(event)
    env = reg / "environments.yaml"
    env.write_text(env.read_text().replace(
        "      - partner_signal\n", "      - partner_signal\n"
        "      - partner_order\n", 1))


def test_a_richer_mapping_end_to_end(registry, make_server, tmp_path):
    add_rich(registry)
    assert check(registry).returncode == 0, check(registry).stdout
    acme = protoc_module(registry / "mappings" / "acme.proto", tmp_path)
    s = make_server(registry=registry)
    u = str(uuid.uuid4())
    order = acme.Order(order_uuid=u, placed_at_ms=1764547200123,
                       buyer=acme.Order.Buyer(id=413, email="a@b.example"),
                       listing=99, platform=acme.Order.IOS,
                       tags=["gift", "express"], total=12.5,
                       internal_note="dropped")
    body = order.SerializeToString()
    r = s.request("POST", "/v1/external/acme_orders", body, PB)
    assert r.json()["results"] == [{"status": "accepted",
                                    "unpublished": True}], r.raw
    # the partner's uuid: a retry is a duplicate
    r = s.request("POST", "/v1/external/acme_orders", body, PB)
    assert r.json()["results"][0]["status"] == "duplicate"
    got = rows(s, "SELECT uuid, time, user_id, user_email, item_id, "
                  "platform, tags, total, partner, placed_at FROM "
                  "partner_order_v0")
    assert got == [{"uuid": u, "time": "2025-12-01T00:00:00.123000Z",
                    "user_id": 413, "user_email": "a@b.example",
                    "item_id": 99, "platform": "ios",
                    "tags": '["gift","express"]', "total": 12.5,
                    "partner": "acme",
                    "placed_at": "2025-12-01T00:00:00.123000Z"}]
    # the JSON form: int64 as a string, the enum by name, JSON names
    js = json_format.MessageToJson(acme.Order(
        order_uuid=str(uuid.uuid4()), placed_at_ms=1764547200000,
        buyer=acme.Order.Buyer(id=7), listing=5,
        platform=acme.Order.ANDROID))
    assert '"placedAtMs": "1764547200000"' in js
    r = s.request("POST", "/v1/external/acme_orders", js.encode(), JS)
    assert r.json()["accepted"] == 1, r.raw
    assert rows(s, "SELECT platform, tags, total FROM partner_order_v0 "
                   "WHERE item_id = 5") == [
        {"platform": "android", "tags": "[]", "total": 0.0}]


def test_rich_conversion_errors_name_the_proto_field(registry, make_server,
                                                     tmp_path):
    add_rich(registry)
    acme = protoc_module(registry / "mappings" / "acme.proto", tmp_path)
    s = make_server(registry=registry)
    bad = [
        acme.Order(buyer=acme.Order.Buyer(id=1), listing=2**63 + 5),
        acme.Order(buyer=acme.Order.Buyer(id=1), listing=3, total=-1),
        acme.Order(listing=3),
    ]
    r = s.request("POST", "/v1/external/acme_orders", b"".join(
        b"\x0a" + bytes([len(m.SerializeToString())]) + m.SerializeToString()
        for m in bad), {"Content-Type": "application/x-protobuf"})
    assert r.status == 400  # not a batch without ?batch=1: field 1 is a string
    r = s.request("POST", "/v1/external/acme_orders?batch=1", b"".join(
        b"\x0a" + bytes([len(m.SerializeToString())]) + m.SerializeToString()
        for m in bad), PB)
    errs = [x.get("error") for x in r.json()["results"]]
    assert errs == [
        "listing: out of range for an int (64-bit signed)",
        "fields.total: -1 is less than min 0",
        "fields.user: missing required field"], r.raw
    body = json.dumps([
        {"listing": 3, "buyer": {"id": 1}, "platform": "WINDOWS"},
        {"listing": 3, "placed_at_ms": 1, "placedAtMs": 2},
        {"listing": 3, "buyer": {"id": 1, "name": "x"}}]).encode()
    r = s.request("POST", "/v1/external/acme_orders", body, JS)
    assert [x["error"] for x in r.json()["results"]] == [
        "platform: not a value of enum acme.v1.Order.Platform",
        "placed_at_ms: given twice (as placed_at_ms or placedAtMs)",
        "buyer.name: not a field of acme.v1.Order.Buyer"], r.raw


def test_nested_too_deep_is_a_400(registry, make_server):
    add_rich(registry)
    s = make_server(registry=registry, extra_args=["--max-depth", "4"])
    body = b"\x22\x01\x01"  # listing, a varint field, as length: wrong type
    inner = b""
    for _ in range(6):
        inner = b"\x4a" + bytes([len(inner)]) + inner
    r = s.request("POST", "/v1/external/acme_orders", inner, PB)
    assert r.status == 400, r.raw
    assert "nested more than 4 deep" in r.json()["error"]
    r = s.request("POST", "/v1/external/acme_orders", body, PB)
    assert r.status == 400
    assert counts(s) == (0, 0)


# ---- reestr check ----------------------------------------------------------

def problems(reg):
    out = check(reg)
    assert out.returncode == 1, out.stdout + out.stderr
    return out.stderr + out.stdout


def test_check_a_mapping_to_a_missing_event_field(registry):
    m = registry / "mappings" / "partner_feed.yaml"
    m.write_text(m.read_text().replace("someBoolFied: promoted",
                                       "someBoolFied: promotd"))
    assert ("mappings/partner_feed.yaml:15:21: event partner_signal v0 has "
            "no field 'promotd' (its fields: item, query, promoted, "
            "channel)") in problems(registry)


def test_check_a_type_that_cannot_convert(registry):
    p = registry / "mappings" / "partner_feed.proto"
    p.write_text(p.read_text().replace("int32 someIntField", "string "
                                                             "someIntField"))
    assert ("mappings/partner_feed.yaml:13:7: proto field 'someIntField' "
            "(string) cannot fill event field 'item.id' (int)"
            ) in problems(registry)


def test_check_an_unfilled_required_field(registry):
    m = registry / "mappings" / "partner_feed.yaml"
    m.write_text(m.read_text().replace("      someBoolFied: promoted\n", "")
                 .replace("    constants:", "    ignore: [someBoolFied]\n"
                                            "    constants:"))
    assert ("mappings/partner_feed.yaml:12:5: required field 'promoted' of "
            "event partner_signal v0 is filled by neither a proto field nor "
            "a constant") in problems(registry)


def test_check_a_proto_field_the_message_lacks_and_one_left_out(registry):
    m = registry / "mappings" / "partner_feed.yaml"
    m.write_text(m.read_text().replace("someBoolFied: promoted",
                                       "someBoolField: promoted"))
    out = problems(registry)
    assert ("mappings/partner_feed.yaml:15:7: proto message partner.feed."
            "ExternalProjectEvent has no field 'someBoolField' (its fields: "
            "someIntField, someStringField, someBoolFied)") in out
    assert ("mappings/partner_feed.yaml:12:5: proto field 'someBoolFied' of "
            "partner.feed.ExternalProjectEvent (mappings/partner_feed.proto:"
            "10:3) is neither mapped under 'fields' nor listed under "
            "'ignore'") in out


def test_check_a_malformed_proto(registry):
    p = registry / "mappings" / "partner_feed.proto"
    p.write_text(p.read_text().replace("bool someBoolFied = 3;",
                                       "bool someBoolFied = 3\n"))
    out = problems(registry)
    assert ("mappings/partner_feed.proto:12:1: expected ';', found '}'"
            ) in out
    assert ("mappings/partner_feed.yaml:6:12: proto file "
            "'mappings/partner_feed.proto' has problems") in out


@pytest.mark.parametrize("text,problem", [
    ('syntax = "proto2";\n', '1:10: only syntax "proto3" is supported'),
    ('message A {}\n', "1:1: the file must start with syntax"),
    ('syntax = "proto3";\nimport "other.proto";\nmessage A {}\n',
     "2:1: imports are not supported"),
    ('syntax = "proto3";\nmessage A { required int32 a = 1; }\n',
     "2:13: 'required' is proto2"),
    ('syntax = "proto3";\nmessage A { Missing a = 1; }\n',
     "2:13: type 'Missing' is not a scalar type nor a message or enum of "
     "this file"),
    ('syntax = "proto3";\nmessage A { int32 a = 1; int32 b = 1; }\n',
     "2:26: field number 1 of 'b' is taken by 'a'"),
    ('syntax = "proto3";\nmessage A { int32 a = 19500; }\n',
     "2:23: field numbers 19000 to 19999 are reserved"),
    ('syntax = "proto3";\nenum E { A = 1; }\n',
     "2:10: the first value of proto3 enum 'E' must be 0"),
    ('syntax = "proto3";\nservice S {}\n', "2:1: 'service' is not supported"),
    ('syntax = "proto3";\n/* open', "2:1: comment '/*' is not closed"),
    ('syntax = "proto3";\n' + "message A {\n" * 20 + "}\n" * 20,
     "18:1: messages nested more than 16 deep"),
])
def test_check_proto_errors_have_positions(registry, text, problem):
    (registry / "mappings" / "partner_feed.proto").write_text(text)
    assert f"mappings/partner_feed.proto:{problem}" in problems(registry)


def test_check_reads_the_protos_when_the_rest_has_problems(registry):
    (registry / "mappings" / "partner_feed.proto").write_text(
        'syntax = "proto3";\nmessage A { int32 a = 1 }\n')
    (registry / "events" / "bad.yaml").write_text(
        "events:\n  bad:\n    id: 9999\n    owner: nobody\n"
        "    versions: []\n")
    out = problems(registry)
    assert "mappings/partner_feed.proto:2:25: expected ';', found '}'" in out
    assert "nobody" in out
    # the mappings wait for the rest to be whole
    assert "partner_feed.yaml" not in out


def test_check_rich_mapping_errors(registry):
    add_rich(registry, mapping=RICH_MAPPING
             .replace("platform: platform", "platform: partner")
             .replace("partner: acme", "partner: acme\n      item_id: 3")
             .replace("uuid: order_uuid", "uuid: listing"))
    out = problems(registry)
    assert "'uuid' names proto field 'listing' (uint64), which must be a " \
           "string (a UUID)" in out
    assert "event field 'item_id' is filled twice" in out
    assert "event field 'partner' is filled twice" in out
    enum_missing = RICH_PROTO.replace("API = 4;", "API = 4; DESKTOP = 5;")
    reg2 = registry.parent / "r2"
    shutil.copytree(EXAMPLES, reg2)
    add_rich(reg2, proto=enum_missing)
    assert ("proto enum acme.v1.Order.Platform value DESKTOP (as 'desktop') "
            "is not a value of event field 'platform'") in problems(reg2)


# ---- publishing ------------------------------------------------------------

def test_a_published_mapping_never_changes(registry, make_server):
    out = run("publish", str(registry))
    assert out.returncode == 0, out.stderr
    lock = json.loads((registry / "registry.lock").read_text())
    assert lock["mappings"][0]["name"] == "partner_feed"
    assert "field someBoolFied -> promoted" in lock["mappings"][0]["schema"]
    # published: served without --dev
    s = make_server(registry=registry, dev=False)
    r = s.request("POST", "/v1/external/partner_feed",
                  b"\x08\x05\x12\x01a", PB)
    assert r.json()["results"] == [{"status": "accepted"}], r.raw
    s.stop()
    m = registry / "mappings" / "partner_feed.yaml"
    m.write_text(m.read_text().replace("    constants:",
                                       "    ignore: []\n    constants:"))
    assert check(registry).returncode == 0  # the same mapping
    m.write_text(m.read_text().replace("channel: partner_feed",
                                       "channel: partner_api"))
    out = problems(registry)
    assert ("mappings/partner_feed.yaml:4:3: mapping partner_feed was "
            "published and has changed (was 'constant channel = "
            "\"partner_feed\"', now 'constant channel = \"partner_api\"'); "
            "a published mapping never changes: add a new mapping (e.g. "
            "partner_feed_v2) with the change instead") in out
    assert run("publish", str(registry)).returncode == 1
    # the .proto is part of it too
    m.write_text(m.read_text().replace("channel: partner_api",
                                       "channel: partner_feed"))
    p = registry / "mappings" / "partner_feed.proto"
    p.write_text(p.read_text().replace("someBoolFied = 3;",
                                       "someBoolFied = 4;"))
    assert "mapping partner_feed was published and has changed (was " \
           "'proto partner.feed.ExternalProjectEvent.someBoolFied = 3: " \
           "bool'" in problems(registry)
    # removed
    p.write_text(p.read_text().replace("someBoolFied = 4;",
                                       "someBoolFied = 3;"))
    m.unlink()
    assert "mapping partner_feed was published and cannot be removed" in \
        problems(registry)


def test_serve_refuses_an_unpublished_mapping(registry, make_server):
    add_rich(registry)
    assert run("publish", str(registry)).returncode == 0
    # the event version published, its mapping not (a lock from before it)
    lock = registry / "registry.lock"
    data = json.loads(lock.read_text())
    data["mappings"] = [x for x in data["mappings"]
                        if x["name"] != "acme_orders"]
    lock.write_text(json.dumps(data))
    with pytest.raises(RuntimeError) as e:
        make_server(registry=registry, dev=False)
    assert "mappings/acme.yaml:2:3: mapping acme_orders is not published " \
           "(not in registry.lock)" in str(e.value)
    s = make_server(registry=registry, dev=True)
    assert s.request("POST", "/v1/external/acme_orders",
                     b"\x20\x01", PB).status == 200


# ---- reload ----------------------------------------------------------------

def test_a_new_mapping_is_served_after_reload_without_rebuild(
        registry, make_server, tmp_path):
    s = make_server(registry=registry)
    r = s.request("POST", "/v1/external/acme_orders", b"", PB)
    assert r.status == 404
    with held_open(registry):  # no reload of half the files
        add_rich(registry)
        s.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if re.search(r"reloaded registry", s.log.read_text()):
            break
        time.sleep(0.05)
    else:
        raise AssertionError(s.log.read_text())
    acme = protoc_module(registry / "mappings" / "acme.proto", tmp_path)
    msg = acme.Order(buyer=acme.Order.Buyer(id=3), listing=4,
                     platform=acme.Order.WEB)
    r = s.request("POST", "/v1/external/acme_orders",
                  msg.SerializeToString(), PB)
    assert r.json()["accepted"] == 1, r.raw
    assert rows(s, "SELECT item_id, platform FROM partner_order_v0") == [
        {"item_id": 4, "platform": "web"}]


def test_the_registry_snapshot_carries_the_proto(server):
    """GET /v1/registry (what the agent keeps, and checks, as its
    --snapshot) holds the mappings' .proto files beside the YAML: without
    them the snapshot's registry would not load."""
    snap = server.request("GET", "/v1/registry").json()
    paths = {f["path"]: f["content"] for f in snap["files"]}
    assert paths["mappings/partner_feed.proto"] == (
        EXAMPLES / "mappings" / "partner_feed.proto").read_text()
    assert "mappings/partner_feed.yaml" in paths


def test_memory_beyond_the_budget_is_a_503(make_server, feed):
    """The decoded messages are held from --max-inflight-bytes like the
    JSON route's parse tree: a request that would go over is refused whole,
    and the collector stays up."""
    s = make_server(extra_args=["--max-inflight-bytes", "3000000",
                                "--max-batch-events", "100000"])
    many = "[" + ",".join('{"someIntField":%d,"someStringField":"q"}' % i
                          for i in range(1, 40001)) + "]"
    assert len(many) < 2_000_000
    r = s.request("POST", "/v1/external/partner_feed", many.encode(), JS)
    assert r.status == 503, r.raw[:200]
    assert "--max-inflight-bytes" in r.json()["error"]
    batch = feed.Batch(events=[feed.ExternalProjectEvent(
        someIntField=i, someStringField="q") for i in range(1, 40001)])
    r = s.request("POST", "/v1/external/partner_feed?batch=1",
                  batch.SerializeToString(), PB)
    assert r.status == 503, r.raw[:200]
    assert counts(s) == (0, 0)
    # the budget was given back: a small request goes through
    r = s.request("POST", "/v1/external/partner_feed",
                  b'{"someIntField": 1}', JS)
    assert r.json()["accepted"] == 1, r.raw


SCALARS_PROTO = """syntax = "proto3";
message Scalars {
  int32 a = 1; int64 b = 2; uint32 c = 3; uint64 d = 4; sint32 e = 5;
  sint64 f = 6; fixed32 g = 7; fixed64 h = 8; sfixed32 i = 9;
  sfixed64 j = 10; float k = 11; double l = 12; bool m = 13; string n = 14;
  repeated sint32 o = 15; repeated double p = 16 [json_name = "pp"];
  optional int32 q = 17;
}
"""

SCALARS_EVENT = """events:
  scalars:
    id: 702
    owner: marketplace
    versions:
      - version: 0
        fields:
          a: int
          b: int
          c: int
          d: int
          e: int
          f: int
          g: int
          h: int
          i: int
          j: int
          k: float
          l: float
          m: bool
          n: string
          o: {type: array, items: int}
          p: {type: array, items: float}
          q: {type: int, required: false}
"""

SCALARS_MAPPING = """mappings:
  scalars:
    proto: mappings/scalars.proto
    message: Scalars
    event: scalars
    version: 0
    source: partner-feed
    environment: partners
    fields: {a: a, b: b, c: c, d: d, e: e, f: f, g: g, h: h, i: i, j: j,
             k: k, l: l, m: m, n: n, o: o, p: p, q: q}
"""


def test_every_scalar_type_as_the_library_encodes_it(registry, make_server,
                                                     tmp_path):
    (registry / "mappings" / "scalars.proto").write_text(SCALARS_PROTO)
    (registry / "mappings" / "scalars.yaml").write_text(SCALARS_MAPPING)
    (registry / "events" / "scalars.yaml").write_text(SCALARS_EVENT)
    env = registry / "environments.yaml"
    env.write_text(env.read_text().replace(
        "      - partner_signal\n", "      - partner_signal\n"
        "      - scalars\n", 1))
    pb = protoc_module(registry / "mappings" / "scalars.proto", tmp_path)
    s = make_server(registry=registry)
    values = dict(a=-2**31, b=-2**63, c=2**32 - 1, d=2**63 - 1, e=-2**31,
                  f=-2**63, g=2**32 - 1, h=2**63 - 1, i=-2**31, j=-2**63,
                  k=1.5, l=-2.25e300, m=True, n="grüße \u0000 ok",
                  o=[-1, 0, 1, -2**31], p=[0.5, -0.0])
    r = s.request("POST", "/v1/external/scalars",
                  pb.Scalars(**values).SerializeToString(), PB)
    assert r.json()["accepted"] == 1, r.raw
    r = s.request("POST", "/v1/external/scalars",
                  pb.Scalars(q=0).SerializeToString(), PB)
    assert r.json()["accepted"] == 1, r.raw
    got = rows(s, "SELECT a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q "
                  "FROM scalars_v0 ORDER BY b")
    want = dict(values, m=1, o="[-1,0,1,-2147483648]", p="[0.5,0]",
                q=None)
    assert got[0] == want
    # all defaults (proto3: absent is zero), and an optional 0 present
    assert got[1] == dict(a=0, b=0, c=0, d=0, e=0, f=0, g=0, h=0, i=0, j=0,
                          k=0.0, l=0.0, m=0, n="", o="[]", p="[]", q=0)
    # the JSON form of the same message: 64-bit integers as strings,
    # json_name, and the library's own spelling of each value
    js = json_format.MessageToJson(pb.Scalars(**values))
    assert '"b": "-9223372036854775808"' in js and '"pp"' in js
    s2 = make_server(registry=registry)
    r = s2.request("POST", "/v1/external/scalars", js.encode(), JS)
    assert r.json()["accepted"] == 1, r.raw
    assert rows(s2, "SELECT a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, "
                    "q FROM scalars_v0") == [want]
