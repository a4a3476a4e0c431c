import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from events import Clickstream
from reestr_runtime import (encode_event, encode_float, encode_string,
                            encode_time, uuid7)

VECTORS = Path(__file__).resolve().parents[3] / "tests" / "vectors"


def test_talk_vector_byte_for_byte():
    vec = json.loads((VECTORS / "talk_clickstream_event.json").read_text())
    i = vec["input"]
    e = Clickstream(413, "user413@example.com", 20.22, -10.11, "fluffy_browser")
    e.event_uuid = i["uuid"]
    e.event_time = datetime(2018, 4, 11, 22, 37, 5, tzinfo=timezone(timedelta(hours=3)))
    assert encode_event(e, "bo", "example-service").decode() == vec["wire"]


@pytest.mark.parametrize("v,want", [
    (0.0, "0"), (-0.0, "0"), (1.0, "1"), (20.22, "20.22"), (-10.11, "-10.11"),
    (0.1, "0.1"), (1e21, "1e+21"), (1e20, "100000000000000000000"),
    (123456789012345680000.0, "123456789012345680000"), (1e-7, "1e-7"),
    (1e-6, "0.000001"), (123e-20, "1.23e-18"), (5e-324, "5e-324"),
    (1.7976931348623157e308, "1.7976931348623157e+308"), (-1.5e300, "-1.5e+300"),
    (0.000001234, "0.000001234"), (4.35, "4.35"), (2 ** 53, "9007199254740992"),
])
def test_float_as_ecmascript(v, want):
    assert encode_float(v) == want


def test_float_values_of_every_vector():
    """Every float in the vectors' wire bytes reads back and re-encodes the same."""
    for path in VECTORS.glob("*.json"):
        wire = json.loads(path.read_text())["wire"]
        for num in re.findall(r'(?<=[:,\[])-?\d[\d.e+-]*(?=[,\]}])', wire):
            if "." in num or "e" in num:
                assert encode_float(float(num)) == num, (path.name, num)


def test_non_finite_floats_are_refused():
    with pytest.raises(ValueError):
        encode_float(float("nan"))


@pytest.mark.parametrize("s,want", [
    ('a"b\\c', r'"a\"b\\c"'), ("\b\f\n\r\t", r'"\b\f\n\r\t"'),
    ("\x00\x1f", r'"\u0000\u001f"'), ("/é\u2028\x7f😀", '"/é\u2028\x7f😀"'),
])
def test_string_escapes_as_rfc8785(s, want):
    assert encode_string(s) == want


def test_lone_surrogate_becomes_replacement_character():
    e = Clickstream(1, None, 0.0, 0.0, "a\ud800b")
    assert '"user_agent":"a\ufffdb"' in encode_event(e, "bo", "s").decode()


def test_time_is_utc_with_six_digits():
    t = datetime(2026, 11, 25, 13, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1)))
    assert encode_time(t) == '"2026-11-25T12:00:00.123456Z"'
    with pytest.raises(ValueError):
        encode_time(datetime(2026, 1, 1))


def test_a_new_events_time_and_its_wire_text_agree():
    # a fresh event keeps its time as text and makes the datetime on demand
    before = datetime.now(timezone.utc)
    events = [Clickstream(1, None, 0.0, 0.0, "x") for _ in range(2000)]
    after = datetime.now(timezone.utc)
    for e in events:
        assert before <= e.event_time <= after
        assert e.event_time.tzinfo is not None
        wire = json.loads(encode_event(e, "bo", "s"))
        assert wire["time"] == encode_time(e.event_time)[1:-1]


def test_uuid7_layout_and_order():
    ids = [uuid7() for _ in range(5000)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    for u in ids[:50]:
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", u)
