"""The TypeScript langpack as the collector serves it (docs/langpacks.md,
"TypeScript"): versions like the other languages', the `curl … | tar x`
folder, and the npm package: the real `npm install` of the collector's
.tgz into a new project (no registry reachable), and a Node program sending
typed events through it to the live collector, rows queried."""

import importlib.util
import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request

import pytest

from conftest import EXAMPLES, ROOT, run

_spec = importlib.util.spec_from_file_location(
    "integration_support", ROOT / "tests" / "integration" / "conftest.py")
support = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(support)


def fetch(url, body=None):
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def tool(name):
    path = shutil.which(name)
    assert path, f"{name} is not installed: run scripts/install-deps"
    return path


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    data = tmp_path_factory.mktemp("live")
    server = support.Server(EXAMPLES, data / "data").start()
    yield server
    server.stop()


def npm_env(tmp_path):
    """npm with its own cache and a registry nothing listens at: the
    install must come from the collector alone."""
    return dict(os.environ, npm_config_cache=str(tmp_path / "npm-cache"),
                npm_config_registry="http://127.0.0.1:9/", npm_config_audit="false",
                npm_config_fund="false", npm_config_update_notifier="false")


def test_versions_and_package_name(live):
    status, body = fetch(f"{live.url}/langpack/ts/versions?environment=front")
    assert status == 200, body
    listed = json.loads(body)
    assert listed["package"] == "@reestr/langpack-front"
    assert [(v["langpack_version"], v["native_version"]) for v in listed["versions"]] == [(0, "1.0.0")]
    # TypeScript langpacks are made for browser-facing environments only
    # (those listing origins); bo lists none
    status, body = fetch(f"{live.url}/langpack/ts/versions?environment=bo")
    assert status == 404, body
    assert b"known environments: front" in body, body
    # "typescript" names the same langpacks
    assert fetch(f"{live.url}/langpack/typescript/versions?environment=front") == \
        fetch(f"{live.url}/langpack/ts/versions?environment=front")


def test_curl_pipe_tar_x(live, tmp_path):
    out = subprocess.run(
        f"curl -fsS -d '{{\"environment\":\"front\"}}' {live.url}/langpack/ts/latest/ | tar x",
        shell=True, cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["reestr-langpack-front-ts"]
    pkg = json.loads((tmp_path / "reestr-langpack-front-ts" / "package.json").read_text())
    assert pkg["name"] == "@reestr/langpack-front" and pkg["version"] == "1.0.0"
    assert (tmp_path / "reestr-langpack-front-ts" / "runtime" / "sender.js").exists()


def test_npm_tarball_is_stable_and_holds_the_package(live, tmp_path):
    url = f"{live.url}/npm/reestr-langpack-front-1.0.0.tgz"
    status, first = fetch(url)
    assert status == 200, first
    assert fetch(url) == (200, first), "two downloads are the same bytes"
    (tmp_path / "p.tgz").write_bytes(first)
    names = run(["tar", "tzf", str(tmp_path / "p.tgz")]).stdout.split()
    assert all(n.startswith("package/") for n in names), names
    assert {"package/package.json", "package/index.js", "package/index.d.ts",
            "package/runtime/index.js", "package/runtime/index.d.ts"} <= set(names)


@pytest.mark.parametrize("path,text", [
    ("/npm/reestr-langpack-nope-1.0.0.tgz", "not found"),
    ("/npm/reestr-langpack-front-0.0.0.tgz", "not found"),
    ("/npm/reestr-langpack-front-1.0.0.zip", "not found"),
    ("/npm/whatever.tgz", "not found"),
    ("/npm/package.json?environment=nope", "no environment 'nope'"),
    ("/npm/package.json", "name the environment"),
])
def test_unknown_package_or_version_is_an_error(live, path, text):
    status, body = fetch(live.url + path)
    assert status in (400, 404), (path, status)
    assert text in json.loads(body)["error"], body


APP = """\
import { Item, ItemViewV0, Sender, User, ValidationError } from "@reestr/langpack-front";

const sender = new Sender({ collectorUrl: process.argv[2], source: "web-frontend" });
const event = new ItemViewV0({
  user: new User({ id: 413 }),
  item: new Item({ id: 7, categoryId: 3 }),
  referrer: "https://www.example.com/",
});
event.eventUuid = process.argv[3];
sender.send(event);
try {
  sender.send(new ItemViewV0({ item: new Item({ id: 0, categoryId: 3 }) }));
  console.log("sent an invalid event");
} catch (e) {
  console.log(e instanceof ValidationError, e.message);
}
console.log(await sender.close(), JSON.stringify(sender.stats()));
"""


def check_sent(live, tmp_path, app, uuid):
    (app / "app.mjs").write_text(APP)
    out = run([tool("node"), "app.mjs", live.url, uuid], cwd=app).stdout.splitlines()
    assert out[0] == "true item_view v0: fields.item.id: 0 is less than min 1", out
    assert out[1].startswith("true "), out
    assert json.loads(out[1].split(" ", 1)[1])["delivered"] == 1, out
    rows = live.query(f"SELECT referrer, source FROM item_view_v0 WHERE uuid = '{uuid}'")
    assert rows == [{"referrer": "https://www.example.com/", "source": "web-frontend"}]


def test_npm_install_of_the_tgz_url_and_send(live, tmp_path):
    app = tmp_path / "app"
    app.mkdir()
    env = npm_env(tmp_path)
    run([tool("npm"), "init", "-y"], cwd=app, env=env)
    run([tool("npm"), "install", f"{live.url}/npm/reestr-langpack-front-1.0.0.tgz"], cwd=app, env=env)
    dep = json.loads((app / "package.json").read_text())["dependencies"]
    assert dep == {"@reestr/langpack-front": f"{live.url}/npm/reestr-langpack-front-1.0.0.tgz"}
    check_sent(live, tmp_path, app, "0192f0c4-8b7a-7cde-8f00-0000000e0001")


def test_npm_install_from_the_served_package_json(live, tmp_path):
    app = tmp_path / "app"
    app.mkdir()
    env = npm_env(tmp_path)
    subprocess.run(f"curl -fsS '{live.url}/npm/package.json?environment=front' -o package.json",
                   shell=True, cwd=app, check=True)
    run([tool("npm"), "install"], cwd=app, env=env)
    lock = json.loads((app / "package-lock.json").read_text())
    got = lock["packages"]["node_modules/@reestr/langpack-front"]
    assert got["version"] == "1.0.0" and got["integrity"].startswith("sha512-")
    check_sent(live, tmp_path, app, "0192f0c4-8b7a-7cde-8f00-0000000e0002")
