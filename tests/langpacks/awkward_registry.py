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


# Every naming rule of docs/langpacks.md ("Names", "Files") has a case here.
# Names Go spells alike (initialisms), or PHP reads alike (case), in one class:
SPELLED_ALIKE = [("user_id", "int"), ("user_i_d", "int"), ("ab_c", "string"),
                 ("abc", "string"), ("this", "string"), ("this_field", "string")]
# Fields whose Python private copy ("_" + name) or accessors would be one of
# the runtime Event's own attributes, or an object's methods.
EVENT_PRIVATE = ["encode_fields", "event_time_us", "event_time_json",
                 "event_uuid_json", "to_dict", "len", "echo", "get_event_id",
                 "append_fields", "base"]
OBJECT_METHODS = ["validate", "encode", "validate_at", "append_json", "valid"]
# Type names that would be another package-level name: a Go constructor
# (new_clash_v0 against the event clash's NewClashV0), the langpacks' own
# (NewEvent, NewSender; Python's Any, EVENTS, ENVIRONMENT), an enum
# constant (ClashV0ModeCard), or PHP's case-blind class names (AbC, Abc).
TYPE_CLASHES = ["new_event", "new_sender", "any", "e_v_e_n_t_s",
                "e_n_v_i_r_o_n_m_e_n_t", "clash_v0_mode_card", "ab_c", "abc"]
# A long name: lines a printer must wrap (gofmt's one-line limit, PEP 8's
# 79 columns, PSR-12's 120).
LONG = "analytics_instance_missing_threw_error_while_processing"
# Go leaves out a file whose name ends in _test, or in a GOOS, a GOARCH or
# GOOS_GOARCH; test_robustness.py passes the lists `go tool dist list` gives.
GO_TARGETS = ["linux/amd64", "android/arm64", "js/wasm", "wasip1/wasm",
              "windows/386"]


def go_suffix_names(targets):
    """Event names ending in every GOOS, GOARCH, GOOS_GOARCH, and _test."""
    oses = sorted({t.split("/")[0] for t in targets})
    arches = sorted({t.split("/")[1] for t in targets})
    pairs = sorted(t.replace("/", "_") for t in targets)
    names = {f"attrs_{w}" for w in oses + arches + pairs}
    names |= {"unit_test", "attrs_test"}
    return sorted(n for n in names if n.replace("_", "").isalnum())


def field_block(indent, fields):
    pad = " " * indent
    return "".join(f"{pad}{name}: {spec}\n" for name, spec in fields)


def write(out: Path, events: int = 250, versions: int = 4,
          go_targets=GO_TARGETS):
    """Writes the registry; returns (out, the number of event versions its
    environment's langpacks have)."""
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
    for name in TYPE_CLASHES + ["thing_linux", "thing_test"]:
        objects.append(f"  {name}:\n    description: Named to clash.\n"
                       f"    fields:\n      value: {{type: int, required: false}}")
    # pattern constants that spell alike (_AB_V0_C_D_PATTERN, abV0CDPattern)
    objects.append("  ab_v0:\n    description: Spelled alike.\n    fields:\n"
                   "      c_d: {type: string, pattern: \"[a-z]+\"}")
    objects.append("  ab_v0_c:\n    description: Spelled alike.\n    fields:\n"
                   "      d: {type: string, pattern: \"[0-9]+\"}")
    # an object whose fields are named after its own methods
    objects.append("  methods:\n    description: Fields named after methods.\n    fields:\n"
                   + field_block(6, [(n, "{type: string, required: false}")
                                     for n in OBJECT_METHODS]).rstrip())
    objects.append(f"  {LONG}:\n    description: A long name.\n    fields:\n"
                   f"      {LONG}: {{type: string, pattern: \"[a-z]+\", max_length: 10}}\n"
                   f"      {LONG}_kind: {{type: enum, values: [{LONG}, {LONG}_too]}}")
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
    # Clashes: spelled alike, private copies, constructors, enum constants.
    n_extra = 0
    clash = SPELLED_ALIKE + [(n, "{type: string, required: false}") for n in EVENT_PRIVATE]
    clash += [("mode", "{type: enum, values: [card, cash, id, i_d, class, class_value]}"),
              ("methods", "{type: methods, required: false}")]
    clash += [(f"obj_{n}", f"{{type: {n}, required: false}}")
              for n in TYPE_CLASHES + ["thing_linux", "thing_test", LONG,
                                       "ab_v0"]]
    ev.append("  clash:\n    id: 20\n    owner: team\n    versions:\n"
              "      - version: 0\n        fields:\n" + field_block(10, clash).rstrip())
    ev.append("  new_clash:\n    id: 21\n    owner: team\n    versions:\n"
              "      - version: 0\n        fields:\n          mode: string\n"
              "          obj_ab_v0_c: {type: ab_v0_c, required: false}")
    # A long event: long fields, enum values, patterns, deep inline objects.
    inline = "{type: string, pattern: \"[a-z0-9_]+\", min_length: 1}"
    for d in range(4):
        inline = f"{{type: object, required: false, fields: {{{LONG}_{d}: {inline}}}}}"
    long_fields = [(LONG, "{type: string, max_length: 100, pattern: \"[a-z]+\"}"),
                   (f"{LONG}_state", f"{{type: enum, values: [{LONG}, {LONG}_x]}}"),
                   (f"{LONG}_count", "{type: int, min: -100000000000, max: 100000000000}"),
                   (f"{LONG}_ratio", "{type: float, min: -1.5, max: 1e300, required: false}"),
                   (f"{LONG}_grid", "{type: array, items: {type: array, items: string}, max_items: 3, required: false}"),
                   (f"{LONG}_inline", inline)]
    ev.append(f"  {LONG}:\n    id: 22\n    owner: team\n    versions:\n"
              "      - version: 0\n        fields:\n" + field_block(10, long_fields).rstrip())
    names += ["clash", "new_clash", LONG]
    n_extra += 3
    for i, name in enumerate(go_suffix_names(go_targets)):
        names.append(name)
        ev.append(f"  {name}:\n    id: {100 + i}\n    owner: team\n    versions:\n"
                  f"      - version: 0\n        fields:\n          value: int")
        n_extra += 1
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
    # 6 keyword events, 3 awkward ones, bulk events' live versions
    decommissioned = len([i for i in range(events) if i % 50 == 0])
    return out, 9 + events * versions - decommissioned + n_extra


if __name__ == "__main__":
    write(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 250)
