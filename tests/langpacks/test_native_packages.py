"""Langpacks delivered the way each language installs code (issue 4):
versions that grow only when the content changes and stay downloadable byte
for byte, the talk's `curl … | tar x`, and the real clients — `go get`
through the module proxy, `pip install` from the PEP 503 index, `composer
require` from the Composer repository — against a live `reestr serve`, with
the events they send arriving in the store."""

import importlib.util
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import EXAMPLES, ROOT, go_env, run, tool

_spec = importlib.util.spec_from_file_location(
    "integration_support", ROOT / "tests" / "integration" / "conftest.py")
support = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(support)

LANGS = ["go", "python", "php"]


def fetch(url, body=None):
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def versions(server, lang, env="bo"):
    status, body = fetch(f"{server.url}/langpack/{lang}/versions?environment={env}")
    assert status == 200, body
    return json.loads(body)


def tarball(server, lang, version, env="bo"):
    status, body = fetch(f"{server.url}/langpack/{lang}/{version}/",
                         json.dumps({"environment": env}).encode())
    assert status == 200, body
    return body


@pytest.fixture
def registry(tmp_path):
    reg = tmp_path / "registry"
    shutil.copytree(EXAMPLES, reg)
    return reg


def test_versions_grow_only_when_content_changes(registry, tmp_path):
    data = tmp_path / "data"
    server = support.Server(registry, data).start()
    try:
        first = {lang: versions(server, lang) for lang in LANGS}
        v0 = {lang: tarball(server, lang, 0) for lang in LANGS}
        assert tarball(server, "go", 0) == v0["go"], "two downloads are the same bytes"
    finally:
        server.stop()
    for lang in LANGS:
        assert [v["langpack_version"] for v in first[lang]["versions"]] == [0]
    assert first["go"]["package"] == "reestr.local/langpack/bo"
    assert first["python"]["package"] == "reestr-langpack-bo"
    assert first["php"]["package"] == "reestr/langpack-bo"
    # the generated API's major is 1 (required fields are constructor
    # parameters): langpack version N is 1.N.0
    assert first["go"]["versions"][0]["native_version"] == "v1.0.0"
    assert first["python"]["versions"][0]["native_version"] == "1.0.0"
    assert first["php"]["versions"][0]["native_version"] == "1.0.0"

    # restarted on the same registry: nothing new
    server = support.Server(registry, data).start()
    try:
        assert versions(server, "go")["versions"] == first["go"]["versions"]
    finally:
        server.stop()

    # a new version of an event in `bo` (and not in `front`)
    path = registry / "events" / "clickstream_event.yaml"
    path.write_text(path.read_text() + (
        "      - version: 1\n        fields:\n          user: user\n"
        "          user_agent: {type: string, max_length: 1024}\n"))
    server = support.Server(registry, data).start()
    try:
        for lang in LANGS:
            listed = versions(server, lang)["versions"]
            assert [v["langpack_version"] for v in listed] == [0, 1], lang
            assert tarball(server, lang, 0) == v0[lang], f"{lang} v0 changed"
            assert tarball(server, lang, "latest") == tarball(server, lang, 1)
        front = versions(server, "go", "front")["versions"]
        assert [v["langpack_version"] for v in front] == [0], "front did not change"
    finally:
        server.stop()


def test_unknown_language_environment_or_version_is_404(registry, tmp_path):
    server = support.Server(registry, tmp_path / "data").start()
    try:
        # under /langpack/: plain text that says what exists and what works
        for url, body, lines in [
                ("/langpack/cobol/0/", {"environment": "bo"},
                 ["reestr: no langpacks for language 'cobol'",
                  "known languages: go, python, php, ts"]),
                ("/langpack/go/0/", {"environment": "nope"},
                 ["reestr: no environment 'nope'", "known environments: bo, front, mobile, partners"]),
                ("/langpack/python/versions?environment=nope", None,
                 ["reestr: no environment 'nope'", "known environments: bo, front, mobile, partners"]),
                ("/langpack/go/7/", {"environment": "bo"},
                 ["reestr: no version 7 of the go langpack of bo",
                  "known versions: 0, or latest"])]:
            status, answer = fetch(server.url + url, json.dumps(body).encode() if body else None)
            assert status == 404, url
            text = answer.decode().splitlines()
            assert text[:2] == lines, answer
            assert text[2].startswith("try: curl -fsS -d '{\"environment\":\""), answer
            assert text[2].endswith("/latest/ | tar x"), answer
        for url, text in [
                ("/go/reestr.local/langpack/bo/@v/v0.9.0.info", "not found"),
                ("/pypi/simple/nothing/", "not found"),
                # version 0 is 1.0.0 (major 1): its 0.0.0 spelling is unknown
                ("/go/reestr.local/langpack/bo/@v/v0.0.0.info", "not found"),
                ("/pypi/files/reestr_langpack_bo-0.0.0-py3-none-any.whl", "not found"),
                ("/composer/dist/bo/0.9.0.zip", "not found"),
                ("/composer/dist/bo/0.0.0.zip", "not found")]:
            status, answer = fetch(server.url + url)
            assert status == 404, url
            assert text in json.loads(answer)["error"], answer
    finally:
        server.stop()


OLD_SCHEMA = """
CREATE TABLE langpack_versions(
 lang TEXT NOT NULL, environment TEXT NOT NULL,
 version INTEGER NOT NULL, content_sha256 TEXT NOT NULL,
 created_at TEXT NOT NULL,
 PRIMARY KEY(lang, environment, version));
CREATE TABLE langpack_artifacts(
 lang TEXT NOT NULL, environment TEXT NOT NULL,
 version INTEGER NOT NULL, kind TEXT NOT NULL, data BLOB NOT NULL,
 PRIMARY KEY(lang, environment, version, kind));
"""


def test_versions_made_before_major_1_stay_0x_byte_for_byte(registry, tmp_path):
    """A langpacks.db from before the required-fields API (no `major`
    column, every version 0.N.0) keeps serving its versions as 0.N.0, with
    the same bytes, in every protocol; the new generator's content makes
    the next version, as 1.N.0, once."""
    data = tmp_path / "data"
    data.mkdir()
    old = {lang: {kind: f"old {lang} {kind}".encode() for kind in ("tar", "native")}
           for lang in LANGS}
    db = sqlite3.connect(data / "langpacks.db")
    db.executescript(OLD_SCHEMA)
    for lang in LANGS:
        for env in ("bo", "front"):
            db.execute("INSERT INTO langpack_versions VALUES (?, ?, 0, ?, ?)",
                       (lang, env, "0" * 64, "2026-11-01T00:00:00.000000Z"))
            for kind, blob in old[lang].items():
                db.execute("INSERT INTO langpack_artifacts VALUES (?, ?, 0, ?, ?)",
                           (lang, env, kind, blob))
            db.execute("INSERT INTO langpack_artifacts VALUES (?, ?, 0, ?, ?)",
                       (lang, env, "native.sha256", hashlib.sha256(old[lang]["native"]).hexdigest()))
    db.commit()
    db.close()

    server = support.Server(registry, data).start()
    try:
        for lang in LANGS:
            listed = versions(server, lang)["versions"]
            assert [(v["langpack_version"], v["native_version"]) for v in listed] == \
                [(0, ("v" if lang == "go" else "") + "0.0.0"),
                 (1, ("v" if lang == "go" else "") + "1.1.0")], lang
            assert tarball(server, lang, 0) == old[lang]["tar"]
            assert tarball(server, lang, 1) != old[lang]["tar"]
        go = f"{server.url}/go/reestr.local/langpack/bo/@v/"
        assert fetch(go + "list") == (200, b"v0.0.0\nv1.1.0\n")
        assert fetch(go + "v0.0.0.zip") == (200, old["go"]["native"])
        assert json.loads(fetch(go + "v1.1.0.info")[1])["Version"] == "v1.1.0"
        assert fetch(go + "v0.1.0.zip")[0] == 404, "version 1 is not 0.1.0"
        status, index = fetch(f"{server.url}/pypi/simple/reestr-langpack-bo/")
        assert b"reestr_langpack_bo-0.0.0-py3-none-any.whl" in index
        assert b"reestr_langpack_bo-1.1.0-py3-none-any.whl" in index
        assert fetch(f"{server.url}/pypi/files/reestr_langpack_bo-0.0.0-py3-none-any.whl") == \
            (200, old["python"]["native"])
        packages = json.loads(fetch(f"{server.url}/composer/packages.json")[1])
        assert sorted(packages["packages"]["reestr/langpack-bo"]) == ["0.0.0", "1.1.0"]
        assert fetch(f"{server.url}/composer/dist/bo/0.0.0.zip") == (200, old["php"]["native"])
        assert fetch(f"{server.url}/composer/dist/bo/1.1.0.zip")[0] == 200
        project = json.loads(fetch(f"{server.url}/composer/project.json?environment=bo")[1])
        assert project["require"] == {"reestr/langpack-bo": "~1.1"}, "the latest's major"
        first = {lang: versions(server, lang)["versions"] for lang in LANGS}
    finally:
        server.stop()
    # restarted on the same registry: the content is the same, nothing new
    server = support.Server(registry, data).start()
    try:
        assert {lang: versions(server, lang)["versions"] for lang in LANGS} == first
    finally:
        server.stop()


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    data = tmp_path_factory.mktemp("live")
    server = support.Server(EXAMPLES, data / "data").start()
    yield server
    server.stop()


def sent(server, uuid):
    return server.query(f"SELECT user_agent FROM clickstream_event_v0 WHERE uuid = '{uuid}'")


@pytest.mark.parametrize("lang", LANGS)
def test_curl_pipe_tar_x(lang, live, tmp_path):
    """The archive unpacks into one folder named after the langpack."""
    out = subprocess.run(
        f"curl -fsS -d '{{\"environment\":\"bo\"}}' {live.url}/langpack/{lang}/latest/ | tar x",
        shell=True, cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert [p.name for p in tmp_path.iterdir()] == [f"reestr-langpack-bo-{lang}"]
    marker = {"go": "go.mod", "python": "pyproject.toml", "php": "composer.json"}[lang]
    assert (tmp_path / f"reestr-langpack-bo-{lang}" / marker).exists()


def test_curl_fails_on_a_typo_and_says_what_exists(live, tmp_path):
    """A mistyped environment fails `curl -f` (exit 22) instead of handing
    tar an error page; --fail-with-body prints the known environments."""
    url = f"{live.url}/langpack/go/latest/"
    out = subprocess.run(
        f"curl -fsS -d '{{\"environment\":\"b0\"}}' {url} | tar x; "
        'echo "${PIPESTATUS[*]}"',
        shell=True, executable="/bin/bash", cwd=tmp_path, capture_output=True, text=True)
    assert out.stdout.split() == ["22", "2"], (out.stdout, out.stderr)
    assert "curl: (22) The requested URL returned error: 404" in out.stderr
    assert list(tmp_path.iterdir()) == []
    out = subprocess.run(
        ["curl", "--fail-with-body", "-sS", "-d", '{"environment":"b0"}', url],
        capture_output=True, text=True)
    assert out.returncode == 22
    assert out.stdout.splitlines()[:2] == [
        "reestr: no environment 'b0'", "known environments: bo, front, mobile, partners"]


def test_go_get_from_the_module_proxy(live, tmp_path):
    app = tmp_path / "app"
    app.mkdir()
    env = go_env(tmp_path)
    env.update(GOPROXY=f"{live.url}/go", GONOSUMDB="reestr.local", GOFLAGS="-mod=mod")
    run([tool("go"), "mod", "init", "example.com/app"], cwd=app, env=env)
    run([tool("go"), "get", "reestr.local/langpack/bo@v1.0.0"], cwd=app, env=env)
    (app / "main.go").write_text('''package main

import (
	"context"
	"os"

	bo "reestr.local/langpack/bo"
	"reestr.local/langpack/bo/reestr"
)

func main() {
	s, err := bo.NewSender(reestr.Config{CollectorURL: os.Args[1], Source: "example-service"})
	if err != nil {
		panic(err)
	}
	e := bo.NewClickstreamEventV0(bo.NewUser(1), bo.NewGeo(1, 2), "go-get")
	e.SetEventUUID("0192f0c4-8b7a-7cde-8f00-0000000d0001")
	if err := s.Send(e); err != nil {
		panic(err)
	}
	if err := s.Close(context.Background()); err != nil {
		panic(err)
	}
}
''')
    run([tool("go"), "run", ".", live.url], cwd=app, env=env)
    assert sent(live, "0192f0c4-8b7a-7cde-8f00-0000000d0001") == [{"user_agent": "go-get"}]


def test_pip_install_from_the_simple_index(live, tmp_path):
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    run([str(venv / "bin" / "pip"), "install", "-q", "--index-url", f"{live.url}/pypi/simple/",
         "reestr-langpack-bo==1.0.0"])
    script = f'''
import reestr_bo as bo
s = bo.Sender({live.url!r}, "example-service")
e = bo.ClickstreamEventV0(user=bo.User(id=1), geo=bo.Geo(latitude=1.0, longitude=2.0), user_agent="pip")
e.event_uuid = "0192f0c4-8b7a-7cde-8f00-0000000d0002"
s.send(e)
s.close(30)
'''
    run([str(venv / "bin" / "python"), "-c", script])
    assert sent(live, "0192f0c4-8b7a-7cde-8f00-0000000d0002") == [{"user_agent": "pip"}]


def test_composer_require_from_the_repository(live, tmp_path):
    app = tmp_path / "app"
    app.mkdir()
    (app / "composer.json").write_text(json.dumps({
        "name": "example/app",
        "repositories": [{"packagist.org": False}, {"type": "composer", "url": f"{live.url}/composer"}],
        "config": {"secure-http": False},
    }))
    env = dict(os.environ, COMPOSER_HOME=str(tmp_path / "composer"), COMPOSER_NO_INTERACTION="1")
    run([tool("composer"), "require", "-q", "--no-progress", "reestr/langpack-bo:1.0.0"], cwd=app, env=env)
    (app / "app.php").write_text('''<?php
declare(strict_types=1);
require __DIR__ . '/vendor/autoload.php';
use Reestr\\Langpack\\Bo\\{ClickstreamEventV0, Geo, Langpack, User};
$s = Langpack::sender($argv[1], 'example-service');
$e = new ClickstreamEventV0(user: new User(id: 1), geo: new Geo(latitude: 1.0, longitude: 2.0), userAgent: 'composer');
$e->setEventUuid('0192f0c4-8b7a-7cde-8f00-0000000d0003');
$s->send($e);
$s->close();
''')
    run([tool("php"), "app.php", live.url], cwd=app)
    assert sent(live, "0192f0c4-8b7a-7cde-8f00-0000000d0003") == [{"user_agent": "composer"}]


def test_composer_project_json(registry, tmp_path):
    """/composer/project.json?environment=ENV: the repository, the package at
    ~M.N (the latest version or a newer one of its major), and secure-http
    false only for an http:// public URL."""
    for public, insecure in [(None, True), ("https://events.example.com/reestr", False)]:
        extra = ["--public-url", public] if public else []
        server = support.Server(registry, tmp_path / "data", extra).start()
        try:
            status, body = fetch(f"{server.url}/composer/project.json?environment=bo")
            assert status == 200, body
            project = json.loads(body)
            base = public or server.url
            assert project["repositories"] == [{"type": "composer", "url": f"{base}/composer"}]
            assert project["require"] == {"reestr/langpack-bo": "~1.0"}
            assert ("config" in project) == insecure
            if insecure:
                assert project["config"] == {"secure-http": False}
            status, body = fetch(f"{server.url}/composer/project.json?environment=b0")
            assert status == 404
            assert body.decode().splitlines()[:2] == [
                "reestr: no environment 'b0'", "known environments: bo, front, mobile, partners"]
            status, body = fetch(f"{server.url}/composer/project.json")
            assert status == 400
            assert "name the environment" in body.decode()
        finally:
            server.stop()
    # a new langpack version moves the constraint on
    path = registry / "events" / "clickstream_event.yaml"
    path.write_text(path.read_text() + (
        "      - version: 1\n        fields:\n          user: user\n"))
    server = support.Server(registry, tmp_path / "data").start()
    try:
        status, body = fetch(f"{server.url}/composer/project.json?environment=bo")
        assert json.loads(body)["require"] == {"reestr/langpack-bo": "~1.1"}
    finally:
        server.stop()
