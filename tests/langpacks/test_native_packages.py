"""Langpacks delivered the way each language installs code (issue 4):
versions that grow only when the content changes and stay downloadable byte
for byte, the talk's `curl … | tar x`, and the real clients — `go get`
through the module proxy, `pip install` from the PEP 503 index, `composer
require` from the Composer repository — against a live `reestr serve`, with
the events they send arriving in the store."""

import importlib.util
import json
import os
import shutil
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
    assert first["go"]["versions"][0]["native_version"] == "v0.0.0"
    assert first["python"]["versions"][0]["native_version"] == "0.0.0"

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
        for url, body, text in [
                ("/langpack/cobol/0/", {"environment": "bo"}, "no langpacks for language 'cobol'"),
                ("/langpack/go/0/", {"environment": "nope"}, "no environment 'nope'"),
                ("/langpack/go/7/", {"environment": "bo"}, "no version 7 of the go langpack of bo"),
                ("/go/reestr.local/langpack/bo/@v/v0.9.0.info", None, "not found"),
                ("/pypi/simple/nothing/", None, "not found"),
                ("/composer/dist/bo/0.9.0.zip", None, "not found")]:
            status, answer = fetch(server.url + url, json.dumps(body).encode() if body else None)
            assert status == 404, url
            assert text in json.loads(answer)["error"], answer
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
    out = subprocess.run(
        f"curl -sf -d '{{\"environment\":\"bo\"}}' -H 'Content-Type: application/json' "
        f"{live.url}/langpack/{lang}/0/ | tar x", shell=True, cwd=tmp_path,
        capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    marker = {"go": "go.mod", "python": "pyproject.toml", "php": "composer.json"}[lang]
    assert (tmp_path / marker).exists()


def test_go_get_from_the_module_proxy(live, tmp_path):
    app = tmp_path / "app"
    app.mkdir()
    env = go_env(tmp_path)
    env.update(GOPROXY=f"{live.url}/go", GONOSUMDB="reestr.local", GOFLAGS="-mod=mod")
    run([tool("go"), "mod", "init", "example.com/app"], cwd=app, env=env)
    run([tool("go"), "get", "reestr.local/langpack/bo@v0.0.0"], cwd=app, env=env)
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
	u := bo.NewUser()
	u.SetID(1)
	g := bo.NewGeo()
	g.SetLatitude(1)
	g.SetLongitude(2)
	e := bo.NewClickstreamEventV0()
	e.SetEventUUID("0192f0c4-8b7a-7cde-8f00-0000000d0001")
	e.SetUser(u)
	e.SetGeo(g)
	e.SetUserAgent("go-get")
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
         "reestr-langpack-bo==0.0.0"])
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
    run([tool("composer"), "require", "-q", "--no-progress", "reestr/langpack-bo:0.0.0"], cwd=app, env=env)
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
