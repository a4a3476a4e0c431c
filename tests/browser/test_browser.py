"""Headless Chromium against a live collector (docs/proxy.md, "The site's
frontend"): a page on an allowed origin sends events by fetch and, on
pagehide, by sendBeacon, to a collector on another origin (another port);
a page on an origin no environment lists is refused (its fetch fails CORS,
its beacon is answered 403) and nothing of it is stored. The page's
sending code is pages/sender.js alone; tests/browser/drive.mjs drives
Debian's chromium through playwright-core (tools/node)."""

import functools
import http.server
import importlib.util
import json
import os
import subprocess
import textwrap
import threading
import time
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


def page_server(port):
    """A static server for pages/ on 127.0.0.1:port: one origin."""
    handler = functools.partial(QuietHandler, directory=str(HERE / "pages"))
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
    pages = [page_server(allowed_port), page_server(refused_port)]
    yield collector, allowed, refused, tmp_path
    for p in pages:
        p.shutdown()
    collector.stop()


def drive(collector, pages, tmp_path):
    job = {"collector": collector.url, "pages": pages,
           "profile": str(tmp_path / "profile")}
    env = dict(os.environ, REESTR_NODE_MODULES=str(NODE_MODULES))
    out = subprocess.run(["node", str(HERE / "drive.mjs"), json.dumps(job)],
                         capture_output=True, text=True, timeout=180, env=env)
    assert out.returncode == 0, out.stderr + out.stdout
    return json.loads(out.stdout.strip().splitlines()[-1])


def stored(collector, uuids):
    if not uuids:
        return []
    ids = ", ".join(f"'{u}'" for u in uuids)
    return collector.query(
        f"SELECT uuid, environment, json_extract(fields, '$.path') AS path "
        f"FROM events WHERE uuid IN ({ids}) ORDER BY path")


def test_fetch_and_beacon_from_chromium(setup):
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

    # the allowed page read the collector's answer: its two front events
    # accepted, the bo event (an environment listing no origin) rejected
    assert ok["fetchError"] is None, ok
    assert ok["fetchResult"]["status"] == 200, ok
    answer = ok["fetchResult"]["body"]
    assert [r["status"] for r in answer["results"]] == [
        "accepted", "accepted", "rejected"], answer
    assert "does not list origin " + allowed in answer["results"][2]["error"]
    assert ok["beaconQueued"] == "true", ok

    # the beacon left as the page was hidden; the browser delivers it
    # after the page is gone, so wait for its row
    fetched = [e["uuid"] for e in ok["fetched"][:2]]
    beaconed = [e["uuid"] for e in ok["beaconed"]]
    deadline = time.time() + 20
    while time.time() < deadline and len(stored(collector, beaconed)) < 1:
        time.sleep(0.2)
    rows = stored(collector, fetched + beaconed)
    assert [(r["environment"], r["path"]) for r in rows] == [
        ("front", f"/{run}/a"), ("front", f"/{run}/b"),
        ("front", f"/{run}/beacon")], rows
    assert stored(collector, [ok["fetched"][2]["uuid"]]) == []

    # the same page closed instead of left: the tab's pagehide beacons too
    assert closed["fetchResult"]["body"]["accepted"] == 2, closed
    assert closed["beaconQueued"] == "true", closed
    beaconed = [e["uuid"] for e in closed["beaconed"]]
    deadline = time.time() + 20
    while time.time() < deadline and len(stored(collector, beaconed)) < 1:
        time.sleep(0.2)
    assert [r["path"] for r in stored(collector, beaconed)] == [
        f"/{run}c/beacon"]

    # the refused page: fetch fails CORS (the preflight is answered 403),
    # the page cannot read why; its beacon is sent and answered 403
    assert bad["fetchResult"] is None, bad
    assert "TypeError" in bad["fetchError"] and "fetch" in bad["fetchError"]
    assert bad["beaconQueued"] == "true", bad
    log = collector.log.read_text()
    deadline = time.time() + 20
    while time.time() < deadline and "POST /v1/beacon" not in log:
        time.sleep(0.2)
        log = collector.log.read_text()
    assert f"origin {refused} is not allowed" in log
    assert "answered 403" in log and "(OPTIONS /v1/events)" in log
    assert "(POST /v1/beacon)" in log, log
    refused_ids = [e["uuid"] for e in bad["fetched"] + bad["beaconed"]]
    assert stored(collector, refused_ids) == []
    assert collector.query(  # the bo one of each allowed page
        "SELECT count(*) AS n FROM failed_events")[0]["n"] == 2
