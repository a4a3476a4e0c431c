"""Writes a large, seeded registry made to stress `reestr check`, `publish`,
`gen`, each language's tools, `serve` and the typed views (issue 10, point 4):

- 500+ events (one file each under events/, as examples/registry does),
  several versions for some, a few deprecated or decommissioned;
- names up to NAME_MAX characters (events, fields, objects, enum values,
  environments), names that are keywords or builtins in Go, Python or PHP,
  and event names ending in a Go GOOS/GOARCH or `_test` (`_linux`, `_arm64`,
  `_windows`, `_js`, `_wasm`, `_test`, ...);
- every type (string, int, float, bool, timestamp, enum, inline object,
  named object, array of each, arrays of arrays) and every constraint
  (min_length, max_length, pattern, min, max, max_items, required: false);
- deep inline objects and a chain of named objects;
- hundreds of distinct patterns in the portable dialect (docs/registry.md),
  each made from a template that knows a value it matches;
- environments listing the events (every event is in `bo`).

`write()` returns the model it wrote (a `Registry`), and `example()` builds a
valid value for any field of it, so a test can make one valid instance of
every event version without parsing YAML or guessing what a pattern accepts.

    python3 stress_registry.py OUT_DIR [EVENTS] [SEED]
"""

import json
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path

# The longest name `reestr check` allows (src/model/loader.c, RS_NAME_MAX).
NAME_MAX = 64

# Suffixes Go reads as build constraints in a file name (GOOS, GOARCH,
# _test), and a few look-alikes that are not.
GO_SUFFIXES = ["test", "linux", "arm64", "windows", "js", "wasm", "android",
               "darwin", "amd64", "386", "ios", "plan9", "riscv64", "wasip1",
               "freebsd", "arm", "mips64le", "s390x", "ppc64le", "loong64"]

# Keywords, builtins and common generated-member names of Go, Python and
# PHP, all lower snake_case so they are valid registry names.
KEYWORDS = sorted(set("""
break case chan const continue default defer else fallthrough for func go
goto if import interface map package range return select struct switch type
var any append bool byte cap clear close complex copy delete error false imag
iota len make max min new nil panic print println real recover rune string
true uint int float and as assert async await class def del elif except
finally from global in is lambda none nonlocal not or pass raise try while
with yield dict list object set str tuple bytes property self cls super
abstract array callable catch clone declare do echo empty enddeclare endfor
endforeach endif endswitch endwhile enum eval exit extends final fn foreach
function implements include include_once instanceof insteadof isset match
namespace parent private protected public readonly require require_once
static throw trait unset use void xor mixed never iterable null
validate encode to_json to_dict event_name event_version event_time
event_uuid name version fields values items kind value json re math os sys
typing datetime time_field ev ver out path i x err ok t
""".split()))
# Envelope columns a field may not flatten to (docs/registry.md, Checks).
ENVELOPE = {"uuid", "event_id", "version", "time", "received_at",
            "environment", "source"}
KEYWORDS = [k for k in KEYWORDS if k not in ENVELOPE]

WORDS = ("account ad analytics api auction basket billing button card cart "
         "catalog category chat checkout click coupon delivery device "
         "discount error favorite feed filter instance item listing login "
         "message missing order page payment price profile promo push "
         "rating recommendation refund review search seller session share "
         "shipping sign subscription threw upload user view wallet widget "
         "zone").split()


@dataclass
class Pattern:
    regex: str
    sample: str  # a value the regex matches in full


@dataclass
class Registry:
    path: Path
    events: list = field(default_factory=list)    # [(name, id, [version dict])]
    objects: dict = field(default_factory=dict)   # name -> {field: spec}
    environments: dict = field(default_factory=dict)  # name -> [event]
    patterns: dict = field(default_factory=dict)  # regex -> sample
    seed: int = 0

    def versions(self):
        """(event name, event id, version number, fields, live) for every
        version; live is False for a decommissioned event or version."""
        for name, eid, status, versions in self.events:
            for v in versions:
                live = "decommissioned" not in (status, v.get("status"))
                yield name, eid, v["version"], v["fields"], live


# ---- patterns ------------------------------------------------------------

def _hex(rng, n):
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def _pattern_templates(rng):
    """Templates in the portable dialect; each returns (regex, sample)."""
    uuid = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

    def a_uuid():
        return "-".join(_hex(rng, n) for n in (8, 4, 4, 4, 12))

    return [
        lambda: (r"\d+", str(rng.randint(0, 10**9))),
        lambda n=rng.randint(1, 30): (r"\d{%d}" % n, "7" * n),
        lambda: (r"\d{2,6}-\d{1,4}", "1234-56"),
        lambda: (r"[[:alnum:]-]+", "abc-123"),
        lambda: (r"[[:alnum:]_-]{1,64}", "Ab_9-x"),
        lambda: (r"[a-zA-Z0-9-_.]+", "a-b_c.9Z"),
        lambda: (r"[a-zA-Z0-9-_.]{3,40}", "some.host-name_1"),
        lambda: (uuid, a_uuid()),
        lambda: (uuid + "|[0-9a-f]{16}", _hex(rng, 16)),
        lambda: ("(?:" + uuid + ")|(?:[0-9A-F]{32})", a_uuid()),
        lambda: (r"[[:xdigit:]]{32}", _hex(rng, 32)),
        lambda: (r"[a-f0-9]{40}", _hex(rng, 40)),
        lambda: (r"[0-9a-f]{64}", _hex(rng, 64)),
        lambda: (r"[A-Z]{3}", "EUR"),
        lambda: (r"(GET|POST|PUT|DELETE|PATCH)", "PATCH"),
        lambda: (r"a{200}b{60}", "a" * 200 + "b" * 60),
        lambda: (r"a{101}|b{100}", "b" * 100),
        lambda: (r"\w+@\w+\.\w{2,6}", "user_1@example.com"),
        lambda: (r"^v\d+\.\d+\.\d+$", "v1.22.333"),
        lambda: (r"(?:[0-9]{1,3}\.){3}[0-9]{1,3}", "192.168.0.1"),
        lambda: (r"[[:upper:]][[:lower:]]+", "Moscow"),
        lambda: (r"\s*\S+\s*", " word\t"),
        lambda: (r"[^/]+(/[^/]+)*", "a/b/c"),
        lambda: (r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})",
                 "2026-11-30"),
        lambda: (r"\x41\x{42}\u0043+", "ABCC"),
        lambda: (r"caf\u00e9|na\u00efve", "caf\u00e9"),
        lambda: ("[\u0430-\u044f]{2,8}", "\u043f\u0440\u0438\u0432\u0435\u0442"),
        lambda: (r"\+?\d{1,15}", "+79991234567"),
        lambda: (r".{1,10}", "any \u00fc!"),
        lambda: (r"[[:alpha:]_][[:alnum:]_]*", "_snake9"),
        lambda: (r"[[:digit:]]+(\.[[:digit:]]+)?", "3.1415"),
        lambda: (r"[[:punct:]]+", "!?#"),
        lambda: (r"[[:space:]]?[[:print:]]+", " hello"),
        lambda: (r"[-a-z]+", "kebab-case"),
        lambda: (r"[a-z-]+", "kebab-case"),
        lambda: (r"\.\*\?\(\)\[\]\{\}\|\+\\", r".*?()[]{}|+" + "\\"),
        lambda: (r"(ab)+c?", "ababc"),
        lambda: (r"[A-Za-z0-9+/]+={0,2}", "aGVsbG8="),
        lambda: (r"\D+", "no digits"),
        lambda: (r"\W+", "-!- "),
        lambda: (r"[^\d\s]+", "abc"),
        lambda: (r"[\t ]*x[\t ]*", "\tx "),
        lambda: (r"(?:en|ru|de|fr)(?:-[A-Z]{2})?", "en-GB"),
        lambda: (r"https?://[a-z0-9.-]+(:\d{1,5})?(/[[:graph:]]*)?",
                 "https://example.com:8080/a?b=c"),
        lambda: (r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z",
                 "2026-11-30T12:00:00Z"),
        lambda: (r"(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?", "12.5e-3"),
        lambda: (r"[a-z]{1,%d}" % rng.randint(5, 900), "z"),
        lambda: (r"(?:a|b|c|d|e|f|g|h|i|j|k|l|m|n|o|p){3,9}", "abcd"),
    ]


def make_patterns(rng, count):
    """count distinct patterns: each template once bare, then with a
    literal prefix so the regexes differ."""
    templates = _pattern_templates(rng)
    # At the cost limit: 1000 positions (docs/registry.md, "Patterns").
    out = {"x{1000}": "x" * 1000}
    for t in templates:
        regex, sample = t()
        out[regex] = sample
    i = 0
    while len(out) < count:
        regex, sample = rng.choice(templates)()
        prefix = f"p{i}_"
        i += 1
        out[f"{prefix}(?:{regex.strip('^$')})"] = prefix + sample
    return [Pattern(r, s) for r, s in out.items()]


# ---- names ---------------------------------------------------------------

class Names:
    """Unique lower snake_case names, some exactly NAME_MAX long."""

    def __init__(self, rng):
        self.rng = rng
        self.used = set()

    def make(self, parts=2, length=None, suffix=None):
        rng = self.rng
        for attempt in range(1000):
            words = [rng.choice(WORDS) for _ in range(parts)]
            if attempt:
                words.append(str(attempt))
            name = "_".join(words)
            if length:
                name = _stretch(name, length - (len(suffix) + 1 if suffix else 0), rng)
            if suffix:
                name = f"{name}_{suffix}"
            if name not in self.used:
                self.used.add(name)
                return name
        raise RuntimeError("out of names")

    def take(self, name):
        if name in self.used:
            return None
        self.used.add(name)
        return name


def _stretch(name, length, rng):
    """name padded with words (or cut) to exactly length characters, still
    lower snake_case."""
    while len(name) < length:
        name += "_" + rng.choice(WORDS)
    name = name[:length]
    while name.endswith("_") or "__" in name:
        name = name.rstrip("_").replace("__", "_")
        name += "x" * (length - len(name))
    return name


# ---- fields --------------------------------------------------------------

def _enum_values(rng, n, long=False):
    values = set()
    if long:
        values.add(_stretch("value", NAME_MAX, rng))
    values.update(rng.sample(KEYWORDS, min(n // 2, len(KEYWORDS))))
    while len(values) < n:
        values.add(f"{rng.choice(WORDS)}_{len(values)}")
    return sorted(values)


class FieldMaker:
    def __init__(self, rng, patterns, objects):
        self.rng = rng
        self.patterns = patterns
        self.next_pattern = 0
        self.objects = objects  # named objects usable as types

    def pattern(self):
        p = self.patterns[self.next_pattern % len(self.patterns)]
        self.next_pattern += 1
        return p

    def scalar(self, kind=None):
        rng = self.rng
        kind = kind or rng.choice(
            ["string", "string_pattern", "string_pattern", "int", "float",
             "bool", "timestamp", "enum"])
        if kind == "string":
            lo = rng.choice([None, 0, 1, 5])
            hi = rng.choice([None, 1, 20, 255, 16384])
            if lo is not None and hi is not None and lo > hi:
                lo, hi = hi, lo
            spec = {"type": "string"}
            if lo is not None:
                spec["min_length"] = lo
            if hi is not None:
                spec["max_length"] = hi
            return spec
        if kind == "string_pattern":
            p = self.pattern()
            n = len(p.sample)
            spec = {"type": "string", "pattern": p.regex}
            if rng.random() < 0.5:
                spec["min_length"] = rng.randint(0, n)
                spec["max_length"] = n + rng.randint(0, 100)
            return spec
        if kind == "int":
            lo, hi = rng.choice([
                (None, None), (0, None), (1, 100), (-5, 5000000000),
                (-9223372036854775808, 9223372036854775807),
                (None, -1), (42, 42), (-(2 ** 53), 2 ** 53)])
            spec = {"type": "int"}
            if lo is not None:
                spec["min"] = lo
            if hi is not None:
                spec["max"] = hi
            return spec
        if kind == "float":
            lo, hi = rng.choice([
                (None, None), (-90, 90), (0, 1), (-1.5, 1e300), (0.5, None),
                (None, -0.25), (-1e-300, 1e-300)])
            spec = {"type": "float"}
            if lo is not None:
                spec["min"] = lo
            if hi is not None:
                spec["max"] = hi
            return spec
        if kind == "enum":
            return {"type": "enum",
                    "values": _enum_values(rng, rng.choice([1, 2, 3, 5, 8, 40])
                                           if rng.random() < 0.98 else 300,
                                           long=rng.random() < 0.2)}
        return {"type": kind}

    def inline(self, depth, names, width=2):
        """An inline object nested depth levels deep."""
        fields = {}
        for i in range(width):
            fields[f"{names.rng.choice(WORDS)}_{depth}_{i}"] = self.scalar()
        if depth > 1:
            fields[f"level_{depth - 1}"] = self.inline(depth - 1, names)
        return {"type": "object", "fields": fields}

    def array(self):
        rng = self.rng
        kind = rng.choice(["scalar", "scalar", "object", "named", "nested"])
        if kind == "scalar":
            inner = self.scalar()
            spec = {"type": "array", "items": inner.pop("type")}
            if spec["items"] == "enum":
                spec["items"] = {"type": "enum", "values": inner.pop("values")}
            spec.update(inner)  # constraints apply to each element
        elif kind == "object":
            spec = {"type": "array", "items": {"type": "object", "fields": {
                "cell": self.scalar("int"), "label": self.scalar("string_pattern")}}}
        elif kind == "named":
            spec = {"type": "array", "items": rng.choice(sorted(self.objects))}
        else:
            spec = {"type": "array", "items": {"type": "array", "items": "int"}}
        if rng.random() < 0.6:
            spec["max_items"] = rng.choice([0, 1, 3, 10, 1000])
        return spec

    def fields(self, names, count, depth=0):
        rng = self.rng
        out = {}
        for i in range(count):
            r = rng.random()
            if r < 0.6:
                spec = self.scalar()
            elif r < 0.75:
                spec = self.array()
            elif r < 0.85:
                spec = {"type": rng.choice(sorted(self.objects))}
            else:
                spec = self.inline(rng.randint(1, depth or 3), names)
            if rng.random() < 0.25:
                spec["required"] = False
            if rng.random() < 0.1:
                spec["pii"] = True
            if rng.random() < 0.2:
                spec["description"] = f"Field {i}: {rng.choice(WORDS)} \"quoted\" # not a comment"
            key = rng.choice(KEYWORDS) if rng.random() < 0.15 else None
            if key is None or key in out:
                key = f"{rng.choice(WORDS)}_{i}"
                if rng.random() < 0.05:
                    key = _stretch(f"f{i}", NAME_MAX, rng)
            out[key] = spec
        return out


# ---- writing -------------------------------------------------------------

def _y(value):
    """A YAML flow value (JSON is YAML 1.2 flow syntax)."""
    return json.dumps(value, ensure_ascii=True)


def _fields_yaml(fields, indent):
    pad = " " * indent
    return "".join(f"{pad}{_y(k)}: {_y(v)}\n" for k, v in fields.items())


def write(out, events=520, seed=1, patterns=400, deep=12):
    """Writes the registry to out (a folder) and returns its Registry."""
    out = Path(out)
    rng = random.Random(seed)
    reg = Registry(path=out, seed=seed)
    names = Names(rng)
    (out / "events").mkdir(parents=True, exist_ok=True)
    (out / "objects").mkdir(exist_ok=True)
    long_owner = _stretch("owner", NAME_MAX, rng)
    (out / "owners.yaml").write_text(
        "owners:\n  team:\n    contact: team@example.com\n"
        f"  {long_owner}:\n    contact: \"#stress\"\n")
    (out / "sources.yaml").write_text(
        "sources:\n  stress-service:\n    owner: team\n"
        f"  {'s' * 34}.internal-{'x' * 20}:\n    owner: {long_owner}\n")

    pats = make_patterns(rng, patterns)
    reg.patterns = {p.regex: p.sample for p in pats}

    # Named objects: a chain NAMED_DEPTH deep, keyword names, a long name.
    objects = {}
    chain = [f"chain_{d}" for d in range(1, 7)]
    for d, name in enumerate(chain):
        f = {f"depth_{d + 1}": {"type": "int", "min": d + 1}}
        if d + 1 < len(chain):
            f["inner"] = {"type": chain[d + 1], "required": d % 2 == 0}
        objects[name] = f
    maker = FieldMaker(rng, pats, {})
    for name in ["class", "list", "type", "struct", "dict", "self",
                 "event", "sender", "json", _stretch("object", NAME_MAX, rng)]:
        objects[name] = {name: {"type": "string", "max_length": 10},
                         "value": {"type": "int", "required": False},
                         "code": maker.scalar("string_pattern")}
    maker.objects = dict(objects)
    reg.objects = objects
    (out / "objects" / "objects.yaml").write_text(
        "objects:\n" + "".join(
            f"  {_y(n)}:\n    description: Object {n}.\n    fields:\n"
            + _fields_yaml(f, 6) for n, f in objects.items()))

    # Event names: keywords, GOOS/GOARCH/_test suffixes, NAME_MAX-long ones.
    event_names = []
    for k in ["class", "type", "func", "return", "import", "list", "string",
              "default", "interface", "map", "range", "echo", "array",
              "static", "self", "new", "match", "function", "namespace",
              "print", "len", "none", "null", "true", "false", "object",
              "event", "sender", "error", "go", "package"]:
        if names.take(k):
            event_names.append(k)
    for s in GO_SUFFIXES:
        event_names.append(names.make(2, suffix=s))
        event_names.append(names.make(1, length=NAME_MAX, suffix=s))
        event_names.append(names.make(1, suffix=f"x_{s}"))
    event_names.append(names.take("unit_test"))
    event_names.append(names.take("attrs_android"))
    while len(event_names) < events:
        long = rng.random() < 0.15
        event_names.append(names.make(rng.randint(2, 4),
                                      length=NAME_MAX if long else None))

    ids = rng.sample(range(1, 1_000_000), len(event_names))
    ids[0] = 2147483647
    written = []
    for n, (name, eid) in enumerate(zip(event_names, ids)):
        status = "active"
        if n % 97 == 5:
            status = "deprecated"
        elif n % 131 == 7:
            status = "decommissioned"
        nversions = rng.choice([1, 1, 1, 2, 3, 5])
        versions = []
        for v in range(nversions):
            vd = {"version": v}
            if nversions > 1 and v == 0 and rng.random() < 0.3:
                vd["status"] = rng.choice(["deprecated", "decommissioned"])
            if n == 1 and v == 0:
                # The widest version: hundreds of columns in its view.
                vd["fields"] = maker.fields(names, 600)
            elif n == 2 and v == 0:
                # The deepest inline object.
                vd["fields"] = {"root": maker.inline(deep, names)}
            elif n == 4 and v == 0:
                # Long names nested: generated type names add them up.
                spec = {"type": "int"}
                for d in range(6):
                    spec = {"type": "object", "fields": {
                        _stretch(f"n{d}", NAME_MAX, rng): spec,
                        _stretch(f"m{d}", NAME_MAX, rng): maker.scalar("enum")}}
                vd["fields"] = {_stretch("nested", NAME_MAX, rng): spec}
            elif n == 3 and v == 0:
                # Every scalar kind, as fields and as array items.
                kinds = ["string", "string_pattern", "int", "float", "bool",
                         "timestamp", "enum"]
                vd["fields"] = {f"one_{k}": maker.scalar(k) for k in kinds}
                vd["fields"]["chain"] = {"type": "chain_1"}
                for k in kinds:
                    inner = maker.scalar(k)
                    t = inner.pop("type")
                    spec = {"type": "array", "items": t, "max_items": 4}
                    if t == "enum":
                        spec["items"] = {"type": "enum", "values": inner.pop("values")}
                    spec.update(inner)
                    vd["fields"][f"many_{k}"] = spec
            else:
                vd["fields"] = maker.fields(names, rng.randint(1, 8))
            versions.append(vd)
        reg.events.append((name, eid, status, versions))
        written.append(name)
        text = [f"events:\n  {_y(name)}:\n    id: {eid}\n",
                f"    owner: {long_owner if n % 7 == 0 else 'team'}\n",
                f"    description: Stress event {n} ({name}).\n"]
        if status != "active":
            text.append(f"    status: {status}\n")
        text.append("    versions:\n")
        for vd in versions:
            text.append(f"      - version: {vd['version']}\n")
            if "status" in vd:
                text.append(f"        status: {vd['status']}\n")
            text.append("        fields:\n" + _fields_yaml(vd["fields"], 10))
        (out / "events" / f"{n:04d}_{name}.yaml").write_text("".join(text))

    # Environments: everything in bo; a front subset; the Go-suffixed events
    # alone; a NAME_MAX-long name.
    reg.environments = {
        "bo": list(written),
        "front": [e for i, e in enumerate(written) if i % 5 == 0],
        "suffixes": [e for e in written if any(e.endswith("_" + s) for s in GO_SUFFIXES)],
        _stretch("environment", NAME_MAX, rng): written[:50],
    }
    # bo stores personal data as sent (the round trips compare values);
    # the others keep the default policy (redact).
    (out / "environments.yaml").write_text("environments:\n" + "".join(
        f"  {env}:\n    description: Stress environment {env}.\n"
        + ("    pii: store\n" if env == "bo" else "") + "    events:\n"
        + "".join(f"      - {_y(e)}\n" for e in evs)
        for env, evs in reg.environments.items()))
    return reg


# ---- valid values --------------------------------------------------------

def example(reg, spec, rng):
    """A value valid for spec (a field's type or mapping) in reg: JSON types,
    timestamps as RFC 3339 strings."""
    if isinstance(spec, str):
        spec = {"type": spec}
    t = spec["type"]
    if t == "string":
        if "pattern" in spec:
            return reg.patterns[spec["pattern"]]
        n = max(spec.get("min_length", 0), min(spec.get("max_length", 8), 8))
        return "".join(rng.choice("abc\u00e9\u4e2d\U0001f600 ") for _ in range(n))
    if t == "int":
        lo = spec.get("min", -1000)
        hi = spec.get("max", 1000)
        if lo > hi:
            lo, hi = (hi, hi) if "max" in spec else (lo, lo)
        return rng.choice([lo, hi, (lo + hi) // 2])
    if t == "float":
        lo = float(spec.get("min", -1e6))
        hi = float(spec.get("max", 1e6))
        if lo > hi:
            lo, hi = (hi, hi) if "max" in spec else (lo, lo)
        return rng.choice([lo, hi, lo / 2 + hi / 2])
    if t == "bool":
        return rng.random() < 0.5
    if t == "timestamp":
        return rng.choice(["2026-11-30T12:34:56Z", "2026-11-30T12:34:56.123456+03:00",
                           "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z"])
    if t == "enum":
        return rng.choice(spec["values"])
    if t == "object":
        return _object(reg, spec["fields"], rng)
    if t == "array":
        n = min(spec.get("max_items", 2), 2)
        item = spec["items"]
        item = dict(item) if isinstance(item, dict) else {"type": item}
        for k in ("min_length", "max_length", "pattern", "min", "max"):
            if k in spec:
                item[k] = spec[k]
        return [example(reg, item, rng) for _ in range(n)]
    return _object(reg, reg.objects[t], rng)


def _object(reg, fields, rng):
    out = {}
    for name, spec in fields.items():
        if isinstance(spec, dict) and spec.get("required") is False and rng.random() < 0.3:
            continue  # optional fields are sometimes absent
        out[name] = example(reg, spec, rng)
    return out


def instance(reg, fields, seed=0):
    """A valid `fields` object for an event version."""
    return _object(reg, fields, random.Random(seed))


if __name__ == "__main__":
    r = write(Path(sys.argv[1]), *(int(a) for a in sys.argv[2:4]))
    nver = sum(1 for _ in r.versions())
    print(f"{len(r.events)} events, {nver} versions, {len(r.patterns)} patterns")
