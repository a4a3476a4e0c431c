"""Writes a registry made to be awkward for code generators: keywords and
builtins of every target language as names, names that clash with the
langpacks' own, deep nesting, every type and arrays of each, a long enum,
and 1,000+ event versions. Used by test_robustness.py and the benchmark.

    python3 awkward_registry.py OUT_DIR [EVENTS]
"""

import sys
from pathlib import Path

# Keywords or builtins in Go, Python or PHP, and the langpacks' own names.
AWKWARD = ["class", "type", "func", "list", "string", "default", "return",
           "import", "from", "def", "lambda", "match", "interface", "map",
           "range", "float", "int", "bool", "property", "datetime", "self",
           "this", "new", "echo", "array", "object", "enum", "static",
           "validate", "encode", "event_time", "event_uuid", "event_name",
           "event_version", "set_type", "get_type", "has_type", "ev", "ver",
           "path", "out", "start", "i", "x", "math", "re", "value", "json"]


def field_block(indent, fields):
    pad = " " * indent
    return "".join(f"{pad}{name}: {spec}\n" for name, spec in fields)


def write(out: Path, events: int = 250, versions: int = 4):
    out.mkdir(parents=True, exist_ok=True)
    (out / "owners.yaml").write_text(
        "owners:\n  team:\n    contact: team@example.com\n")
    (out / "sources.yaml").write_text(
        "sources:\n  awkward-service:\n    owner: team\n")
    # Objects named after keywords and the langpacks' own type names, and a
    # chain six deep.
    objects = ["objects:"]
    for name in ["class", "list", "event", "sender", "environment",
                 "json", "type", "langpack", "result", "stats", "config"]:
        objects.append(f"  {name}:\n    description: An object named {name}.\n"
                       f"    fields:\n      {name}: {{type: string, max_length: 10}}\n"
                       f"      value: {{type: int, required: false}}")
    for depth in range(1, 7):
        inner = f"      inner: level{depth + 1}\n" if depth < 6 else ""
        objects.append(f"  level{depth}:\n    description: Nesting level {depth}.\n"
                       f"    fields:\n      depth_{depth}: {{type: int, min: {depth}}}\n{inner}".rstrip())
    (out / "objects.yaml").write_text("\n".join(objects) + "\n")

    long_enum = ", ".join(f"value_{i}" for i in range(300))
    every_type = [
        ("text", "{type: string, max_length: 20, min_length: 1, pattern: \"[a-z_]+\"}"),
        ("count", "{type: int, min: -5, max: 5000000000}"),
        ("ratio", "{type: float, min: -1.5, max: 1e300}"),
        ("flag", "bool"),
        ("at", "timestamp"),
        ("kind", f"{{type: enum, values: [{long_enum}]}}"),
        ("deep", "level1"),
        ("inline", "{type: object, fields: {a: int, b: {type: object, fields: {c: {type: string, required: false}}}}}"),
        ("texts", "{type: array, items: string, max_items: 5, max_length: 3}"),
        ("counts", "{type: array, items: int, min: 0}"),
        ("ratios", "{type: array, items: float, required: false}"),
        ("flags", "{type: array, items: bool, required: false}"),
        ("ats", "{type: array, items: timestamp, required: false}"),
        ("kinds", "{type: array, items: {type: enum, values: [a, b]}, required: false}"),
        ("levels", "{type: array, items: level5, required: false}"),
        ("grid", "{type: array, items: {type: array, items: int}, max_items: 3, required: false}"),
        ("rows", "{type: array, items: {type: object, fields: {cell: int}}, required: false}"),
    ]
    keyword_fields = [(name, "{type: string, required: false}") for name in AWKWARD]
    object_fields = [(f"obj_{n}", f"{{type: {n}, required: false}}")
                     for n in ["class", "list", "event", "sender", "environment",
                               "json", "type", "langpack", "result", "stats", "config"]]
    names = ["awkward_every_type", "awkward_keywords", "awkward_objects"]
    ev = ["events:"]
    ev.append("  awkward_every_type:\n    id: 1\n    owner: team\n    versions:\n"
              "      - version: 0\n        fields:\n" + field_block(10, every_type).rstrip())
    ev.append("  awkward_keywords:\n    id: 2\n    owner: team\n    status: deprecated\n    versions:\n"
              "      - version: 0\n        fields:\n" + field_block(10, keyword_fields).rstrip())
    ev.append("  awkward_objects:\n    id: 3\n    owner: team\n    versions:\n"
              "      - version: 0\n        fields:\n" + field_block(10, object_fields).rstrip())
    # Events named after keywords too.
    for i, name in enumerate(["class", "type", "list", "return", "event", "sender"]):
        names.append(name)
        ev.append(f"  {name}:\n    id: {10 + i}\n    owner: team\n    versions:\n"
                  f"      - version: 0\n        fields:\n          {name}: string")
    # Many events with several versions each.
    for i in range(events):
        name = f"bulk_event_{i}"
        names.append(name)
        vs = []
        for v in range(versions):
            fields = [("user_id", "{type: int, min: 1}"), ("label", "{type: string, max_length: 64}"),
                      (f"extra_{v}", "{type: float, required: false}"),
                      ("state", "{type: enum, values: [on, off]}")]
            status = "        status: decommissioned\n" if v == 0 and i % 50 == 0 else ""
            vs.append(f"      - version: {v}\n{status}        fields:\n" + field_block(10, fields).rstrip())
        ev.append(f"  {name}:\n    id: {1000 + i}\n    owner: team\n    versions:\n" + "\n".join(vs))
    (out / "events.yaml").write_text("\n".join(ev) + "\n")
    (out / "environments.yaml").write_text(
        "environments:\n  awkward:\n    description: Everything at once.\n    events: ["
        + ", ".join(names) + "]\n")
    return out


if __name__ == "__main__":
    write(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 250)
