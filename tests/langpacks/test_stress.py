"""Whatever `reestr check` accepts must generate, build and serve (issue 10,
point 4), tried on the seeded stress registry of stress_registry.py (520
events, long and keyword names, Go-suffixed names, every type and
constraint, hundreds of patterns): `check`, `publish`, `gen` for every
language and environment; gofmt, go build, go vet; mypy --strict and
pycodestyle; php -l and phpcs PSR-12; `serve` starts and serves every
langpack archive (the tar, the Go module zip, the Python wheel, the Composer
zip); and one valid instance of every live event version, sent from each
language's generated code, is accepted and lands in its typed view.

Timings of each step are printed at the end of the module (stderr)."""

import io
import json
import os
import re
import sys
import tarfile
import time
import urllib.request
import zipfile
from contextlib import contextmanager
from pathlib import Path

import pytest

import stress_registry
from conftest import REESTR, ROOT, go_env, run, tool
from test_native_packages import fetch, support

LANGS = ["go", "python", "php"]
HERE = Path(__file__).resolve().parent / "stress"
TIMES = {}
# Each language's UUIDs differ in the fourth group (variant 8).
UUID_LANG = {"collector": "8000", "go": "8100", "python": "8200", "php": "8300"}


@contextmanager
def timed(label):
    start = time.monotonic()
    try:
        yield
    finally:
        TIMES[label] = time.monotonic() - start


@pytest.fixture(scope="module", autouse=True)
def report_times():
    yield
    if TIMES:
        width = max(map(len, TIMES))
        lines = [f"  {k:<{width}}  {v:7.2f} s" for k, v in TIMES.items()]
        sys.__stderr__.write("\nstress registry timings:\n" + "\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def stress(tmp_path_factory):
    base = tmp_path_factory.mktemp("stress")
    with timed("write registry"):
        reg = stress_registry.write(base / "registry")
    return reg


@pytest.fixture(scope="module")
def checked(stress):
    """`reestr check` then `reestr publish` on the stress registry."""
    with timed("reestr check"):
        proc = run([REESTR, "check", str(stress.path)])
    versions = sum(1 for _ in stress.versions())
    assert f"{len(stress.events)} events, {versions} event versions" in proc.stdout, proc.stdout
    with timed("reestr publish"):
        run([REESTR, "publish", str(stress.path)])
    assert (stress.path / "registry.lock").exists()
    return stress


@pytest.fixture(scope="module")
def packs(checked, tmp_path_factory):
    """The `bo` langpack (every event) in each language, and every other
    environment generated too."""
    base = tmp_path_factory.mktemp("packs")
    out = {}
    for lang in LANGS:
        for env in checked.environments:
            with timed(f"gen {lang} {env[:20]}"):
                run([REESTR, "gen", "--registry", str(checked.path), "--env", env,
                     "--lang", lang, "--out", str(base / lang / env)])
        out[lang] = base / lang / "bo"
    return out


@pytest.fixture(scope="module")
def gocache(tmp_path_factory):
    return go_env(tmp_path_factory.mktemp("go"))


def test_registry_size(stress):
    """The registry is the size issue 10 asks for."""
    versions = list(stress.versions())
    names = [e[0] for e in stress.events]
    assert len(stress.events) >= 500
    assert len(stress.patterns) >= 300
    assert max(map(len, names)) == stress_registry.NAME_MAX
    for suffix in ["test", "linux", "arm64", "windows", "js", "wasm"]:
        assert any(n.endswith("_" + suffix) for n in names), suffix
    assert sum(1 for e in stress.events if len(e[3]) > 1) > 50
    assert len(versions) > 1000


def test_long_nested_names_generate_in_every_language(tmp_path):
    """Inline objects and enums are named after their owner and field, so
    nesting 64-character names makes type names of hundreds of characters;
    PHP writes a file per class. Each stays under 256 bytes, two names that
    share their first 100 characters stay apart, and the code compiles."""
    reg = tmp_path / "registry"
    reg.mkdir()
    a, b = "a" * 60 + "_one", "a" * 60 + "_two"
    inner = f"{{type: object, fields: {{{a}: int, {b}: {{type: enum, values: [x]}}}}}}"
    for _ in range(3):
        inner = f"{{type: object, fields: {{{a}: {inner}, {b}: int}}}}"
    (reg / "r.yaml").write_text(
        "owners: {team: {contact: a@example.com}}\nsources: {svc: {owner: team}}\n"
        f"environments: {{bo: {{events: [{a}]}}}}\nevents:\n  {a}:\n    id: 1\n    owner: team\n"
        f"    versions:\n      - version: 0\n        fields:\n          {a}: {inner}\n          {b}: {inner}\n")
    for lang in LANGS:
        out = tmp_path / lang
        run([REESTR, "gen", "--registry", str(reg), "--env", "bo", "--lang", lang, "--out", str(out)])
        longest = max(len(p.name.encode()) for p in out.rglob("*"))
        assert longest <= 255, (lang, longest)
    classes = [p.stem for p in (tmp_path / "php" / "src").glob("*.php")]
    cut = [c for c in classes if len(c) == 100 and re.search("H[0-9A-F]{8}", c)]
    assert len(cut) >= 6 and len(set(c.lower() for c in classes)) == len(classes), classes
    run([tool("php"), "-d", "opcache.enable_cli=1", str(HERE / "lint.php"), str(tmp_path / "php" / "src")])
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "python"))
    run([sys.executable, "-c", "import reestr_bo"], env=env)


def test_python_fields_named_like_what_init_calls(tmp_path):
    """__init__ takes the fields as keyword arguments and calls super() and,
    for a deprecated version, warnings.warn: fields named super or warnings
    must not hide them (docs/langpacks.md, "Names")."""
    reg = tmp_path / "registry"
    reg.mkdir()
    (reg / "r.yaml").write_text(
        "owners: {team: {contact: a@example.com}}\nsources: {svc: {owner: team}}\n"
        "environments: {bo: {events: [old]}}\nevents:\n  old:\n    id: 1\n    owner: team\n"
        "    status: deprecated\n    versions:\n      - version: 0\n        fields:\n"
        "          super: string\n          warnings: int\n")
    out = tmp_path / "python"
    run([REESTR, "gen", "--registry", str(reg), "--env", "bo", "--lang", "python", "--out", str(out)])
    script = ("import warnings\nimport reestr_bo as p\nwarnings.simplefilter('ignore')\n"
              "e = p.OldV0(super_='s', warnings_=2)\ne.validate()\n"
              "assert (e.super_, e.warnings_) == ('s', 2)\n")
    run([sys.executable, "-c", script], env=dict(os.environ, PYTHONPATH=str(out)))
    run([tool("mypy"), "--strict", "--no-incremental", "--cache-dir=/dev/null", "reestr_bo"], cwd=out)


def test_python_enum_members_pep8_allows(tmp_path):
    """Enum members are the values in upper case, but I and O are names
    pycodestyle refuses (E741): the values i and o give I_ and O_."""
    reg = tmp_path / "registry"
    reg.mkdir()
    (reg / "r.yaml").write_text(
        "owners: {team: {contact: a@example.com}}\nsources: {svc: {owner: team}}\n"
        "environments: {bo: {events: [ev]}}\nevents:\n  ev:\n    id: 1\n    owner: team\n"
        "    versions:\n      - version: 0\n        fields:\n"
        "          kind: {type: enum, values: [i, o, l, x, io]}\n")
    out = tmp_path / "python"
    run([REESTR, "gen", "--registry", str(reg), "--env", "bo", "--lang", "python", "--out", str(out)])
    run([tool("pycodestyle"), "reestr_bo/events.py"], cwd=out)
    script = ("import reestr_bo as p\nk = p.EvV0Kind\n"
              "assert [k.I_.value, k.O_.value, k.L.value, k.IO.value] == ['i', 'o', 'l', 'io']\n"
              "p.EvV0(kind=k.I_).validate()\n")
    run([sys.executable, "-c", script], env=dict(os.environ, PYTHONPATH=str(out)))


def test_go_is_formatted_builds_and_vets(packs, gocache):
    out = packs["go"]
    with timed("gofmt -l"):
        unformatted = run([tool("gofmt"), "-l", "."], cwd=out).stdout.split()
    assert unformatted == [], f"{len(unformatted)} files not gofmt-clean: {unformatted[:5]}"
    with timed("go build"):
        run([tool("go"), "build", "./..."], cwd=out, env=gocache, timeout=1200)
    with timed("go vet"):
        run([tool("go"), "vet", "./..."], cwd=out, env=gocache, timeout=1200)


def test_python_passes_mypy_strict_and_pycodestyle(packs):
    out = packs["python"]
    with timed("pycodestyle"):
        run([tool("pycodestyle"), "--exclude=runtime", "reestr_bo"], cwd=out, timeout=1200)
    with timed("mypy --strict"):
        run([tool("mypy"), "--strict", "--no-incremental", "--cache-dir=/dev/null",
             "reestr_bo"], cwd=out, timeout=1800)


def test_php_lints_and_follows_psr12(packs):
    out = packs["php"]
    files = sorted((out / "src").rglob("*.php"))
    # php -l compiles one file per process; opcache_compile_file is the same
    # compile (syntax and compile-time errors) for thousands of files at once.
    with timed(f"php -l ({len(files)} files)"):
        run([tool("php"), "-d", "opcache.enable_cli=1", "-d", "memory_limit=4G",
             str(HERE / "lint.php"), str(out / "src")])
    with timed("phpcs PSR-12"):
        run([tool("phpcs"), "--standard=PSR12", "-n", "--parallel=2", "src"], cwd=out, timeout=1800)


@pytest.fixture(scope="module")
def server(checked, tmp_path_factory):
    data = tmp_path_factory.mktemp("serve") / "data"
    with timed("reestr serve start"):
        s = support.Server(checked.path, data).start()
    yield s
    s.stop()


def _archive_names(body, kind):
    if kind == "tar":
        with tarfile.open(fileobj=io.BytesIO(body)) as t:
            return [m.name for m in t.getmembers() if m.isfile()]
    with zipfile.ZipFile(io.BytesIO(body)) as z:
        assert z.testzip() is None
        return [n for n in z.namelist() if not n.endswith("/")]


def _files(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_serve_serves_every_archive(server, packs, checked):
    """Every environment's tar in every language, and the native packages of
    `bo`, hold the files `reestr gen` writes."""
    for lang in LANGS:
        for env in checked.environments:
            with timed(f"fetch {lang} tar {env[:12]}"):
                status, body = fetch(f"{server.url}/langpack/{lang}/0/",
                                     json.dumps({"environment": env}).encode())
            assert status == 200, body[:300]
            names = _archive_names(body, "tar")
            if env == "bo":
                assert sorted(names) == _files(packs[lang]), lang
            else:
                assert names, (lang, env)
    # Go module proxy zip: files under module@version/
    status, body = fetch(f"{server.url}/go/reestr.local/langpack/bo/@v/v0.0.0.zip")
    assert status == 200, body[:300]
    names = _archive_names(body, "zip")
    prefix = "reestr.local/langpack/bo@v0.0.0/"
    assert all(n.startswith(prefix) for n in names)
    assert {n[len(prefix):] for n in names} >= {f for f in _files(packs["go"]) if f.endswith(".go")}
    # Python wheel from the simple index
    status, index = fetch(f"{server.url}/pypi/simple/reestr-langpack-bo/")
    assert status == 200, index[:300]
    href = index.decode().split('href="', 1)[1].split('"', 1)[0].split("#", 1)[0]
    url = href if href.startswith("http") else server.url + href
    with urllib.request.urlopen(url, timeout=60) as r:
        names = _archive_names(r.read(), "zip")
    assert {f for f in _files(packs["python"]) if f.endswith(".py")} <= set(names)
    # Composer: the dist zip named by packages.json
    status, body = fetch(f"{server.url}/composer/packages.json")
    assert status == 200, body[:300]
    dists = [v["dist"]["url"] for p in json.loads(body)["packages"].values() for v in p.values()
             if "/bo/" in v["dist"]["url"]]
    assert dists, body[:300]
    with urllib.request.urlopen(dists[0], timeout=60) as r:
        names = _archive_names(r.read(), "zip")
    assert any(n.endswith("src/Langpack.php") for n in names)
    assert len([n for n in names if n.endswith(".php")]) == len(
        [f for f in _files(packs["php"]) if f.endswith(".php")])


def test_collector_accepts_every_instance(server, checked):
    """The instances the generator makes are valid for the collector itself,
    posted as JSON (so a failure of a language below is that language's)."""
    instances = _instances(checked, "collector")
    rejected = []
    with timed(f"POST {len(instances)} events"):
        for start in range(0, len(instances), 200):
            chunk = instances[start:start + 200]
            body = {"events": [
                {"event_id": i["event_id"], "version": i["version"], "uuid": i["uuid"],
                 "time": "2026-11-30T12:00:00Z", "environment": "bo", "source": "stress-service",
                 "fields": i["fields"]} for i in chunk]}
            status, answer = fetch(f"{server.url}/v1/events", json.dumps(body).encode())
            assert status == 200, answer[:500]
            for i, r in zip(chunk, json.loads(answer)["results"]):
                if r["status"] != "accepted":
                    rejected.append(f'{i["name"]} v{i["version"]}: {r}')
    assert not rejected, f"{len(rejected)} rejected:\n" + "\n".join(rejected[:20])
    missing = _landed(server, checked, instances)
    assert not missing, f"{len(missing)} not in their typed view: {missing[:5]}"


def _instances(reg, lang):
    """One valid instance of every live version, with this language's UUIDs."""
    out = []
    for i, (name, eid, v, fields, live) in enumerate(reg.versions()):
        if not live:
            continue
        out.append({"event_id": eid, "version": v, "name": name,
                    "uuid": f"0192f0c4-8b7a-7cde-{UUID_LANG[lang]}-{i:012x}",
                    "fields": stress_registry.instance(reg, fields, seed=i)})
    return out


def _landed(server, reg, instances):
    """The instances missing from their typed views."""
    missing = []
    want = [(f'{i["name"]}_v{i["version"]}', i["uuid"]) for i in instances]
    for start in range(0, len(want), 400):  # SQLite allows 500 SELECTs in a compound
        chunk = want[start:start + 400]
        sql = " UNION ALL ".join(
            f"SELECT '{view}' AS v, uuid FROM \"{view}\" WHERE uuid = '{uuid}'"
            for view, uuid in chunk)
        got = {(r["v"], r["uuid"]) for r in server.query(sql)}
        missing += [w for w in chunk if w not in got]
    return missing


def _send(lang, server, reg, packs, gocache, tmp_path):
    instances = _instances(reg, lang)
    path = tmp_path / "instances.json"
    path.write_text(json.dumps(instances))
    if lang == "go":
        app = tmp_path / "app"
        app.mkdir()
        (app / "go.mod").write_text(
            "module example.com/stress\n\ngo 1.22\n\nrequire reestr.local/langpack/bo v0.0.0\n\n"
            f"replace reestr.local/langpack/bo => {packs['go']}\n")
        (app / "main.go").write_text((HERE / "send.go.txt").read_text())
        with timed("go build sender"):
            run([tool("go"), "build", "-o", "send", "."], cwd=app, env=gocache, timeout=1200)
        cmd, env = [str(app / "send"), str(path), server.url], None
    elif lang == "python":
        cmd = [sys.executable, str(HERE / "send.py"), str(path), server.url]
        env = dict(os.environ, PYTHONPATH=str(packs["python"]))
    else:
        cmd, env = [tool("php"), "-d", "memory_limit=2G", str(HERE / "send.php"),
                    str(path), server.url, str(packs["php"])], None
    with timed(f"send {len(instances)} events from {lang}"):
        proc = run(cmd, env=env, timeout=600)
    assert f"sent {len(instances)} delivered {len(instances)}" in proc.stdout, proc.stdout[-3000:]
    with timed(f"query typed views ({lang})"):
        missing = _landed(server, reg, instances)
    assert not missing, f"{len(missing)} not in their typed view: {missing[:5]}"


@pytest.mark.parametrize("lang", LANGS)
def test_every_version_round_trips(lang, server, checked, packs, gocache, tmp_path):
    _send(lang, server, checked, packs, gocache, tmp_path)
