"""The portable pattern dialect (docs/registry.md, "Patterns"): the
collector's verdict on the issue's patterns, `reestr check`'s errors, and a
differential test — thousands of random patterns from the dialect's grammar
(seeded), each matched by the collector's automaton (through the
pattern_tool test binary) and by Python `re.fullmatch`, Go
`regexp.MatchString`, PHP `preg_match` and JavaScript's `RegExp#test` (with
the u flag, in Node) on the spelling each language gets: every verdict must
agree."""

import json
import os
import random
import re
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from conftest import REESTR, now_rfc3339, uuid7

HERE = Path(__file__).parent
TOOL = Path(os.environ.get("PATTERN_TOOL",
                           Path(REESTR).parent / "pattern_tool"))
SEED = int(os.environ.get("PATTERN_SEED", "20261130"))
COUNT = int(os.environ.get("PATTERN_COUNT", "2500"))
MAX_VALUE = 12


def tool(cases):
    """Runs pattern_tool on [(pattern, [values])]."""
    lines = "".join(json.dumps({"p": p, "v": v}) + "\n" for p, v in cases)
    out = subprocess.run([str(TOOL)], input=lines.encode(),
                         capture_output=True, check=True)
    return [json.loads(line) for line in out.stdout.decode().splitlines()]


def one(pattern, values=()):
    return tool([(pattern, list(values))])[0]


# ---- the patterns ------------------------------------------------

def test_digits_mean_ascii_digits():
    r = one(r"\d+", ["123", "ddd", "", "\u0663\u0664"])
    assert r["ok"] and r["match"] == [True, False, False, False]
    assert r["python"] == "[0-9]+"
    assert r["go"] == "^(?:[0-9]+)$"
    assert r["php"] == r"\A(?:[0-9]+)\z"
    assert r["ts"] == "^(?:[0-9]+)$"


def test_posix_class_with_dash():
    r = one("[[:alnum:]-]+", ["abc-123", "abc_123", "é"])
    assert r["ok"] and r["match"] == [True, False, False]


def test_dash_after_a_range_is_literal():
    r = one("[a-zA-Z0-9-_.]+", ["a-b_c.D9", "a b", "a,b"])
    assert r["ok"] and r["match"] == [True, False, False]


@pytest.mark.parametrize("pattern,size", [
    ("a{200}b{60}", 260),
    ("a{101}|b{100}", 201),
    ("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
     "|^[0-9a-f]{16}$", 52),
    ("^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
     "|[0-9a-f]{16})$", 52),
    ("x*", 1), ("x+", 1), ("x{2,}", 2), ("(ab){0,3}", 6), ("a{0}", 0),
])
def test_cost_is_the_automaton_size(pattern, size):
    r = one(pattern)
    assert r["ok"], r
    assert r["size"] == size


def test_code_points_not_bytes():
    r = one("^.{3}$", ["\u00e9\u65e5x", "\u00e9\u65e5", "ab\n"])
    assert r["match"] == [True, False, False]


# ---- `reestr check` --------------------------------------------------------

REGISTRY = """\
owners:
  test_team:
    contact: test-team@example.com
sources:
  test-service:
    owner: test_team
environments:
  bo:
    events: [e]
events:
  e:
    id: 1
    owner: test_team
    versions:
      - version: 0
        fields:
          f: {{type: string, pattern: {pattern}}}
"""


def check(tmp_path, pattern_yaml):
    reg = tmp_path / "reg"
    reg.mkdir(exist_ok=True)
    (reg / "registry.yaml").write_text(REGISTRY.format(pattern=pattern_yaml))
    return subprocess.run([REESTR, "check", str(reg)], capture_output=True,
                          text=True)


@pytest.mark.parametrize("pattern", [
    r"'\d+'", "'[[:alnum:]-]+'", "'[a-zA-Z0-9-_.]+'", "'a{200}b{60}'",
    "'a{101}|b{100}'",
    "'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
    "|^[0-9a-f]{16}$'",
])
def test_check_accepts(tmp_path, pattern):
    r = check(tmp_path, pattern)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("pattern,col,message", [
    ("'a(?=b)'", 2, "column 2: lookahead (?=…) is not supported"),
    ("'(a)\\1'", 4, "column 4: backreference \\1 is not supported"),
    ("'(?i)abc'", 1, "column 1: inline flags such as (?i) are not "
     "supported: spell both cases, e.g. [Aa]"),
    (r"'x\bx'", 2, r"column 2: word boundary \b is not supported"),
    ("'a+?'", 3, "column 3: lazy quantifier +? is not supported"),
    (r"'\p{L}'", 1, r"column 1: Unicode property \p{…} is not supported"),
    ("'a$b'", 2, "column 2: $ is only accepted at the end"),
    ("'[z-a]'", 2, "column 2: reversed range"),
    ("'a{5,2}'", 2, "column 2: repetition {5,2}: the minimum is above "
     "the maximum"),
    # in double quotes, a YAML escape takes two columns
    ('"\\\\d(?<=x)"', 3, "column 3: lookbehind (?<=…) is not supported"),
    # about the whole pattern: the value's own position
    ("'(?:(?:){500}){3}'", 0, "nested repetitions multiply to more than 1000 "
     "copies"),
    ("'.{1000}.'", 0, "too large: its automaton has 1001 positions"),
])
def test_check_refuses_with_column(tmp_path, pattern, col, message):
    r = check(tmp_path, pattern)
    assert r.returncode != 0
    out = r.stdout + r.stderr
    # the value's quote is at line 17, column 39
    escapes = 1 if pattern.startswith('"') and col else 0
    where = "17:%d" % (39 + col + escapes)
    assert f"registry.yaml:{where}: pattern " in out, out
    assert message in out, out


# ---- the collector ---------------------------------------------------------

def test_collector_uses_the_dialect(make_server, tmp_path):
    reg = tmp_path / "reg"
    reg.mkdir()
    (reg / "registry.yaml").write_text(REGISTRY.format(pattern=r"'\d+'"))
    srv = make_server(registry=reg)

    def event(value):
        return {"event_id": 1, "version": 0, "uuid": uuid7(),
                "time": now_rfc3339(), "environment": "bo",
                "source": "test-service", "fields": {"f": value}}
    resp = srv.post_events([event("123"), event("ddd"),
                            event("\u0663\u0664")])
    assert resp.status == 200, resp.raw
    results = resp.json()["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected",
                                              "rejected"], results
    assert results[1]["error"] == r"fields.f: does not match pattern '\d+'"


# ---- differential ----------------------------------------------------------

POOL = ("abcxyzABXZ0129_-.,:;!@#%&=<>/~'\"` \t\n\r\x0b\x0c\x00"
        "\u00e9\u00c9\u65e5\U0001f600\u0663\u00a0\u2028\u0085"
        "[]{}()|*+?^$\\")
PUNCT = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
POSIX = {
    "alnum": lambda c: c.isascii() and c.isalnum(),
    "alpha": lambda c: c.isascii() and c.isalpha(),
    "digit": lambda c: "0" <= c <= "9",
    "lower": lambda c: "a" <= c <= "z",
    "upper": lambda c: "A" <= c <= "Z",
    "space": lambda c: c in " \t\n\r\x0b\x0c",
    "blank": lambda c: c in " \t",
    "punct": lambda c: c in PUNCT,
    "xdigit": lambda c: c in "0123456789abcdefABCDEF",
    "word": lambda c: c.isascii() and (c.isalnum() or c == "_"),
    "print": lambda c: " " <= c <= "~",
    "graph": lambda c: "!" <= c <= "~",
    "cntrl": lambda c: ord(c) < 32 or c == "\x7f",
    "ascii": lambda c: ord(c) < 128,
}
ESC_CLASS = {
    "d": POSIX["digit"], "w": POSIX["word"], "s": POSIX["space"],
}


class Gen:
    """Random patterns of the dialect, each with a sampler of values it
    matches (a model used only to produce likely matches; the verdicts
    compared come from the four engines)."""

    def __init__(self, rnd):
        self.r = rnd

    def literal(self, c):
        r = self.r
        if c in "\\.^$|?*+()[]{}":
            return "\\" + c
        if c in PUNCT and r.random() < 0.2:
            return "\\" + c
        named = {"\t": r"\t", "\n": r"\n", "\r": r"\r", "\x0c": r"\f",
                 "\x0b": r"\v"}
        if c in named:
            return named[c]
        if ord(c) < 32 or r.random() < 0.15:
            k = r.randrange(3)
            if k == 0 and ord(c) < 256:
                return "\\x%02x" % ord(c)
            if k == 1 and ord(c) < 0x10000:
                return "\\u%04X" % ord(c)
            return "\\x{%x}" % ord(c)
        return c

    def cls_char(self, c):
        if c in "\\]-[^":
            return "\\" + c
        return self.literal(c) if c not in "\\.^$|?*+()[]{}" else c

    def leaf(self):
        r = self.r
        k = r.random()
        if k < 0.45:
            c = r.choice(POOL)
            return self.literal(c), (lambda x, c=c: x == c)
        if k < 0.55:
            return ".", (lambda x: x != "\n")
        if k < 0.65:
            e = r.choice("dwsDWS")
            f = ESC_CLASS[e.lower()]
            if e.isupper():
                return "\\" + e, (lambda x, f=f: not f(x))
            return "\\" + e, f
        return self.bracket()

    def bracket(self):
        r = self.r
        items, preds = [], []
        for _ in range(r.randint(1, 4)):
            k = r.random()
            if k < 0.35:
                c = r.choice(POOL)
                items.append(self.cls_char(c))
                preds.append(lambda x, c=c: x == c)
            elif k < 0.6:
                a, b = sorted(r.sample(POOL, 2))
                items.append(self.cls_char(a) + "-" + self.cls_char(b))
                preds.append(lambda x, a=a, b=b: a <= x <= b)
                if r.random() < 0.3:  # a literal - right after a range
                    items.append("-")
                    preds.append(lambda x: x == "-")
            elif k < 0.8:
                name = r.choice(sorted(POSIX))
                items.append("[:%s:]" % name)
                preds.append(POSIX[name])
            else:
                e = r.choice("dwsDWS")
                f = ESC_CLASS[e.lower()]
                items.append("\\" + e)
                preds.append(f if e.islower()
                             else (lambda x, f=f: not f(x)))
        neg = r.random() < 0.25
        dash = r.random() < 0.15
        body = "".join(items)
        if dash:
            body = "-" + body if r.random() < 0.5 else body + "-"
            preds.append(lambda x: x == "-")

        def pred(x):
            return any(p(x) for p in preds) != neg
        return "[" + ("^" if neg else "") + body + "]", pred

    def node(self, depth, reps=0):
        """Returns (source, precedence, sampler); precedence 0 for an
        alternation, 1 for a sequence or a repetition, 2 for an atom."""
        r = self.r
        k = r.random()
        if depth <= 0 or k < 0.35:
            src, pred = self.leaf()
            cands = [c for c in POOL if pred(c)] or ["a"]
            return src, 2, (lambda: r.choice(cands))
        if k < 0.55:
            parts = [self.node(depth - 1, reps)
                     for _ in range(r.randint(2, 3))]
            src = "".join(self.wrap(p, 1) for p in parts)
            return src, 1, (lambda: "".join(p[2]() for p in parts))
        if k < 0.7:
            parts = [self.node(depth - 1, reps)
                     for _ in range(r.randint(2, 3))]
            if r.random() < 0.1:
                parts.append(("", 1, lambda: ""))
            src = "|".join(self.wrap(p, 0) for p in parts)
            return src, 0, (lambda: r.choice(parts)[2]())
        if reps >= 2:  # Python and PHP backtrack: no deeper nesting
            src, pred = self.leaf()
            cands = [c for c in POOL if pred(c)] or ["a"]
            return src, 2, (lambda: r.choice(cands))
        sub = self.node(depth - 1, reps + 1)
        # inside a repetition, only bounded ones (a star in a star costs
        # a backtracking engine exponential time)
        q = r.random() if not reps else 0.4 + 0.6 * r.random()
        if reps and q >= 0.7 and q < 0.85:
            q = 0.6
        if q < 0.2:
            lo, hi, qs = 0, None, "*"
        elif q < 0.4:
            lo, hi, qs = 1, None, "+"
        elif q < 0.55:
            lo, hi, qs = 0, 1, "?"
        elif q < 0.7:
            lo = r.randint(0, 4)
            hi, qs = lo, "{%d}" % lo
        elif q < 0.85:
            lo = r.randint(0, 3)
            hi, qs = None, "{%d,}" % lo
        else:
            lo = r.randint(0, 3)
            hi = lo + r.randint(0, 3)
            qs = "{%d,%d}" % (lo, hi)
        top = hi if hi is not None else lo + 2

        def sample(sub=sub, lo=lo, top=top):
            return "".join(sub[2]() for _ in range(r.randint(lo, top)))
        # a repetition is not an atom: repeating it again needs a group
        return self.wrap(sub, 2) + qs, 1, sample

    def wrap(self, part, need):
        src, prec = part[0], part[1]
        if prec >= need and not (need == 2 and src == ""):
            if need == 2 and self.r.random() < 0.1:
                return "(" + src + ")"
            return src
        k = self.r.random()
        if k < 0.5:
            return "(?:" + src + ")"
        if k < 0.8:
            return "(" + src + ")"
        return "(?P<g%d>" % self.r.randrange(100) + src + ")"

    def pattern(self):
        src, _, sample = self.node(self.r.randint(1, 4))
        if self.r.random() < 0.1:
            src = "^" + src
        if self.r.random() < 0.1:
            src = src + "$"
        return src, sample

    def values(self, sample):
        r = self.r
        vals = []
        for _ in range(3):
            vals.append(sample())
        for v in list(vals):
            if v:
                i = r.randrange(len(v))
                vals.append(v[:i] + v[i + 1:])
                vals.append(v[:i] + r.choice(POOL) + v[i:])
        vals.append("".join(r.choice(POOL) for _ in range(r.randint(0, 6))))
        vals.append("")
        # Python and PHP backtrack: keep values short so a pattern such as
        # (x|.)*y stays cheap for them
        return [v[:MAX_VALUE] for v in vals]


def run_go(cases):
    if not shutil.which("go"):
        pytest.fail("go is not installed")
    env = dict(os.environ, GOFLAGS="-mod=mod", GOWORK="off")
    out = subprocess.run(["go", "run", "."], cwd=HERE / "pattern_diff",
                         input=json.dumps(cases).encode(),
                         capture_output=True, env=env, check=True)
    return json.loads(out.stdout)


def run_php(cases):
    if not shutil.which("php"):
        pytest.fail("php is not installed")
    out = subprocess.run(["php", str(HERE / "pattern_diff" / "match.php")],
                         input=json.dumps(cases).encode(),
                         capture_output=True, check=True)
    return json.loads(out.stdout)


def run_js(cases):
    if not shutil.which("node"):
        pytest.fail("node is not installed")
    out = subprocess.run(["node", str(HERE / "pattern_diff" / "match.mjs")],
                         input=json.dumps(cases).encode(),
                         capture_output=True, check=True)
    return json.loads(out.stdout)


def test_differential_five_engines_agree():
    rnd = random.Random(SEED)
    g = Gen(rnd)
    cases, longs = [], []
    for _ in range(COUNT):
        src, sample = g.pattern()
        cases.append((src, g.values(sample)))
        # long values take the collector's DFA cache (64 bytes and more):
        # compared with Go only, which does not backtrack either
        longs.append((src, ["".join(sample() for _ in range(40)),
                            "".join(rnd.choice(POOL) for _ in range(300))]))
    results = tool(cases + longs)
    results, long_results = results[:COUNT], results[COUNT:]
    ok = [(c, res) for c, res in zip(cases, results) if res["ok"]]
    refused = [(c[0], res["error"]) for c, res in zip(cases, results)
               if not res["ok"]]
    # The generator writes the dialect; only the size limit may refuse.
    wrong = [x for x in refused if "too large" not in x[1]
             and "nested repetitions" not in x[1]]
    assert not wrong, wrong[:10]
    assert len(ok) > COUNT * 0.95
    go = run_go([{"re": res["go"], "v": c[1]} for c, res in ok])
    php = run_php([{"re": res["php"], "v": c[1]} for c, res in ok])
    js = run_js([{"re": res["ts"], "v": c[1]} for c, res in ok])
    mismatches = []
    total = matched = 0
    for i, ((src, vals), res) in enumerate(ok):
        py = re.compile(res["python"])
        for j, v in enumerate(vals):
            verdicts = {
                "collector": res["match"][j],
                "python": py.fullmatch(v) is not None,
                "go": go[i][j] if isinstance(go[i], list) else go[i],
                "php": php[i][j] if isinstance(php[i], list) else php[i],
                "ts": js[i][j] if isinstance(js[i], list) else js[i],
            }
            total += 1
            matched += verdicts["collector"] is True
            if len(set(map(str, verdicts.values()))) != 1:
                mismatches.append((src, v, res, verdicts))
    assert not mismatches, "\n".join(
        f"{m[0]!r} on {m[1]!r}: {m[3]} spelled {m[2]}" for m in
        mismatches[:10])
    long_ok = [(c, r) for c, r in zip(longs, long_results) if r["ok"]]
    go_long = run_go([{"re": r["go"], "v": c[1]} for c, r in long_ok])
    long_bad = [(c[0], c[1][j], r["match"][j], go_long[i][j])
                for i, (c, r) in enumerate(long_ok) for j in range(2)
                if r["match"][j] != go_long[i][j]]
    assert not long_bad, long_bad[:5]
    assert sum(r["match"][0] is True for _, r in long_ok) > len(long_ok) / 10
    # The samplers make matches: the comparison is not all "no".
    assert total > COUNT * 8
    assert matched > total * 0.25, (matched, total)
