"""Reproduces tests/vectors with the generated Python langpacks (bo and
front on sys.path): each vector's input is built with the generated classes
(found by id and version, fields given as keyword arguments) and encoded by
the runtime; the output must be the vector's "wire" bytes. Prints one line
per vector: "ok NAME" or "FAIL NAME: got ...".

    python vectors.py VECTORS_DIR
"""

import enum
import json
import keyword
import re
import sys
import types
import typing
from datetime import datetime, timedelta, timezone
from pathlib import Path

import reestr_bo
import reestr_front

LANGPACKS = {"bo": reestr_bo, "front": reestr_front}
# docs/langpacks.md, "Names": keywords and what a class body uses get "_".
RESERVED = {"str", "int", "float", "bool", "list", "datetime", "property"}


def parse_time(s):
    """RFC 3339 with up to 9 fraction digits, kept to microseconds."""
    m = re.fullmatch(r"(.{19})(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", s, re.I)
    base = datetime.fromisoformat(m.group(1))
    micros = int((m.group(2) or "0")[:6].ljust(6, "0"))
    zone = m.group(3).upper()
    tz = timezone.utc if zone == "Z" else timezone(
        (1 if zone[0] == "+" else -1) * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    return base.replace(microsecond=micros, tzinfo=tz)


def convert(value, hint):
    if value is None:
        return None
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        hint = next(a for a in args if a is not type(None))
        args = typing.get_args(hint)
    if typing.get_origin(hint) is list:
        return [convert(v, args[0]) for v in value]
    if hint is datetime:
        return parse_time(value)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(value)
    if isinstance(hint, type) and isinstance(value, dict):
        return build(hint, value)
    if hint is float:
        return float(value)
    return value


def build(cls, fields):
    hints = typing.get_type_hints(cls.__init__)
    kwargs = {}
    for name, value in fields.items():
        arg = name + "_" if keyword.iskeyword(name) or name in RESERVED else name
        kwargs[arg] = convert(value, hints[arg])
    return cls(**kwargs)


def main():
    for path in sorted(Path(sys.argv[1]).glob("*.json")):
        vec = json.loads(path.read_text())
        i = vec["input"]
        pack = LANGPACKS[i["environment"]]
        event = build(pack.EVENTS[(i["event_id"], i["version"])], i["fields"])
        event.event_uuid = i["uuid"]
        event.event_time = parse_time(i["time"])
        event.validate()
        got = pack.runtime.encode_event(event, i["environment"], i["source"]).decode()
        print(f"ok {path.name}" if got == vec["wire"] else f"FAIL {path.name}: got {got}")


if __name__ == "__main__":
    main()
