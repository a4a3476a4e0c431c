"""What the Go, Python and PHP runners share: generate the case file's
langpack with `reestr gen`, write the cases as wire trees (wire.py) for the
language's harness, and read its answers back (one JSON line per case:
{"verdict", "path", "message"})."""

import json
import subprocess
from pathlib import Path

from validation_cases import ENVIRONMENT, REESTR, Result

from runners import wire


def gen(registry: Path, lang: str, out: Path) -> Path:
    proc = subprocess.run(
        [REESTR, "gen", "--registry", str(registry), "--env", ENVIRONMENT,
         "--lang", lang, "--out", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, f"reestr gen {lang}: {proc.stderr}"
    return out


def write_trees(cases, path: Path) -> Path:
    """One wire tree per case; a text that is not JSON at all is
    {"t": "error"}: the language's JSON reader refuses the whole input."""
    trees = []
    for c in cases:
        try:
            trees.append(wire.parse(c.fields_bytes()))
        except wire.WireError as e:
            trees.append({"t": "error", "why": str(e)})
    path.write_text(json.dumps(trees))
    return path


def read_results(stdout: str, count: int) -> list:
    out = []
    for line in stdout.splitlines():
        if not line.startswith("{"):
            continue
        r = json.loads(line)
        out.append(Result(r["verdict"], r.get("path"), r.get("message", ""),
                          r.get("request", False)))
    assert len(out) == count, f"harness gave {len(out)} of {count}:\n{stdout}"
    return out
