"""Headless Chromium against a live collector (docs/proxy.md, "The site's
frontend"): a page sends typed events through the TypeScript langpack the
collector under test serves (GET /langpack/ts/latest/, unpacked into the
page server's folder and loaded as ES modules), by fetch while it lives
and, on pagehide, by sendBeacon, to the collector on another origin (another
port); rows checked in the typed view by `reestr query`. A page on an
origin no environment lists is refused (its fetch fails CORS, its beacon is
answered 403) and nothing of it is stored. pages/page.mjs is the page's
code; tests/browser/drive.mjs drives Debian's chromium through
playwright-core (tools/node)."""

import functools
import http.server
import importlib.util
import io
import json
import os
import shutil
import subprocess
import tarfile
import textwrap
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
# the integration tests' collector fixture, under another module name
_spec = importlib.util.spec_from_file_location(
    "integration_support", HERE.parent / "integration" / "conftest.py")
_support = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_support)
Server, free_port = _support.Server, _support.free_port

CHROMIUM = os.environ.get("REESTR_CHROMIUM", "/usr/bin/chromium")
NODE_MODULES = Path(os.environ.get(
    "REESTR_NODE_MODULES", HERE.parents[1] / "tools" / "node" / "node_modules"))


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def page_server(port, site):
    """A static server for the site folder on 127.0.0.1:port: one origin."""
    handler = functools.partial(QuietHandler, directory=str(site))
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


@pytest.fixture
def setup(tmp_path):
    # a browser that cannot start fails the test, loudly
    assert Path(CHROMIUM).exists(), f"no chromium at {CHROMIUM}"
    assert (NODE_MODULES / "playwright-core").is_dir(), \
        f"no playwright-core in {NODE_MODULES} (scripts/install-deps)"
    allowed_port, refused_port = free_port(), free_port()
    allowed = f"http://127.0.0.1:{allowed_port}"
    refused = f"http://127.0.0.1:{refused_port}"
    reg = tmp_path / "registry"
    reg.mkdir()
    (reg / "registry.yaml").write_text(textwrap.dedent(f"""\
        owners:
          web_team: {{contact: web@example.com}}
        sources:
          web-frontend: {{owner: web_team}}
        environments:
          front:
            origins: ["{allowed}"]
            events: [page_view]
          bo:
            events: [payment]
        events:
          page_view:
            id: 1
            owner: web_team
            versions:
              - version: 0
                fields:
                  path: {{type: string}}
          payment:
            id: 2
            owner: web_team
            versions:
              - version: 0
                fields:
                  amount: {{type: int}}
        """))
    collector = Server(reg, tmp_path / "data").start()
    site = make_site(collector, tmp_path / "site")
    pages = [page_server(allowed_port, site), page_server(refused_port, site)]
    yield collector, allowed, refused, tmp_path
    for p in pages:
        p.shutdown()
    collector.stop()


def make_site(collector, site):
    """pages/, and in site/langpack/ the TypeScript langpack of front as the
    collector serves it (curl -d '{"environment":"front"}' .../latest/ | tar x)."""
    shutil.copytree(HERE / "pages", site)
    req = urllib.request.Request(f"{collector.url}/langpack/ts/latest/",
                                 data=b'{"environment":"front"}')
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 200
        tar = r.read()
    with tarfile.open(fileobj=io.BytesIO(tar)) as t:
        t.extractall(site, filter="data")
    (site / "reestr-langpack-front-ts").rename(site / "langpack")
    index = (site / "langpack" / "index.js").read_text()
    assert "export class PageViewV0" in index, index[:2000]
    return site


def drive(collector, pages, tmp_path):
    job = {"pages": pages,
           "profile": str(tmp_path / "profile")}
    env = dict(os.environ, REESTR_NODE_MODULES=str(NODE_MODULES))
    out = subprocess.run(["node", str(HERE / "drive.mjs"), json.dumps(job)],
                         capture_output=True, text=True, timeout=180, env=env)
    assert out.returncode == 0, out.stderr + out.stdout
    return json.loads(out.stdout.strip().splitlines()[-1])


def stored(collector, uuids):
    """The rows of these events in page_view's typed view."""
    if not uuids:
        return []
    ids = ", ".join(f"'{u}'" for u in uuids)
    return collector.query(
        f"SELECT uuid, environment, source, path FROM page_view_v0 "
        f"WHERE uuid IN ({ids}) ORDER BY path")


def wait_stored(collector, uuids, n):
    deadline = time.time() + 20
    while time.time() < deadline and len(stored(collector, uuids)) < n:
        time.sleep(0.2)
    return stored(collector, uuids)


def outcomes(results, uuids):
    by = {r["uuid"]: r for r in results}
    return [(by[u]["outcome"], by[u]["reason"]) if u in by else None for u in uuids]


def test_langpack_fetch_and_beacon_from_chromium(setup):
    collector, allowed, refused, tmp_path = setup
    run = uuid.uuid4().hex[:8]

    def page(origin, run, leave):
        return {"url": f"{origin}/index.html?collector={collector.url}"
                       f"&run={run}", "run": run, "leave": leave}
    result = drive(collector, {
        "allowed": page(allowed, run, "navigate"),
        "closed": page(allowed, run + "c", "close"),
        "refused": page(refused, run + "x", "navigate"),
    }, tmp_path)
    ok, closed, bad = result["allowed"], result["closed"], result["refused"]

    # the allowed page: its two typed events delivered by fetch (the
    # sender read the collector's answer), flush() saying so; the bo event
    # (an environment listing no origin) rejected with the collector's reason
    assert ok["error"] is None, ok
    assert ok["flushOk"] is True, ok
    assert outcomes(ok["results"], ok["fetched"]) == [("delivered", "")] * 2, ok
    [(outcome, reason)] = outcomes(ok["results"], [ok["bo"]])
    assert outcome == "rejected", ok
    assert "environment: bo does not list origin " + allowed in reason, reason
    assert ok["boCloseOk"] is False, ok
    # the third waited for the page to go: sendBeacon at pagehide
    assert outcomes(ok["resultsAfter"], ok["beaconed"]) == [("beaconed", "")], ok

    # the browser delivers the beacon after the page is gone: wait for its
    # row; the typed view holds the three
    rows = wait_stored(collector, ok["fetched"] + ok["beaconed"], 3)
    assert [(r["uuid"], r["environment"], r["source"], r["path"]) for r in rows] == [
        (ok["fetched"][0], "front", "web-frontend", f"/{run}/a"),
        (ok["fetched"][1], "front", "web-frontend", f"/{run}/b"),
        (ok["beaconed"][0], "front", "web-frontend", f"/{run}/beacon")], rows
    assert collector.query(
        f"SELECT count(*) AS n FROM events WHERE uuid = '{ok['bo']}'")[0]["n"] == 0

    # the same page closed instead of left: the tab's pagehide beacons too
    assert closed["flushOk"] is True, closed
    assert outcomes(closed["resultsAfter"], closed["beaconed"]) == [("beaconed", "")], closed
    rows = wait_stored(collector, closed["beaconed"], 1)
    assert [r["path"] for r in rows] == [f"/{run}c/beacon"], rows

    # the refused page: its fetch fails CORS (the preflight is answered 403)
    # and the page cannot read why: to the sender a network error, dropped
    # after its tries; its beacon is sent and answered 403
    assert bad["error"] is None, bad
    assert bad["flushOk"] is False, bad
    for outcome, reason in outcomes(bad["results"], bad["fetched"] + [bad["bo"]]):
        assert outcome == "dropped", bad
        assert "gave up after 2 attempts: network error" in reason, reason
    assert outcomes(bad["resultsAfter"], bad["beaconed"]) == [("beaconed", "")], bad
    log = collector.log.read_text()
    deadline = time.time() + 20
    while time.time() < deadline and "(POST /v1/beacon)" not in log:
        time.sleep(0.2)
        log = collector.log.read_text()
    assert f"origin {refused} is not allowed" in log
    assert "answered 403" in log and "(OPTIONS /v1/events)" in log
    assert "(POST /v1/beacon)" in log, log
    refused_ids = bad["fetched"] + bad["beaconed"] + [bad["bo"]]
    assert stored(collector, refused_ids) == []
    ids = ", ".join(f"'{u}'" for u in refused_ids)
    assert collector.query(
        f"SELECT count(*) AS n FROM events WHERE uuid IN ({ids})")[0]["n"] == 0
    # failed_events: the bo event of each allowed page, nothing of the
    # refused one (refused before its events were read)
    assert collector.query(
        "SELECT count(*) AS n FROM failed_events")[0]["n"] == 2
