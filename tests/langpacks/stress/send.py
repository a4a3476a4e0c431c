"""Sends one valid instance of every event version of the stress registry
from the generated Python langpack (tests/langpacks/test_stress.py): each
instance is built with the generated classes (found by id and version,
fields given as keyword arguments spelled by docs/langpacks.md "Names"),
checked with the generated validate() and sent with the langpack's Sender.
Prints one line per failure and "sent N delivered M"; exits 1 on any failure.

    python send.py INSTANCES.json COLLECTOR_URL   (the langpack on PYTHONPATH)
"""

import enum
import json
import keyword
import re
import sys
import types
import typing
from datetime import datetime, timedelta, timezone

import reestr_bo as pack

# docs/langpacks.md, "Names": keywords and what a class body uses get "_".
RESERVED = {"str", "int", "float", "bool", "list", "datetime", "property", "self"}


def parse_time(s):
    m = re.fullmatch(r"(.{19})(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", s)
    base = datetime.fromisoformat(m.group(1))
    micros = int((m.group(2) or "0")[:6].ljust(6, "0"))
    zone = m.group(3)
    tz = timezone.utc if zone == "Z" else timezone(
        (1 if zone[0] == "+" else -1) * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    return base.replace(microsecond=micros, tzinfo=tz)


def convert(value, hint):
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
        plain = name + "_" if keyword.iskeyword(name) or name in RESERVED else name
        arg = next((a for a in (name + "_field", plain) if a in hints), None)
        if arg is None:
            raise AssertionError(f"{cls.__name__} has no argument for {name}")
        kwargs[arg] = convert(value, hints[arg])
    return cls(**kwargs)


def main():
    instances = json.loads(open(sys.argv[1]).read())
    failed, delivered = [], []

    def on_result(r):
        if r.outcome == "delivered":
            delivered.append(r.uuid)
        else:
            failed.append(f"FAIL {r.event} v{r.version}: {r.outcome}: {r.reason}")

    sender = pack.Sender(sys.argv[2], "stress-service", queue_capacity=100000,
                         max_attempts=10, on_result=on_result)
    sent = 0
    for i in instances:
        try:
            event = build(pack.EVENTS[(i["event_id"], i["version"])], i["fields"])
            event.event_uuid = i["uuid"]
            event.validate()
            sender.send(event)
            sent += 1
        except Exception as e:  # report every version, not only the first
            failed.append(f"FAIL {i['name']} v{i['version']}: {type(e).__name__}: {e}")
    if not sender.close(120):
        failed.append("FAIL close: events were lost")
    print("\n".join(failed + [f"sent {sent} delivered {len(delivered)}"]))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
