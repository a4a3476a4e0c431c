"""Shared fixtures for langpack tests: generate a langpack with the real
`reestr gen`, and find each language's tools (a missing one fails loudly:
scripts/install-deps installs them all)."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REESTR = os.environ.get("REESTR_BIN", str(ROOT / "build" / "reestr"))
EXAMPLES = ROOT / "examples" / "registry"
VENV_BIN = Path(os.environ.get("REESTR_VENV", ROOT / ".venv")) / "bin"
LANGS = ["go", "python", "php"]
# Where each langpack keeps its copy of the runtime.
RUNTIME_DIRS = {"go": "reestr", "python": "reestr_bo/runtime", "php": "src/Runtime"}


def tool(name):
    for candidate in (VENV_BIN / name, shutil.which(name)):
        if candidate and Path(candidate).exists():
            return str(candidate)
    raise AssertionError(f"{name} is not installed: run scripts/install-deps")


def mypy_strict(*args):
    """mypy --strict over args: with the run's cache when scripts/test-all
    gives one (MYPY_CACHE_DIR, made empty at the run's start: the standard
    library's stubs are checked once, not once per call; the cache is keyed
    by each file's path and hash, so langpacks of one module name in other
    folders are checked afresh), else without a cache."""
    cache = os.environ.get("MYPY_CACHE_DIR")
    flags = [f"--cache-dir={cache}"] if cache else \
        ["--no-incremental", "--cache-dir=/dev/null"]
    return [tool("mypy"), "--strict", *flags, *map(str, args)]


def gen(registry, env, lang, out, *extra):
    proc = subprocess.run(
        [REESTR, "gen", "--registry", str(registry), "--env", env,
         "--lang", lang, "--out", str(out), *extra],
        capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return Path(out)


def run(cmd, cwd=None, env=None, timeout=600):
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=timeout)
    assert proc.returncode == 0, \
        f"{' '.join(map(str, cmd))} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def php_lint(folder):
    """`php -l` of every .php file under folder, in one PHP process
    (stress/lint.php: opcache_compile_file reports the errors `php -l`
    does, without a process per file); fails unless every file was read."""
    files = sum(1 for _ in Path(folder).rglob("*.php"))
    assert files, f"no .php file under {folder}"
    out = run([tool("php"), "-d", "opcache.enable_cli=1", "-d", "memory_limit=2G",
               str(Path(__file__).parent / "stress" / "lint.php"), str(folder)]).stdout
    assert f"{files} files compile" in out, out


def go_env(tmp):
    """Go builds offline-capable and away from the user's caches: a module
    cache (GOPATH) per test, since tests serve different langpacks under
    the same module version; the build cache is content-addressed, so one
    is shared by the run when GOCACHE is set (scripts/test-all sets it, in
    the build folder: a clean clone compiles the standard library once,
    not once per test)."""
    env = dict(os.environ)
    env.setdefault("GOFLAGS", "-mod=mod")
    env["GOCACHE"] = env.get("GOCACHE", str(Path(tmp) / "gocache"))
    env["GOPATH"] = env.get("GOPATH", str(Path(tmp) / "gopath"))
    return env


@pytest.fixture(scope="session")
def example_langpacks(tmp_path_factory):
    """The example registry's `bo` langpack in each language."""
    base = tmp_path_factory.mktemp("langpacks")
    return {lang: gen(EXAMPLES, "bo", lang, base / lang) for lang in LANGS}
