"""Runs wire trees (wire.py) through a generated Python langpack:

    python3 python_harness.py PACKAGE TREES.json

PACKAGE (reestr_bo) is importable (PYTHONPATH). Each tree becomes the
event class's keyword arguments the way a program would build them from
parsed JSON: by introspection of the generated __init__ annotations, an
object becomes its class, a list a list, an enum's member string its
member, an RFC 3339 string a datetime (without a zone: a naive one). A
value of another kind is passed as Python's json would give it (the
generated checks refuse it); strings are str (invalid bytes as surrogate
escapes, lone surrogates as themselves). The harness itself refuses only
what no Python value can stand for: an unknown or repeated member, a
timestamp text that datetime cannot hold. Then validate(); prints one JSON
line per tree.
"""

import base64
import enum
import importlib
import inspect
import json
import re
import sys
import typing
from datetime import datetime, timedelta, timezone

_TIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})"
                   r"(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})?\Z", re.ASCII)


class Refused(Exception):
    def __init__(self, path, message):
        super().__init__(message)
        self.path, self.message = path, message


# What the decode step refused, in document order; the runner orders these
# and the generated check's answer as the collector walks the event.
DEFERRED = []


def defer(e):
    DEFERRED.append([e.path, e.message])


def text(node):
    b = base64.b64decode(node["b"])
    try:
        return b.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return b.decode("utf-8", "surrogateescape")


def number(s, for_float=False):
    """As json.loads reads it: an int without fraction or exponent (a
    float field gets a float when the int is beyond a float's range)."""
    if s in ("NaN", "Infinity", "-Infinity"):
        return float(s.replace("Infinity", "inf"))
    if re.fullmatch(r"-?[0-9]+", s):
        n = int(s)
        return float(s) if for_float and abs(n) >= 2**1024 else n
    return float(s)


def raw(node):
    """The value Python's json module would give."""
    t = node["t"]
    if t == "null":
        return None
    if t == "bool":
        return node["v"]
    if t == "num":
        return number(node["s"])
    if t == "str":
        return text(node)
    if t == "arr":
        return [raw(x) for x in node["v"]]
    return {k: raw(v) for k, v in node["m"]}


def timestamp(s, path):
    m = _TIME.match(s)
    if not m:
        raise Refused(path, "not an RFC 3339 timestamp: not an RFC 3339 "
                      "date-time (want YYYY-MM-DDTHH:MM:SSZ)")
    y, mo, d, h, mi, sec = (int(m.group(i)) for i in range(1, 7))
    us = int((m.group(7) or ".0")[1:].ljust(6, "0")[:6])
    zone = m.group(8)
    tz = None
    if zone == "Z":
        tz = timezone.utc
    elif zone:
        oh, om = int(zone[1:3]), int(zone[4:6])
        if oh > 23 or om > 59:
            raise Refused(path, "not an RFC 3339 timestamp: time zone "
                          "offset out of range")
        off = timedelta(hours=oh, minutes=om)
        tz = timezone(-off if zone[0] == "-" else off)
    try:
        return datetime(y, mo, d, h, mi, sec, us, tzinfo=tz)
    except ValueError:
        raise Refused(path, "not an RFC 3339 timestamp: date or time out "
                      "of range")


def target(hint):
    """The annotation without its "| None"."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) in (typing.Union,) or \
            type(hint).__name__ == "UnionType":
        return args[0]
    return hint


def convert(node, hint, path):
    t = node["t"]
    if t == "null":
        return None
    hint = target(hint)
    origin = typing.get_origin(hint)
    if origin is list:
        if t != "arr":
            return raw(node)
        (item,) = typing.get_args(hint)
        out = []
        for i, x in enumerate(node["v"]):
            try:
                out.append(convert(x, item, f"{path}[{i}]"))
            except Refused as e:
                defer(e)
                out.append(raw(x))
        return out
    if hint is datetime:
        return timestamp(text(node), path) if t == "str" else raw(node)
    if inspect.isclass(hint) and issubclass(hint, enum.Enum):
        if t == "str":
            s = text(node)
            for m in hint:
                if m.value == s:
                    return m
        return raw(node)
    if hint is float and t == "num":
        return number(node["s"], for_float=True)
    if hint in (int, float, str, bool):
        return raw(node)
    if t != "obj":
        return raw(node)
    return build(hint, node, path)


def build(cls, node, path):
    hints = typing.get_type_hints(cls.__init__)
    params = [p for p in inspect.signature(cls.__init__).parameters
              if p != "self"]
    kwargs, seen = {}, set()
    for key, value in node["m"]:
        if key in seen:
            defer(Refused(f"{path}.{key}", "given twice"))
            continue
        seen.add(key)
        prop = next((p for p in (key, key + "_", key + "_field")
                     if p in params), None)
        if prop is None:
            defer(Refused(f"{path}.{key}",
                          f"unknown field ({cls.__name__} has: "
                          f"{', '.join(params)})"))
            continue
        try:
            kwargs[prop] = convert(value, hints[prop], f"{path}.{key}")
        except Refused as e:
            defer(e)
    # A case may leave a required field out; mypy would refuse that call,
    # Python does not: None (absent) lets the send-time check report it.
    for name, p in inspect.signature(cls.__init__).parameters.items():
        if name != "self" and p.default is p.empty:
            kwargs.setdefault(name, None)
    return cls(**kwargs)


def main():
    pkg = importlib.import_module(sys.argv[1])
    errors = pkg.ValidationError
    (cls,) = pkg.EVENTS.values()
    with open(sys.argv[2], encoding="utf-8") as f:
        trees = json.load(f)
    for tree in trees:
        out = {"verdict": "accept", "path": None, "message": ""}
        if tree["t"] == "error":
            out = {"verdict": "reject", "path": None, "request": True,
                   "message": "invalid JSON: " + tree["why"]}
        else:
            DEFERRED.clear()
            try:
                build(cls, tree, "fields").validate()
            except errors as e:
                out = {"verdict": "reject", "path": e.field,
                       "message": e.message}
            out["deferred"] = DEFERRED
        print(json.dumps(out))


if __name__ == "__main__":
    main()
