"""Every tests/vectors/*.json against the runtime's encoders: the
clickstream_event ones byte for byte through encode_event, and in every
vector each time, string and number the input holds as the wire spells it."""

import json
import re
from datetime import datetime
from pathlib import Path

import pytest

from events import Clickstream
from reestr_runtime import (encode_event, encode_float, encode_int,
                            encode_string, encode_time)

VECTORS = sorted((Path(__file__).resolve().parents[3] / "tests" /
                  "vectors").glob("*.json"))


def load(path):
    return json.loads(path.read_text())


def parse_time(text):
    # datetime keeps microseconds: nanoseconds are truncated, as the wire
    # format says
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_there_are_vectors():
    assert len(VECTORS) >= 10


CLICKSTREAM = [p for p in VECTORS if load(p)["input"]["event_id"] == 100]


@pytest.mark.parametrize("path", CLICKSTREAM, ids=[p.stem for p in
                                                   CLICKSTREAM])
def test_clickstream_vectors_byte_for_byte(path):
    vec = load(path)
    i, f = vec["input"], vec["input"]["fields"]
    e = Clickstream(f["user"]["id"], f["user"].get("email"),
                    f["geo"]["latitude"], f["geo"]["longitude"],
                    f["user_agent"])
    e.event_uuid = i["uuid"]
    e.event_time = parse_time(i["time"])
    wire = encode_event(e, i["environment"], i["source"])
    assert isinstance(wire, bytes)
    assert wire == vec["wire"].encode("utf-8")


def values(v):
    """Every scalar in a decoded JSON value."""
    if isinstance(v, dict):
        for x in v.values():
            yield from values(x)
    elif isinstance(v, list):
        for x in v:
            yield from values(x)
    else:
        yield v


@pytest.mark.parametrize("path", VECTORS, ids=[p.stem for p in VECTORS])
def test_every_value_is_spelled_as_the_wire_spells_it(path):
    vec = load(path)
    i, wire = vec["input"], vec["wire"]
    assert '"time":' + encode_time(parse_time(i["time"])) + "," in wire
    assert '"uuid":' + encode_string(i["uuid"].lower()) + "," in wire
    for v in values(i["fields"]):
        if v is None or isinstance(v, bool):
            continue
        if isinstance(v, str):
            if re.fullmatch(r"\d{4}-\d\d-\d\dT.*", v):
                token = encode_time(parse_time(v))
            else:
                token = encode_string(v)
        elif isinstance(v, int):
            token = encode_int(v)
        else:
            token = encode_float(v)
        # a whole JSON value: after ':', '[' or ',', before ',', ']' or '}'
        assert re.search(r"[:\[,]" + re.escape(token) + r"[,\]}]", wire), \
            (v, token)


@pytest.mark.parametrize("v,want", [
    (20.220, "20.22"), (100.0, "100"), (20.0, "20"), (-0.0, "0"),
    (0.30000000000000004, "0.30000000000000004"), (1e21, "1e+21"),
    (1e-7, "1e-7"), (0.1, "0.1"), (5e-324, "5e-324"),
    (1.7976931348623157e308, "1.7976931348623157e+308"),
    (123e-20, "1.23e-18"), (1.5e21, "1.5e+21"), (-2.5e-7, "-2.5e-7"),
    (999999999999999900000.0, "999999999999999900000"),
    (0.000001, "0.000001"), (55.7558, "55.7558"), (1, "1"),
])
def test_float_known_ecmascript_outputs(v, want):
    assert encode_float(v) == want


def test_string_edge_cases():
    assert encode_string("") == '""'
    assert encode_string("\x7f\u2028\u2029/") == '"\x7f\u2028\u2029/"'
    assert encode_string("\x0b\x1b") == '"\\u000b\\u001b"'


def test_float_random_doubles_round_trip_in_ecmascript_form():
    import random
    import struct
    rnd = random.Random(3)
    for _ in range(20000):
        x = struct.unpack("<d", struct.pack("<Q", rnd.getrandbits(64)))[0]
        if x != x or x in (float("inf"), float("-inf")):
            continue
        s = encode_float(x)
        assert float(s) == x, (x, s)
        # plain between 1e-6 and 1e21, else d[.ddd]e±x; never a ".0" tail
        if 1e-6 <= abs(x) < 1e21:
            assert re.fullmatch(r"-?\d+(\.\d*[1-9])?", s), (x, s)
        else:
            assert re.fullmatch(r"-?[1-9](\.\d*[1-9])?e[+-][1-9]\d*", s), \
                (x, s)
