"""One encoding in every language: the generated langpacks (bo and front)
and each runtime reproduce every vector in tests/vectors byte for byte."""

import os
import shutil
from pathlib import Path

import pytest

from conftest import EXAMPLES, ROOT, gen, go_env, run, tool

VECTORS = ROOT / "tests" / "vectors"
HERE = Path(__file__).resolve().parent / "vectors"
NAMES = sorted(p.name for p in VECTORS.glob("*.json"))


def check(output):
    lines = output.splitlines()
    assert sorted(line.split(":")[0].split(" ", 1)[1] for line in lines) == NAMES, output
    failed = [line for line in lines if not line.startswith("ok ")]
    assert not failed, "\n".join(failed)


@pytest.fixture
def packs(tmp_path, request):
    lang = request.param
    return lang, {env: gen(EXAMPLES, env, lang, tmp_path / env) for env in ("bo", "front")}


@pytest.mark.parametrize("packs", ["go"], indirect=True)
def test_go_reproduces_vectors(packs, tmp_path):
    _, p = packs
    app = tmp_path / "app"
    app.mkdir()
    (app / "go.mod").write_text(
        "module example.com/vectors\n\ngo 1.22\n\nrequire (\n"
        "\treestr.local/langpack/bo v0.0.0\n\treestr.local/langpack/front v0.0.0\n)\n\n"
        f"replace reestr.local/langpack/bo => {p['bo']}\n\n"
        f"replace reestr.local/langpack/front => {p['front']}\n")
    shutil.copyfile(HERE / "main.go.txt", app / "main.go")
    check(run([tool("go"), "run", ".", str(VECTORS)], cwd=app, env=go_env(tmp_path)).stdout)


@pytest.mark.parametrize("packs", ["python"], indirect=True)
def test_python_reproduces_vectors(packs):
    _, p = packs
    env = dict(os.environ, PYTHONPATH=f"{p['bo']}{os.pathsep}{p['front']}")
    check(run([tool("python3"), str(HERE / "vectors.py"), str(VECTORS)], env=env).stdout)


@pytest.mark.parametrize("packs", ["php"], indirect=True)
def test_php_reproduces_vectors(packs):
    _, p = packs
    check(run([tool("php"), str(HERE / "vectors.php"), str(VECTORS), str(p["bo"]), str(p["front"])]).stdout)
