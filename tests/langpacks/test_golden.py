"""Golden files pin the generated code for examples/registry (env bo).
UPDATE_GOLDEN=1 rewrites them from the current generator."""

import filecmp
import os
import shutil
from pathlib import Path

import pytest

from conftest import EXAMPLES, LANGS, ROOT, RUNTIME_DIRS, gen

GOLDEN = ROOT / "tests" / "golden"
RUNTIME_SOURCES = {
    "go": ROOT / "runtimes" / "go",
    "python": ROOT / "runtimes" / "python" / "reestr_runtime",
    "php": ROOT / "runtimes" / "php" / "src",
}


def generated_files(root, lang):
    """Every generated file, without the runtime copied in verbatim."""
    skip = root / RUNTIME_DIRS[lang]
    return sorted(p.relative_to(root) for p in root.rglob("*")
                  if p.is_file() and skip not in p.parents)


@pytest.mark.parametrize("lang", LANGS)
def test_generated_code_matches_golden(lang, tmp_path):
    out = gen(EXAMPLES, "bo", lang, tmp_path / lang)  # fresh: no tool's droppings
    golden = GOLDEN / lang
    files = generated_files(out, lang)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        shutil.rmtree(golden, ignore_errors=True)
        for rel in files:
            (golden / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(out / rel, golden / rel)
    want = sorted(p.relative_to(golden) for p in golden.rglob("*") if p.is_file())
    assert files == want, "the set of generated files changed (UPDATE_GOLDEN=1 refreshes)"
    changed = [str(rel) for rel in files
               if not filecmp.cmp(out / rel, golden / rel, shallow=False)]
    assert not changed, f"generated code differs from tests/golden/{lang}: {changed} (UPDATE_GOLDEN=1 refreshes)"


@pytest.mark.parametrize("lang", LANGS)
def test_runtime_is_shipped_verbatim(lang, example_langpacks):
    out = example_langpacks[lang] / RUNTIME_DIRS[lang]
    src = RUNTIME_SOURCES[lang]
    shipped = sorted(p.name for p in out.iterdir())
    if lang == "go":
        expected = sorted(p.name for p in src.glob("*.go") if not p.name.endswith("_test.go"))
    elif lang == "python":
        expected = sorted([p.name for p in src.glob("*.py")] + ["py.typed"])
    else:
        expected = sorted(p.name for p in src.glob("*.php"))
    assert shipped == expected
    for name in shipped:
        data = (src / name).read_bytes()
        if lang == "php":
            data = data.replace(b"Reestr\\Runtime", b"Reestr\\Langpack\\Bo\\Runtime")
        assert (out / name).read_bytes() == data, name
