"""The canonical encoding of docs/wire-format.md: RFC 8785 strings and
numbers, UTC microsecond times, fields in registry order (the generated
code's job), no whitespace."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import Decimal
from json.encoder import encode_basestring
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .event import Event

_SURROGATE = re.compile("[\ud800-\udfff]")


def encode_string(s: str) -> str:
    """s as a JSON string: only '"', '\\' and control characters escaped
    (the short forms, else \\u00xx in lowercase), everything else as is."""
    # The json module's C string encoder writes exactly RFC 8785's escapes,
    # about twenty times faster than json.dumps.
    out: str = encode_basestring(s)
    return out


def encode_int(v: int) -> str:
    """An integer in decimal."""
    return str(int(v))


def encode_bool(v: bool) -> str:
    """true or false."""
    return "true" if v else "false"


def encode_float(v: float) -> str:
    """A number as ECMAScript writes it: the shortest digits that read back
    as the same double, exponent form below 1e-6 and from 1e21, -0 as 0."""
    # repr already gives the shortest digits; it differs from ECMAScript
    # only in where it switches to an exponent and in a trailing ".0".
    r = repr(float(v))
    if "e" not in r:
        # repr is plain only within [1e-4, 1e16), where ECMAScript is too
        if r[-2:] == ".0":
            return "0" if r == "-0.0" else r[:-2]
        if "n" in r:  # inf, nan
            raise ValueError(f"{v} is not a finite number")
        return r
    sign, digits, exp = Decimal(r).normalize().as_tuple()
    assert isinstance(exp, int)
    d = "".join(map(str, digits))
    k = len(d)
    n = k + exp  # the value is 0.d * 10**n
    if k <= n <= 21:
        s = d + "0" * (n - k)
    elif 0 < n <= 21:
        s = d[:n] + "." + d[n:]
    elif -6 < n <= 0:
        s = "0." + "0" * -n + d
    else:
        e = n - 1
        s = d[0] + ("." + d[1:] if k > 1 else "") + \
            ("e+" if e > 0 else "e-") + str(abs(e))
    return "-" + s if sign else s


def encode_time(t: datetime) -> str:
    """An aware datetime as a JSON string in UTC with six fraction digits."""
    if t.tzinfo is not timezone.utc:
        if t.utcoffset() is None:
            raise ValueError("a timestamp needs a time zone")
        t = t.astimezone(timezone.utc)
    # isoformat is C code; in UTC it ends "+00:00", which becomes "Z"
    return '"' + t.isoformat(timespec="microseconds")[:-6] + 'Z"'


def code_points(s: str) -> int:
    """The length max_length counts: Unicode code points, as len() does."""
    return len(s)


def envelope_tail(environment: str, source: str) -> str:
    """The envelope's keys after the time, up to the fields' object: the
    same for every event a sender sends, so it makes this once."""
    return (',"environment":' + encode_string(environment) +
            ',"source":' + encode_string(source) + ',"fields":')


def encode_event(e: Event, environment: str, source: str) -> bytes:
    """The event on the wire: the envelope's keys in their fixed order, then
    the fields, as UTF-8 bytes."""
    return encode_event_with_tail(e, envelope_tail(environment, source))


def encode_event_with_tail(e: Event, tail: str) -> bytes:
    """encode_event, with the envelope's tail made by envelope_tail."""
    out = [e._ENVELOPE_HEAD, e._event_uuid_json, ',"time":',
           e._event_time_json, tail]
    e._encode_fields(out)
    out.append("}")
    text = "".join(out)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # a lone surrogate cannot be UTF-8: U+FFFD, as other runtimes do
        return _SURROGATE.sub("\ufffd", text).encode("utf-8")
