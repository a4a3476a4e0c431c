"""`reestr check` knows the collector's limits (docs/registry.md, "Limits"):
it warns about a constraint no value can meet and about a bound the
registry allows but the collector refuses, naming the limit; each warning
is checked against a real collector on the same registry, at the limit and
one past it."""

import json
import re
import shutil

import pytest

from conftest import EXAMPLES, now_rfc3339, run, uuid7

STRING_LIMIT = 64 << 10
DEPTH_LIMIT = 32
EVENT_VALUES = 4096
# {"events": [{"fields": {...}}]}: the fields object is level 4, so 28
# nested objects inside it reach level 32.
DEEPEST_OK = DEPTH_LIMIT - 4


def nested(levels):
    """A field nested `levels` objects deep, an int inside: named objects
    d1 .. dN, each holding the one below (YAML itself nests only 64 deep,
    and inline objects take two levels of it each)."""
    return "d%d" % levels


def depth_objects(n):
    lines = ["  d1:", "    fields:", "      a: int"]
    for k in range(2, n + 1):
        lines += ["  d%d:" % k, "    fields:", "      a: d%d" % (k - 1)]
    return lines


def nested_value(levels):
    v = 1
    for _ in range(levels):
        v = {"a": v}
    return v


EVENTS = {
    # name: (id, fields YAML)
    "text_ok": (1, "s: {type: string, max_length: %d}" % (STRING_LIMIT // 4)),
    "text_may": (2, "s: {type: string, max_length: %d}" % (STRING_LIMIT // 4 + 1)),
    "text_never": (3, "s: {type: string, min_length: %d}" % (STRING_LIMIT + 1)),
    "deep_ok": (4, "a: %s" % nested(DEEPEST_OK)),
    "deep_over": (5, "a: %s" % nested(DEEPEST_OK + 1)),
    # 8 envelope values + the array + its items
    "values_ok": (6, "xs: {type: array, items: int, max_items: %d}" % (EVENT_VALUES - 9)),
    "values_over": (7, "xs: {type: array, items: int, max_items: %d}" % (EVENT_VALUES - 8)),
    # 7 + 1 + 8 x (1 + 8 x (1 + 8 x 9)) = 4688 values, all required (empty
    # objects: no columns in the typed view, which holds at most 1993)
    "values_never": (8, "\n".join("          f%d: o512" % i for i in range(8)).lstrip()),
    "tags_unbounded": (9, "tags: {type: array, items: string}"),
}
UNLISTED = "lonely_event"


def registry_text():
    lines = [
        "owners:", "  t:", "    contact: t@example.com",
        "sources:", "  svc:", "    owner: t",
        "environments:", "  bo:", "    events: [%s]" % ", ".join(EVENTS),
        "objects:",
        "  nothing:", "    fields: {}",
        "  o8:", "    fields:",
        *("      i%d: nothing" % i for i in range(8)),
        "  o64:", "    fields:",
        *("      i%d: o8" % i for i in range(8)),
        "  o512:", "    fields:",
        *("      i%d: o64" % i for i in range(8)),
        *depth_objects(DEEPEST_OK + 1),
        "events:",
    ]
    for name, (eid, fields) in [*EVENTS.items(), (UNLISTED, (10, "x: int"))]:
        lines += ["  %s:" % name, "    id: %d" % eid, "    owner: t",
                  "    versions:", "      - version: 0", "        fields:",
                  "          " + fields]
    return "\n".join(lines) + "\n"


@pytest.fixture
def reg(tmp_path):
    d = tmp_path / "reg"
    d.mkdir()
    (d / "registry.yaml").write_text(registry_text())
    return d


def warnings_of(out):
    return [x for x in out.stderr.splitlines() if ": warning: " in x]


def warning_for(warnings, name):
    found = [w for w in warnings if re.search(r"\b%s\b" % name, w)]
    return found


def line_of(reg, text):
    for i, line in enumerate((reg / "registry.yaml").read_text().splitlines(), 1):
        if text in line:
            return i
    raise AssertionError(text)


def test_check_warns_naming_the_limit_and_exits_0(reg):
    out = run("check", str(reg))
    assert out.returncode == 0, out.stderr
    w = warnings_of(out)
    assert "9 warnings" not in out.stdout
    assert out.stdout.rstrip().endswith("ok, %d warnings" % len(w)), out.stdout
    # no warning for what fits, or for a string/array without a bound
    for quiet in ["text_ok", "deep_ok", "values_ok", "tags_unbounded"]:
        assert not warning_for(w, quiet), (quiet, w)

    (may,) = [x for x in w if "max_length %d" % (STRING_LIMIT // 4 + 1) in x]
    assert "--max-string-bytes" in may and "65540 bytes" in may
    assert "use max_length 16384 or less" in may

    (never,) = [x for x in w if "min_length %d" % (STRING_LIMIT + 1) in x]
    assert "can never be met" in never and "--max-string-bytes" in never

    (deep,) = warning_for(w, "deep_over")
    assert "--max-depth" in deep and "level 33" in deep
    assert "fields" + ".a" * (DEEPEST_OK + 1) + " " in deep

    (over,) = warning_for(w, "values_over")
    assert "4097 JSON values" in over and "4096" in over
    assert "fields.xs" in over

    (never_v,) = warning_for(w, "values_never")
    assert "required fields alone make 4688 JSON values" in never_v

    (lonely,) = warning_for(w, UNLISTED)
    assert "in no environment" in lonely
    assert lonely.startswith("registry.yaml:%d:3: warning:" % line_of(reg, UNLISTED + ":"))


def test_strict_exits_1_on_warnings(reg):
    out = run("check", "--strict", str(reg))
    assert out.returncode == 1
    assert warnings_of(out)


def test_example_registry_is_strict_clean():
    out = run("check", "--strict", str(EXAMPLES))
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""


def test_check_takes_serves_limit_options(reg):
    out = run("check", "--max-string-bytes", "16K", "--max-depth", "40",
              "--max-body-bytes", "150", str(reg))
    assert out.returncode == 0, out.stderr
    w = warnings_of(out)
    assert not [x for x in w if "--max-depth" in x]  # 33 fits under 40
    # text_ok's 16384 code points may take 65536 bytes, over 16 KiB now
    assert any("max_length 16384" in x and "16384 bytes" in x for x in w), w
    # every event needs more than 150 bytes in a batch
    small = [x for x in w if "--max-body-bytes" in x]
    assert len(small) == len(EVENTS) + 1, small  # and the unlisted one
    assert run("check", "--max-depth", "0", str(reg)).returncode == 2
    help = run("check", "--help").stdout
    for flag in ["--strict", "--max-body-bytes", "--max-batch-events",
                 "--max-string-bytes", "--max-depth"]:
        assert flag in help


def test_names_and_enum_values_over_the_string_limit(tmp_path, make_server):
    """Names and enum values are strings on the wire too; a uuid is 36
    bytes, so under that every event is refused."""
    d = tmp_path / "reg"
    d.mkdir()
    (d / "registry.yaml").write_text(
        "owners: {t: {contact: t@example.com}}\n"
        "sources: {svc: {owner: t}, " + "s" * 40 + ": {owner: t}}\n"
        "environments: {bo: {events: [e]}}\n"
        "events:\n  e:\n    id: 1\n    owner: t\n    versions:\n"
        "      - version: 0\n        fields:\n"
        "          kind: {type: enum, values: [a, " + "b" * 37 + "]}\n"
        "          " + "f" * 38 + ": {type: int, required: false}\n")
    w = warnings_of(run("check", "--max-string-bytes", "36", str(d)))
    assert len(w) == 3, w
    assert any(("enum value '%s' is 37 bytes" % ("b" * 37)) in x for x in w)
    assert any(("field '%s': its name is 38 bytes" % ("f" * 38)) in x for x in w)
    assert any(("source '%s': its name is 40 bytes" % ("s" * 40)) in x for x in w)
    (uuid,) = warnings_of(run("check", "--max-string-bytes", "35", str(d)))[:1]
    assert uuid.startswith("--max-string-bytes: warning: 35 is less than the 36")

    server = make_server(registry=d, extra_args=["--max-string-bytes", "36"])
    base = {"event_id": 1, "version": 0, "uuid": uuid7(), "time": now_rfc3339(),
            "environment": "bo", "source": "svc"}
    res = server.post_events([
        base | {"fields": {"kind": "b" * 37}},
        base | {"uuid": uuid7(), "fields": {"kind": "a", "f" * 38: 1}},
        base | {"uuid": uuid7(), "source": "s" * 40, "fields": {"kind": "a"}},
        base | {"uuid": uuid7(), "fields": {"kind": "a"}},
    ]).json()["results"]
    assert [r["status"] for r in res] == ["rejected"] * 3 + ["accepted"], res
    for r in res[:3]:
        assert "--max-string-bytes" in r["error"], r


def event(name, fields):
    return {"event_id": EVENTS[name][0], "version": 0, "uuid": uuid7(),
            "time": now_rfc3339(), "environment": "bo", "source": "svc",
            "fields": fields}


def test_the_warnings_match_what_the_collector_refuses(reg, make_server):
    """At each bound check allows quietly, the collector accepts; one past
    the bound check warns about, the collector refuses with that limit."""
    server = make_server(registry=reg)
    emoji = "\U0001F600"  # 4 bytes of UTF-8
    batch = [
        event("text_ok", {"s": emoji * (STRING_LIMIT // 4)}),
        event("text_may", {"s": emoji * (STRING_LIMIT // 4 + 1)}),
        event("deep_ok", {"a": nested_value(DEEPEST_OK)}),
        event("deep_over", {"a": nested_value(DEEPEST_OK + 1)}),
        event("values_ok", {"xs": [1] * (EVENT_VALUES - 9)}),
        event("values_over", {"xs": [1] * (EVENT_VALUES - 8)}),
    ]
    r = server.post_events(batch)
    assert r.status == 200, r.raw
    res = r.json()["results"]
    assert [x["status"] for x in res] == [
        "accepted", "rejected", "accepted", "rejected", "accepted", "rejected"], res
    assert "--max-string-bytes" in res[1]["error"]
    assert "--max-depth" in res[3]["error"]
    assert "4096 JSON values" in res[5]["error"]


def smallest_batch(name):
    """The shortest batch carrying one event: what check's body rule
    computes as a lower bound."""
    ev = {"event_id": EVENTS[name][0], "version": 0,
          "uuid": "0192f0c4-8b7a-7cde-8f00-1a2b3c4d5e6f",
          "time": "0001-01-01T00:00:00Z", "environment": "bo",
          "source": "svc", "fields": {"s": ""}}
    return json.dumps({"events": [ev]}, separators=(",", ":")).encode()


def test_the_body_rule_is_exact_for_the_smallest_event(reg, make_server):
    body = smallest_batch("text_ok")
    n = len(body)
    for limit, warned in [(n, False), (n - 1, True)]:
        w = warnings_of(run("check", "--max-body-bytes", str(limit), str(reg)))
        assert bool([x for x in warning_for(w, "text_ok")
                     if "%d bytes" % n in x]) == warned, (limit, w)
    server = make_server(registry=reg, extra_args=["--max-body-bytes", str(n)])
    r = server.post_raw(body)
    assert r.status == 200 and r.json()["accepted"] == 1, r.raw
    small = make_server(registry=reg, extra_args=["--max-body-bytes", str(n - 1)])
    assert small.post_raw(body).status == 413


def test_an_object_cycle_used_by_an_event_is_reported_not_a_crash(tmp_path):
    """Found by fuzzing the warnings: the column-name check recursed into
    the cycle until the stack ran out (check died of SIGSEGV)."""
    d = tmp_path / "reg"
    d.mkdir()
    (d / "registry.yaml").write_text(
        "owners: {t: {contact: t@example.com}}\n"
        "sources: {svc: {owner: t}}\n"
        "environments: {bo: {events: [e]}}\n"
        "objects:\n  loop:\n    fields:\n      again: loop\n"
        "events:\n  e:\n    id: 1\n    owner: t\n    versions:\n"
        "      - version: 0\n        fields:\n          x: loop\n")
    out = run("check", str(d))
    assert out.returncode == 1, out
    assert "object cycle: loop -> loop" in out.stderr


@pytest.mark.parametrize("leaf,words", [
    ("v: int", "flatten to over "),            # 8^40 columns
    ("{}", "expanded, are over "),              # 8^40 empty objects
])
def test_objects_inside_objects_are_counted_not_walked(tmp_path, leaf, words):
    """40 levels of objects with 8 fields of the level below describe 8^40
    columns in 300 lines: check (and serve, which flattens every version
    into a typed view) walked every one of them and never ended; now each
    object is counted once and the version is refused at once."""
    d = tmp_path / "reg"
    d.mkdir()
    lines = ["owners: {t: {contact: t@example.com}}",
             "sources: {svc: {owner: t}}",
             "environments: {bo: {events: [e]}}", "objects:",
             "  l0:", "    fields:" + (" {}" if leaf == "{}" else ""),
             *([] if leaf == "{}" else ["      " + leaf])]
    for k in range(1, 41):
        lines += ["  l%d:" % k, "    fields:"]
        lines += ["      f%d: {type: l%d, required: false}" % (i, k - 1)
                  for i in range(8)]
    lines += ["events:", "  e:", "    id: 1", "    owner: t", "    versions:",
              "      - version: 0", "        fields:", "          top: l40"]
    (d / "registry.yaml").write_text("\n".join(lines) + "\n")
    out = run("check", str(d), timeout=20)
    assert out.returncode == 1, out
    assert words in out.stderr, out.stderr


def test_typed_view_columns_are_limited_to_what_sqlite_reads(tmp_path, make_server):
    """7 envelope columns + 1993 fields = 2000, SQLite's limit: one more
    field and `reestr query` on the view failed (too many columns)."""
    for n, ok in [(1993, True), (1994, False)]:
        d = tmp_path / ("reg%d" % n)
        d.mkdir()
        (d / "registry.yaml").write_text("\n".join(
            ["owners: {t: {contact: t@example.com}}",
             "sources: {svc: {owner: t}}",
             "environments: {bo: {events: [e]}}", "events:", "  e:",
             "    id: 1", "    owner: t", "    versions:", "      - version: 0",
             "        fields:"]
            + ["          f%d: {type: int, required: false}" % i
               for i in range(n)]) + "\n")
        out = run("check", str(d))
        assert (out.returncode == 0) == ok, out.stderr
        if not ok:
            assert "1994 columns" in out.stderr and "2000" in out.stderr
        else:  # the largest view check allows is one SQLite reads
            server = make_server(registry=d)
            assert server.query("SELECT count(*) AS c FROM e_v0") == [{"c": 0}]


def test_an_event_in_no_environment_is_warned_with_its_file(tmp_path):
    """Issue 12, point 6: a new event file nobody listed in an environment
    passes `check` (a warning, not a problem) but would be in no langpack
    and refused by the collector: the warning names the event and its
    file, and listing the event puts it in the langpack."""
    reg = tmp_path / "registry"
    shutil.copytree(EXAMPLES, reg)
    (reg / "events" / "search_performed.yaml").write_text(
        "events:\n"
        "  search_performed:\n"
        "    id: 900\n"
        "    owner: marketplace\n"
        "    description: A search was run.\n"
        "    versions:\n"
        "      - version: 0\n"
        "        fields:\n"
        "          query: {type: string, max_length: 512}\n")
    out = run("check", str(reg))
    assert out.returncode == 0, out.stderr
    assert out.stdout.rstrip().endswith("ok, 1 warning"), out.stdout
    assert ("events/search_performed.yaml:2:3: warning: event "
            "search_performed (id 900) is in no environment: no langpack "
            "has it and the collector refuses it") in out.stderr, out.stderr
    assert run("check", "--strict", str(reg)).returncode == 1

    def generated():
        lp = tmp_path / f"lp{len(list(tmp_path.glob('lp*')))}"
        g = run("gen", "--registry", str(reg), "--env", "bo", "--lang",
                "python", "--out", str(lp))
        assert g.returncode == 0, g.stderr
        return (lp / "reestr_bo" / "events.py").read_text()

    assert "SearchPerformedV0" not in generated()
    envs = reg / "environments.yaml"
    envs.write_text(envs.read_text().replace(
        "      - legacy_item_favorite\n",
        "      - legacy_item_favorite\n      - search_performed\n", 1))
    out = run("check", str(reg))
    assert "search_performed" not in out.stderr, out.stderr
    assert "class SearchPerformedV0(Event):" in generated()
