"""`serve --private-packages` (docs/security.md, "Packages"): the real
clients reach the package routes with a read key the way the docs say,
and are refused without it."""

import base64
import os
import shutil
import subprocess
import sys

from conftest import support

REESTR = support.REESTR


def read_key(data):
    out = subprocess.run([REESTR, "keys", "create", "developer", "--read",
                          "--data", str(data)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def tool(name):
    path = shutil.which(name)
    assert path, f"{name} is not installed: run scripts/install-deps"
    return path


def test_pip_with_credentials_in_the_index_url(make_server, tmp_path):
    data = tmp_path / "data"
    key = read_key(data)
    s = make_server(data=data, extra_args=["--private-packages"])
    host = s.url.removeprefix("http://")

    def download(index):
        return subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps",
             "--no-input", "-d", str(tmp_path / "dl"), "--index-url", index,
             "reestr-langpack-bo"],
            capture_output=True, text=True, timeout=300,
            env=dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1"))

    out = download(f"http://{host}/pypi/simple/")
    assert out.returncode != 0, out
    assert "answered 401" in s.log.read_text() and "/pypi/simple/" in s.log.read_text()
    assert not (tmp_path / "dl").exists() or not list((tmp_path / "dl").iterdir())
    out = download(f"http://reestr:{key}@{host}/pypi/simple/")
    assert out.returncode == 0, out.stdout + out.stderr
    assert [p.name for p in (tmp_path / "dl").iterdir()][0].startswith(
        "reestr_langpack_bo")


def test_composer_with_http_basic(make_server, tmp_path):
    data = tmp_path / "data"
    key = read_key(data)
    s = make_server(data=data, extra_args=["--private-packages"])
    host = s.url.removeprefix("http://")
    app = tmp_path / "app"
    app.mkdir()
    env = dict(os.environ, COMPOSER_HOME=str(tmp_path / "composer-home"),
               COMPOSER_NO_INTERACTION="1")
    r = s.request("GET", "/composer/project.json?environment=bo")
    assert r.status == 401
    basic = base64.b64encode(f"reestr:{key}".encode()).decode()
    r = s.request("GET", "/composer/project.json?environment=bo",
                  headers={"Authorization": f"Basic {basic}"})
    assert r.status == 200, r.raw
    (app / "composer.json").write_bytes(r.raw)

    def install():
        return subprocess.run([tool("composer"), "install"], cwd=app, env=env,
                              capture_output=True, text=True, timeout=300)

    out = install()
    assert out.returncode != 0, out.stdout + out.stderr
    assert not (app / "vendor" / "reestr").exists()
    subprocess.run([tool("composer"), "config", f"http-basic.{host}", "reestr", key],
                   cwd=app, env=env, check=True, capture_output=True)
    out = install()
    assert out.returncode == 0, out.stdout + out.stderr
    assert (app / "vendor" / "reestr" / "langpack-bo").is_dir()
