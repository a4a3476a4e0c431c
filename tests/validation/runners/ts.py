"""The generated TypeScript (JavaScript) checks as a validator: the case
file's langpack (`reestr gen --lang ts`), each case built from its wire
tree by ts_harness.mjs (one Node process per file) and validated."""

import shutil
import subprocess
from pathlib import Path

from runners.langpack import gen, read_results, write_trees

HERE = Path(__file__).resolve().parent


def run(registry: Path, cases: list, work: Path) -> list:
    pack = gen(registry, "ts", work / "ts")
    trees, tree_list = write_trees(cases, work / "trees.json")
    node = shutil.which("node")
    assert node, "node is not installed: run scripts/install-deps"
    proc = subprocess.run([node, str(HERE / "ts_harness.mjs"), str(pack),
                           str(trees)], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    return read_results(proc.stdout, tree_list, registry)
