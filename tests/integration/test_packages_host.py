"""The native package indexes never echo the request's Host header: the
Composer repository's download URLs start with `reestr serve --public-url`
(default http://LISTEN-ADDRESS), and a Host header made to break out of a
JSON string changes nothing in packages.json, the PEP 503 index or the Go
module proxy."""

import json
import urllib.request

from conftest import EXAMPLES, run

EVIL_HOST = 'evil.example"},"injected":{"x":"'

PAGES = [
    "/composer/packages.json",
    "/pypi/simple/",
    "/pypi/simple/reestr-langpack-bo/",
    "/go/reestr.local/langpack/bo/@v/list",
    "/go/reestr.local/langpack/bo/@latest",
    "/go/reestr.local/langpack/bo/@v/v1.0.0.info",
    "/langpack/php/versions?environment=bo",
]


def get(server, path, host=None):
    headers = {"Host": host} if host else {}
    req = urllib.request.Request(server.url + path, headers=headers)
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 200, path
        return r.read()


def dist_urls(packages_json):
    return [v["dist"]["url"]
            for versions in packages_json["packages"].values()
            for v in versions.values()]


def test_host_header_changes_nothing_and_urls_use_public_url(make_server):
    public = "https://collector.example.com:8443/reestr"
    server = make_server(registry=EXAMPLES,
                         extra_args=["--public-url", public + "/"])
    for path in PAGES:
        assert get(server, path, EVIL_HOST) == get(server, path), path
    packages = json.loads(get(server, "/composer/packages.json", EVIL_HOST))
    assert list(packages) == ["packages"]
    assert "reestr/langpack-bo" in packages["packages"]
    urls = dist_urls(packages)
    assert urls and all(
        u.startswith(public + "/composer/dist/") and u.endswith(".zip")
        for u in urls), urls
    bo = packages["packages"]["reestr/langpack-bo"]["1.0.0"]
    assert bo["dist"]["url"] == public + "/composer/dist/bo/1.0.0.zip"
    assert bo["autoload"]["psr-4"] == {"Reestr\\Langpack\\Bo\\": "src/"}


def test_public_url_defaults_to_the_listening_address(make_server):
    server = make_server(registry=EXAMPLES)
    packages = json.loads(get(server, "/composer/packages.json", EVIL_HOST))
    urls = dist_urls(packages)
    assert urls and all(u.startswith(server.url + "/composer/dist/")
                        for u in urls), urls
    # the URLs it names are served
    assert get(server, urls[0][len(server.url):])[:2] == b"PK"


def test_bad_public_url_is_refused_before_anything_is_opened(tmp_path):
    out = run("serve", "--registry", str(EXAMPLES), "--data",
              str(tmp_path / "data"), "--listen", "127.0.0.1:0",
              "--public-url", "ftp://example.com", timeout=30)
    assert out.returncode == 2
    assert "--public-url" in out.stderr and "ftp://example.com" in out.stderr
    assert not (tmp_path / "data").exists(), "refused, yet it touched --data"
