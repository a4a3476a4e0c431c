"""The generated PHP checks as a validator: the case file's langpack
(`reestr gen --lang php`), each case built from its wire tree by
php_harness.php (one process per file) and validated."""

import shutil
import subprocess
from pathlib import Path

from runners.langpack import gen, read_results, write_trees

HERE = Path(__file__).resolve().parent


def run(registry: Path, cases: list, work: Path) -> list:
    pack = gen(registry, "php", work / "php")
    trees, tree_list = write_trees(cases, work / "trees.json")
    php = shutil.which("php") or "php"
    proc = subprocess.run([php, str(HERE / "php_harness.php"), str(pack),
                           str(trees)], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    return read_results(proc.stdout, tree_list, registry)
