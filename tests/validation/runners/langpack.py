"""What the Go, Python and PHP runners share: generate the case file's
langpack with `reestr gen`, write the cases as wire trees (wire.py) for the
language's harness, and read its answers back.

A harness prints one JSON line per case: the generated validation's answer
(verdict, path, message) and "deferred", what its decode step refused (a
value the language's types cannot hold, an unknown or repeated member), in
document order. The decode step does not stop at the first refusal: it
leaves that value unset and goes on, so the generated checks still run.
The answer is then the first of them in the order the collector walks an
event (README.md): text that is not UTF-8 first (the collector finds it
while reading the JSON), then the fields in registry order, an object's
unknown or repeated members before its fields, a list's own checks before
its elements."""

import base64
import json
import re
import subprocess
from pathlib import Path

from validation_cases import ENVIRONMENT, EVENT_NAME, REESTR, Result

from runners import wire


def gen(registry: Path, lang: str, out: Path) -> Path:
    proc = subprocess.run(
        [REESTR, "gen", "--registry", str(registry), "--env", ENVIRONMENT,
         "--lang", lang, "--out", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, f"reestr gen {lang}: {proc.stderr}"
    return out


def write_trees(cases, path: Path):
    """One wire tree per case; a text that is not JSON at all is
    {"t": "error"}: the language's JSON reader refuses the whole input.
    Returns the path and the trees."""
    trees = []
    for c in cases:
        try:
            trees.append(wire.parse(c.fields_bytes()))
        except wire.WireError as e:
            trees.append({"t": "error", "why": str(e)})
    path.write_text(json.dumps(trees))
    return path, trees


def bad_text(tree, path="fields"):
    """The path of the first string (document order) that is not UTF-8."""
    t = tree["t"]
    if t == "str":
        try:
            base64.b64decode(tree["b"]).decode("utf-8")
        except UnicodeDecodeError:
            return path
    elif t == "arr":
        for i, x in enumerate(tree["v"]):
            found = bad_text(x, f"{path}[{i}]")
            if found:
                return found
    elif t == "obj":
        for k, v in tree["m"]:
            found = bad_text(v, f"{path}.{k}")
            if found:
                return found
    return None


_SEGMENT = re.compile(r"\.([^.\[]+)|\[([0-9]+)\]")


class Walk:
    """The order in which the collector checks the paths of an event."""

    def __init__(self, registry: Path):
        doc = json.loads((registry / "registry.yaml").read_text())
        self.fields = doc["events"][EVENT_NAME]["versions"][0]["fields"]
        self.objects = doc.get("objects", {})

    def _level(self, spec):
        """The fields (a dict) or the item spec (a list's) under spec."""
        if isinstance(spec, str):
            return self.objects.get(spec, {}).get("fields")
        kind = spec.get("type")
        if kind == "object":
            return spec.get("fields")
        if kind == "array":
            return ("items", spec.get("items"))
        if kind in self.objects:
            return self.objects[kind].get("fields")
        return None

    def key(self, path: str):
        out = []
        level = self.fields
        for name, index in _SEGMENT.findall(path[len("fields"):]):
            if index:
                out.append(int(index))
                level = self._level(level[1]) \
                    if isinstance(level, tuple) and level[1] else None
            elif isinstance(level, dict) and name in level:
                out.append(list(level).index(name))
                level = self._level(level[name])
            else:
                out.append(-1)  # unknown: found before the fields
                level = None
        return out


def read_results(stdout: str, trees, registry: Path) -> list:
    walk = Walk(registry)
    lines = [json.loads(line) for line in stdout.splitlines()
             if line.startswith("{")]
    assert len(lines) == len(trees), \
        f"harness gave {len(lines)} of {len(trees)}:\n{stdout}"
    out = []
    for r, tree in zip(lines, trees):
        if r.get("request"):
            out.append(Result("reject", None, r["message"], True))
            continue
        # the decode step's refusals win a tie: the generated check saw
        # the value left unset
        found = [(walk.key(p), 0, p, m) for p, m in r.get("deferred", [])]
        if r["verdict"] == "reject":
            found.append((walk.key(r["path"] or "fields"), 1, r["path"],
                          r["message"]))
        best = min(found, key=lambda f: (f[0], f[1])) if found else None
        first = bad_text(tree)
        if first and (not best or best[2] != first):
            # a JSON reader of the language refuses it before any check
            best = (None, 0, first, "invalid UTF-8 in string")
        if not best:
            out.append(Result("accept", None, ""))
            continue
        out.append(Result("reject", best[2], best[3]))
    return out
