"""The generated Python checks as a validator: the case file's langpack
(`reestr gen --lang python`), each case built from its wire tree by
python_harness.py (one process per file) and validated."""

import os
import subprocess
import sys
from pathlib import Path

from runners.langpack import gen, read_results, write_trees

HERE = Path(__file__).resolve().parent


def run(registry: Path, cases: list, work: Path) -> list:
    pack = gen(registry, "python", work / "python")
    trees, tree_list = write_trees(cases, work / "trees.json")
    proc = subprocess.run(
        [sys.executable, str(HERE / "python_harness.py"), "reestr_bo",
         str(trees)], capture_output=True, text=True,
        env=dict(os.environ, PYTHONPATH=str(pack)), timeout=600)
    assert proc.returncode == 0, proc.stderr
    return read_results(proc.stdout, tree_list, registry)
