"""The generated Go checks as a validator: the case file's langpack
(`reestr gen --lang go`) and go_harness.go.txt built together, one `go
run` per file, each case set through the generated setters and checked
with Validate()."""

import os
import shutil
import subprocess
from pathlib import Path

from runners.langpack import gen, read_results, write_trees

HERE = Path(__file__).resolve().parent


def run(registry: Path, cases: list, work: Path) -> list:
    pack = gen(registry, "go", work / "go")
    trees, tree_list = write_trees(cases, work / "trees.json")
    app = work / "app"
    app.mkdir(exist_ok=True)
    (app / "go.mod").write_text(
        "module example.com/validation\n\ngo 1.22\n\n"
        "require reestr.local/langpack/bo v0.0.0\n\n"
        f"replace reestr.local/langpack/bo => {pack}\n")
    shutil.copyfile(HERE / "go_harness.go.txt", app / "main.go")
    env = dict(os.environ)
    env.setdefault("GOFLAGS", "-mod=mod")
    # one build cache for every case file of the session
    env.setdefault("GOCACHE", str(work.parent / "gocache"))
    env.setdefault("GOPATH", str(work.parent / "gopath"))
    go = shutil.which("go") or "go"
    proc = subprocess.run([go, "run", ".", str(trees)], cwd=app, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return read_results(proc.stdout, tree_list, registry)
