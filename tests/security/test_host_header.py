"""The Host header never reaches a generated URL or a JSON document
(docs/security.md, "Bounded by default"): every route that answers a URL
or JSON — the package indexes for Go, pip, Composer and npm, their
archives (the metadata inside), the langpack downloads and their error
pages, /v1/registry, /v1/limits, /v1/stats, /healthz — answers a request
with a hostile `Host:`, `X-Forwarded-Host:` and `X-Forwarded-Proto:`
byte for byte as a plain one, and names the configured public URL
(`--public-url`), never the hostile host. tests/integration/
test_packages_host.py holds the package indexes to the same with Host
alone; this is the whole list, on a collector with keys."""

import gzip
import io
import json
import re
import subprocess
import tarfile
import urllib.request
import zipfile

import pytest

from conftest import support

REESTR = support.REESTR
PUBLIC = "https://collector.example.com:8443/reestr"
EVIL = "evil-host.example"
HOSTILE = {
    "Host": EVIL + '"},"injected":{"x":"',
    "X-Forwarded-Host": "xfh-" + EVIL,
    "X-Forwarded-Proto": "gopher",
    "Forwarded": f"host={EVIL};proto=gopher",
}


def fetch(server, method, path, headers=None, body=None):
    req = urllib.request.Request(server.url + path, data=body, method=method,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def texts(data):
    """The answer's bytes, and, for an archive, every member's."""
    out = [data]
    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            out += [z.read(n) for n in z.namelist() if not n.endswith("/")]
    elif data[:2] == b"\x1f\x8b":
        raw = gzip.decompress(data)
        out.append(raw)
        try:
            with tarfile.open(fileobj=io.BytesIO(raw)) as t:
                out += [t.extractfile(m).read() for m in t.getmembers() if m.isfile()]
        except tarfile.TarError:
            pass
    elif data[:5] == b"{\"env" or data[262:267] == b"ustar":
        with tarfile.open(fileobj=io.BytesIO(data)) as t:
            out += [t.extractfile(m).read() for m in t.getmembers() if m.isfile()]
    return out


@pytest.fixture(scope="module")
def collector(tmp_path_factory):
    data = tmp_path_factory.mktemp("host") / "data"
    read = subprocess.run([REESTR, "keys", "create", "dashboard", "--read", "--data", str(data)],
                          capture_output=True, text=True)
    assert read.returncode == 0, read.stderr
    server = support.Server(support.EXAMPLES, data, ["--public-url", PUBLIC + "/"],
                            insecure=False)
    server.start()
    yield server, {"Authorization": "Bearer " + read.stdout.strip()}
    server.stop()


def routes(server, auth):
    """(method, path, headers, body) of every route answering a URL or
    JSON; the archives' paths are read from the indexes, so each is the
    one a client would download."""
    out = [("GET", p, auth, None) for p in ("/v1/registry", "/v1/stats")]
    out += [("GET", p, {}, None) for p in (
        "/v1/limits", "/healthz", "/v1/mobile/schema",
        "/composer/packages.json", "/pypi/simple/", "/pypi/simple/reestr-langpack-bo/",
        "/go/reestr.local/langpack/bo/@v/list", "/go/reestr.local/langpack/bo/@latest",
        "/go/reestr.local/langpack/bo/@v/v1.0.0.info", "/go/reestr.local/langpack/bo/@v/v1.0.0.mod",
        "/go/reestr.local/langpack/bo/@v/v1.0.0.zip",
        "/npm/package.json?environment=front", "/langpack/php/versions?environment=bo",
        "/langpack/go/99/?environment=bo",  # an error page that suggests a URL
        "/no/such/route")]
    for lang, env in (("go", "bo"), ("python", "bo"), ("php", "bo"), ("ts", "front")):
        out.append(("POST", f"/langpack/{lang}/latest/", {"Content-Type": "application/json"},
                    b'{"environment":"%s"}' % env.encode()))
    status, body = fetch(server, "GET", "/composer/packages.json")
    assert status == 200, body
    for versions in json.loads(body)["packages"].values():
        for v in versions.values():
            assert v["dist"]["url"].startswith(PUBLIC + "/"), v["dist"]["url"]
            out.append(("GET", v["dist"]["url"][len(PUBLIC):], {}, None))
    status, body = fetch(server, "GET", "/pypi/simple/reestr-langpack-bo/")
    for href in re.findall(rb'href="([^"#]+)', body):
        path = urllib.parse.urljoin("/pypi/simple/reestr-langpack-bo/", href.decode())
        out.append(("GET", path, {}, None))
    status, body = fetch(server, "GET", "/npm/package.json?environment=front")
    assert status == 200, body
    for url in json.loads(body)["dependencies"].values():
        assert url.startswith(PUBLIC + "/npm/"), url
        out.append(("GET", url[len(PUBLIC):], {}, None))
    return out


def test_no_route_echoes_a_hostile_host(collector):
    server, auth = collector
    checked = []
    for method, path, headers, body in routes(server, auth):
        plain = fetch(server, method, path, headers, body)
        hostile = fetch(server, method, path, dict(headers, **HOSTILE), body)
        assert hostile[0] == plain[0], (path, plain[0], hostile[0])
        if path != "/healthz":  # its uptime moves between two requests
            assert hostile[1] == plain[1], f"{path}: the answer depends on the Host header"
        for text in texts(hostile[1]):
            assert EVIL.encode() not in text and b"gopher" not in text, \
                f"{path}: the hostile host is in the answer"
        checked.append((path, plain[0]))
    # the routes were really served (not all refusals)
    ok = [p for p, st in checked if st == 200]
    assert len(ok) >= 24, checked
    assert sum(p.startswith("/langpack/") and p.endswith("/latest/") for p in ok) == 4, ok
    assert any(p.endswith(".zip") and p.startswith("/composer/") for p in ok), ok
    assert any(p.endswith(".tgz") for p in ok), ok
    assert any("/files/" in p for p in ok), ok


def test_urls_in_answers_use_the_public_url(collector):
    server, _ = collector
    _, body = fetch(server, "GET", "/langpack/go/99/?environment=bo", HOSTILE)
    assert PUBLIC.encode() + b"/langpack/go/latest/" in body, body
    _, body = fetch(server, "GET", "/composer/packages.json", HOSTILE)
    assert all(u.startswith(PUBLIC + "/composer/dist/")
               for vs in json.loads(body)["packages"].values() for u in
               (v["dist"]["url"] for v in vs.values()))
