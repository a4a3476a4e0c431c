"""Writes a big registry of about VERSIONS event versions for the start and
reload benchmark (`make bench`, scripts/bench-start): events of one to
three versions, each with 3-10 fields of every type (string, int, float,
bool, timestamp, enum, arrays, named and nested inline objects, a few
patterns), in two environments (`bo` holds every event, `front` one in
five). The field maker is tests/langpacks/stress_registry.py's; the
stress registry itself adds extremes (a 600-field version, 400 patterns)
that this one leaves out, so its figures are those of a large but ordinary
registry.

    python3 bench/big_registry.py OUT_DIR VERSIONS [SEED]

`edit(OUT_DIR, SEED)` adds a version to one event (the benchmark's
one-event edit) and returns the event's name.
"""

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "langpacks"))
import stress_registry as sr  # noqa: E402


def write(out, versions=10000, seed=1):
    out = Path(out)
    rng = random.Random(seed)
    names = sr.Names(rng)
    (out / "events").mkdir(parents=True, exist_ok=True)
    (out / "objects").mkdir(exist_ok=True)
    (out / "owners.yaml").write_text(
        "owners:\n  team:\n    contact: team@example.com\n")
    (out / "sources.yaml").write_text(
        "sources:\n  bench-service:\n    owner: team\n")
    objects = {
        "user": {"user_id": {"type": "int", "min": 1},
                 "login": {"type": "string", "max_length": 64,
                           "required": False}},
        "geo": {"lat": {"type": "float", "min": -90, "max": 90},
                "lon": {"type": "float", "min": -180, "max": 180},
                "city": {"type": "string", "required": False}},
        "item": {"item_id": {"type": "int", "min": 1},
                 "category": {"type": "enum",
                              "values": ["auto", "realty", "jobs", "goods"]},
                 "seller": {"type": "user"}},
    }
    (out / "objects" / "objects.yaml").write_text(
        "objects:\n" + "".join(
            f"  {n}:\n    description: Object {n}.\n    fields:\n"
            + sr._fields_yaml(f, 6) for n, f in objects.items()))
    maker = sr.FieldMaker(rng, sr.make_patterns(rng, 20), objects)
    events = []
    total = 0
    n = 0
    while total < versions:
        name = names.make(rng.randint(2, 3))
        count = min(rng.choice([1, 2, 2, 3]), versions - total)
        text = [f"events:\n  {name}:\n    id: {n + 1}\n    owner: team\n",
                f"    description: Bench event {n}.\n    versions:\n"]
        for v in range(count):
            text.append(f"      - version: {v}\n        fields:\n")
            text.append(sr._fields_yaml(
                maker.fields(names, rng.randint(3, 10), depth=2), 10))
        (out / "events" / f"{n:05d}_{name}.yaml").write_text("".join(text))
        events.append(name)
        total += count
        n += 1
    (out / "environments.yaml").write_text(
        "environments:\n"
        "  bo:\n    description: Every event.\n    events:\n"
        + "".join(f"      - {e}\n" for e in events)
        + "  front:\n    description: One in five.\n    events:\n"
        + "".join(f"      - {e}\n" for e in events[::5]))
    return total


def edit(out, seed=0):
    """Adds a version (one int field more than none) to one event: the
    one-event edit of the reload benchmark. Returns the event's name."""
    files = sorted((Path(out) / "events").glob("*.yaml"))
    f = files[random.Random(seed).randrange(len(files))]
    text = f.read_text()
    last = max(int(line.split(":")[1]) for line in text.splitlines()
               if line.strip().startswith("- version:"))
    f.write_text(text + f"      - version: {last + 1}\n        fields:\n"
                 f"          added_{last + 1}: {{\"type\": \"int\"}}\n")
    return text.split("\n")[1].strip().rstrip(":")


if __name__ == "__main__":
    total = write(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 10000,
                  int(sys.argv[3]) if len(sys.argv) > 3 else 1)
    print(f"{total} versions")
