"""The catalogue's usage examples (docs/catalogue.md, "Examples") are made
from the generated code's own names (src/codegen/example.c and each
gen_*.c), so each must pass its language's checker against the langpack
`reestr gen` makes — `go vet` and `go build`, `mypy --strict`, `php -l`,
`tsc --strict` — and, run against a live collector, send an event it
accepts. Every example of the example registry, every version."""

import importlib.util
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from conftest import EXAMPLES, ROOT, gen, go_env, mypy_strict, run, tool

_spec = importlib.util.spec_from_file_location(
    "integration_support", ROOT / "tests" / "integration" / "conftest.py")
support = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(support)

NODE_BIN = ROOT / "tools" / "node" / "node_modules" / ".bin"
MAKE_RUN = "http://127.0.0.1:8080"  # what the examples send to


@pytest.fixture(scope="module")
def collector(tmp_path_factory):
    server = support.Server(EXAMPLES, tmp_path_factory.mktemp("data"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def examples(collector):
    """[(event, env, lang, version, code)] from GET /v1/catalogue/events/X."""
    index = collector.request("GET", "/v1/catalogue").json()
    out = []
    for ev in index["events"]:
        page = collector.request("GET", f"/v1/catalogue/events/{ev['name']}").json()
        ex = page["examples"]
        if ev["environments"]:
            assert ex and ex["environment"] == ev["environments"][0], ev["name"]
        else:
            assert ex is None
            continue
        for p in ex["programs"]:
            out.append((ev["name"], ex["environment"], p["lang"], p["version"], p["code"]))
    return out


def by_lang(examples, lang):
    return [e for e in examples if e[2] == lang]


def test_every_served_version_has_an_example_in_every_language(examples, collector):
    index = collector.request("GET", "/v1/catalogue").json()
    want = Counter()
    for ev in index["events"]:
        if not ev["environments"]:
            continue
        for v in ev["versions"]:
            if v["status"] != "decommissioned":
                want[(ev["name"], v["number"])] += 4
    got = Counter((e[0], e[3]) for e in examples)
    assert got == want
    assert want, "the example registry has served versions"


@pytest.fixture(scope="module")
def packs(examples, tmp_path_factory):
    base = tmp_path_factory.mktemp("example-packs")
    envs = {e[1] for e in examples}
    return {(env, lang): gen(EXAMPLES, env, lang, base / f"{env}-{lang}")
            for env in envs for lang in ("go", "python", "php", "ts")}


def local(code, url):
    assert MAKE_RUN in code
    return code.replace(MAKE_RUN, url)


def stored(collector):
    return collector.query(
        "SELECT (SELECT count(*) FROM events) AS e, "
        "(SELECT count(*) FROM failed_events) AS f")[0]


def test_go_examples_vet_build_and_send(examples, packs, collector, tmp_path):
    before = stored(collector)
    runs = 0
    for env in sorted({e[1] for e in by_lang(examples, "go")}):
        mod = tmp_path / env
        mod.mkdir()
        (mod / "go.mod").write_text(
            f"module examples.local/{env}\n\ngo 1.22\n\n"
            f"require reestr.local/langpack/{env} v1.0.0\n\n"
            f"replace reestr.local/langpack/{env} => {packs[(env, 'go')]}\n")
        names = []
        for name, e, _, version, code in by_lang(examples, "go"):
            if e != env:
                continue
            d = mod / f"{name}_v{version}"
            d.mkdir()
            (d / "main.go").write_text(local(code, collector.url))
            names.append(d.name)
        genv = go_env(tmp_path)
        run([tool("go"), "vet", "./..."], cwd=mod, env=genv)
        run([tool("go"), "build", "-o", str(mod / "bin") + "/", "./..."], cwd=mod, env=genv)
        for n in names:
            run([str(mod / "bin" / n)])
            runs += 1
    after = stored(collector)
    assert after["e"] - before["e"] == runs and after["f"] == before["f"]


def test_python_examples_pass_mypy_strict_and_send(examples, packs, collector, tmp_path):
    before = stored(collector)
    files = []
    for name, env, _, version, code in by_lang(examples, "python"):
        f = tmp_path / env / f"{name}_v{version}.py"
        f.parent.mkdir(exist_ok=True)
        f.write_text(local(code, collector.url))
        files.append((env, f))
    for env in {e for e, _ in files}:
        mine = [str(f) for e, f in files if e == env]
        checked = subprocess.run(
            mypy_strict(*mine),
            env={"MYPYPATH": str(packs[(env, "python")]), "PATH": "/usr/bin:/bin"},
            capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout
    for env, f in files:
        run([tool("python3"), str(f)], env={
            "PYTHONPATH": str(packs[(env, "python")]), "PATH": "/usr/bin:/bin",
            "PYTHONDONTWRITEBYTECODE": "1"})
    after = stored(collector)
    assert after["e"] - before["e"] == len(files) and after["f"] == before["f"]


def test_php_examples_lint_and_send(examples, packs, collector, tmp_path):
    before = stored(collector)
    n = 0
    for name, env, _, version, code in by_lang(examples, "php"):
        f = tmp_path / f"{name}_v{version}.php"
        f.write_text(local(code, collector.url))
        run([tool("php"), "-l", str(f)])
        # the example's Composer autoloader, without Composer
        src = packs[(env, "php")] / "src"
        prefix = "Reestr\\\\Langpack\\\\" + env.title().replace("_", "") + "\\\\"
        loader = (f"spl_autoload_register(function (string $c): void {{\n"
                  f"    $p = '{prefix}';\n"
                  f"    if (str_starts_with($c, $p)) {{\n"
                  f"        require '{src}/' . str_replace('\\\\', '/', substr($c, strlen($p))) . '.php';\n"
                  f"    }}\n}});")
        text = f.read_text()
        assert "require __DIR__ . '/vendor/autoload.php';" in text
        f.write_text(text.replace("require __DIR__ . '/vendor/autoload.php';", loader))
        proc = subprocess.run([tool("php"), str(f)], capture_output=True, text=True)
        assert proc.returncode == 0, (name, version, proc.stdout + proc.stderr)
        n += 1
    after = stored(collector)
    assert after["e"] - before["e"] == n and after["f"] == before["f"]


def test_ts_examples_pass_tsc_strict_and_send(examples, packs, collector, tmp_path):
    tsc = NODE_BIN / "tsc"
    assert tsc.exists(), f"{tsc} is missing: run scripts/install-deps"
    before = stored(collector)
    files = []
    for env in {e[1] for e in by_lang(examples, "ts")}:
        scope = tmp_path / "node_modules" / "@reestr"
        scope.mkdir(parents=True, exist_ok=True)
        (scope / f"langpack-{env}").symlink_to(packs[(env, "ts")], target_is_directory=True)
    (tmp_path / "package.json").write_text('{"type": "module"}\n')
    for name, env, _, version, code in by_lang(examples, "ts"):
        f = tmp_path / f"{name}_v{version}.ts"
        f.write_text(local(code, collector.url))
        files.append(f)
    run([str(tsc), "--strict", "--exactOptionalPropertyTypes", "--target", "es2022",
         "--module", "es2022", "--moduleResolution", "bundler", "--lib", "es2022,dom",
         "--outDir", str(tmp_path / "js"), *map(str, files)], cwd=tmp_path)
    (tmp_path / "js" / "package.json").write_text('{"type": "module"}\n')
    os.symlink(tmp_path / "node_modules", tmp_path / "js" / "node_modules")
    for f in files:
        run(["node", str(tmp_path / "js" / (f.stem + ".js"))], cwd=tmp_path / "js")
    after = stored(collector)
    assert after["e"] - before["e"] == len(files) and after["f"] == before["f"]


def test_an_example_missing_a_required_field_fails_its_checker(examples, packs, tmp_path):
    """The checks above can fail: drop a required argument from a Python
    example and mypy refuses it."""
    name, env, _, version, code = next(
        e for e in by_lang(examples, "python") if e[0] == "item_click" and e[3] == 1)
    broken = code.replace("    position=1,\n", "")
    assert broken != code
    f = tmp_path / "broken.py"
    f.write_text(broken)
    checked = subprocess.run(
        mypy_strict(f),
        env={"MYPYPATH": str(packs[(env, "python")]), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True)
    assert checked.returncode == 1 and 'Missing named argument "position"' in checked.stdout
