"""The catalogue's pages (docs/catalogue.md) in headless Chromium: served by
`reestr serve` at / and written by `reestr docs` as a static site, on the
example registry. catalogue-drive.mjs opens the catalogue, searches,
filters, opens an event, switches versions, views a diff, copies an
example, then follows every link of both sites from the catalogue page;
axe-core checks three pages. Screenshots go to build/artefacts/browser
(REESTR_ARTEFACTS overrides), the CI artefact folder; docs/catalogue.md
shows one."""

import difflib
import importlib.util
import json
import os
import re
import subprocess
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
_spec = importlib.util.spec_from_file_location(
    "integration_support", HERE.parent / "integration" / "conftest.py")
_support = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_support)
Server, EXAMPLES, REESTR = _support.Server, _support.EXAMPLES, _support.REESTR

CHROMIUM = os.environ.get("REESTR_CHROMIUM", "/usr/bin/chromium")
NODE_MODULES = Path(os.environ.get(
    "REESTR_NODE_MODULES", ROOT / "tools" / "node" / "node_modules"))
AXE = Path(os.environ.get("REESTR_AXE", NODE_MODULES / "axe-core" / "axe.min.js"))
ARTEFACTS = Path(os.environ.get("REESTR_ARTEFACTS", ROOT / "build" / "artefacts")) / "browser"


class Refs(HTMLParser):
    """Every href and src of a page."""

    def __init__(self):
        super().__init__()
        self.refs = []

    def handle_starttag(self, tag, attrs):
        self.refs += [v for k, v in attrs if k in ("href", "src") and v]


@pytest.fixture(scope="module")
def drive(tmp_path_factory):
    # a browser, or a checker, that cannot start fails the test, loudly
    assert Path(CHROMIUM).exists(), f"no chromium at {CHROMIUM}"
    assert (NODE_MODULES / "playwright-core").is_dir(), \
        f"no playwright-core in {NODE_MODULES} (scripts/install-deps)"
    assert AXE.exists(), f"no axe-core at {AXE} (scripts/install-deps)"
    tmp = tmp_path_factory.mktemp("catalogue")
    site = tmp / "site"
    out = subprocess.run([REESTR, "docs", "--registry", str(EXAMPLES), "--out", str(site)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "wrote 3 files" in out.stdout, out.stdout
    server = Server(EXAMPLES, tmp / "data")
    server.start()
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    job = {"profile": str(tmp / "profile"), "served": server.url + "/",
           "static": (site / "index.html").as_uri(), "shots": str(ARTEFACTS),
           "axe": str(AXE)}
    env = dict(os.environ, REESTR_NODE_MODULES=str(NODE_MODULES))
    try:
        proc = subprocess.run(["node", str(HERE / "catalogue-drive.mjs"), json.dumps(job)],
                              capture_output=True, text=True, timeout=300, env=env)
    finally:
        server.stop()
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    result["site"] = site
    return result


def test_catalogue_lists_searches_and_filters(drive):
    s = drive["steps"]
    assert len(s["all"]) == 9 and "item_click" in s["all"]
    # by a nested field's path (item.price.currency, money.currency)
    assert set(s["search currency"]) == {"item_click", "item_view", "payment", "ad_auction"}
    # by a word of a field's description ("Absent for anonymous visitors")
    assert "item_click" in s["search anonymous"] and "payment" not in s["search anonymous"]
    assert s["search payment"] == ["payment"]
    assert s["filter owner=payments"] == ["payment"]
    assert set(s["filter environment=front"]) == {"item_click", "item_view", "search_query"}
    assert s["filter status=deprecated"] == ["legacy_item_favorite"]
    assert s["filter source=billing-worker"] == ["payment"]
    both = s["search item, owner marketplace"]
    assert "item_click" in both and "payment" not in both and "clickstream_event" not in both
    assert s["filters in the address"] == "#/?q=item&owner=marketplace"


def test_event_page_versions_diff_and_copy(drive):
    s = drive["steps"]
    # the latest version first, nested objects expanded
    assert "item.price.currency" in s["event fields"] and "item_id" not in s["event fields"]
    assert s["v0 fields"] == ["user", "user.id", "user.email", "item_id", "position"]
    assert s["v0 pressed"] == "true"
    assert s["side by side"] == ["0:current", "1:"]
    out = subprocess.run([REESTR, "diff", "--registry", str(EXAMPLES), "item_click", "0", "1"],
                         capture_output=True, text=True)
    assert s["diff"] == out.stdout.splitlines()[1:]
    assert s["diff classes"][0] == "removed" and set(s["diff classes"][1:]) == {"added"}
    # the clipboard holds exactly the example shown
    assert s["copied"] == s["python example shown"]
    assert s["copied"].startswith("import reestr_bo as bo\n")
    assert "bo.ItemClickV0(" in s["copied"] and s["copy button"] == "Copied"


def test_no_broken_links_and_static_site_has_the_served_content(drive):
    served, static = drive["served"], drive["static"]
    # every page of each kind was reached by following links
    for prefix, n in (("#/event/", 9), ("#/owner/", 3), ("#/object/", 6), ("#/environment/", 4)):
        assert sum(r.startswith(prefix) for r in served) == n, prefix
    broken = [r for r, page in served.items() if page["title"] == "Not found"]
    assert not broken, broken
    assert set(static) == set(served)
    differ = [r for r in served if served[r] != static[r]]
    assert not differ, differ
    # the links the pages hold are page routes, nothing else
    assert all(h.startswith("#/") for h in drive["links"]), drive["links"]
    # the static files' own references resolve in the folder
    site = drive["site"]
    for page in site.rglob("*.html"):
        p = Refs()
        p.feed(page.read_text())
        for ref in p.refs:
            if ref.startswith(("#", "data:")):
                continue
            assert not re.match(r"[a-z]+:", ref), f"{page}: {ref} leaves the site"
            assert (page.parent / ref).is_file(), f"{page}: {ref} is missing"


def test_no_serious_accessibility_violations(drive):
    bad = {v["id"] for v in drive["axe"].pop("known bad")}
    assert {"image-alt", "label"} <= bad, bad  # the check can fail
    for page, violations in drive["axe"].items():
        serious = [v for v in violations if v["impact"] in ("serious", "critical")]
        assert not serious, (page, serious)
    assert set(drive["axe"]) == {"catalogue", "event", "owners"}


def test_no_page_errors_and_screenshots_saved(drive):
    errors = [c for c in drive["console"] if c.startswith("pageerror")]
    assert not errors, errors
    for name in ("catalogue", "search", "event", "diff", "static-owners"):
        shot = ARTEFACTS / f"{name}.png"
        assert shot.exists() and shot.stat().st_size > 5000, shot


GOV_REGISTRY = """\
owners:
  shop:
    contact: shop@example.com
sources:
  web:
    owner: shop
environments:
  bo:
    events: [checkout_started, legacy_ping]
events:
  checkout_started:
    id: 1
    owner: shop
    checks:
      - {kind: range, field: amount, min: 1, max: 1000}
    versions:
      - version: 0
        fields:
          amount: {type: int}
  legacy_ping:
    id: 4
    owner: shop
    versions:
      - version: 0
        fields:
          n: {type: int}
"""


@pytest.fixture(scope="module")
def gov(tmp_path_factory):
    """catalogue-gov-drive.mjs against `reestr serve --deviations-every
    1s`: bad data sent from the browser's side, the scheduled evaluation,
    the page reloaded."""
    assert Path(CHROMIUM).exists(), f"no chromium at {CHROMIUM}"
    assert AXE.exists(), f"no axe-core at {AXE} (scripts/install-deps)"
    tmp = tmp_path_factory.mktemp("catalogue-gov")
    reg = tmp / "reg"
    (reg / "events").mkdir(parents=True)
    (reg / "registry.yaml").write_text(GOV_REGISTRY)
    # an event of the last complete hour (what an evaluation looks at)
    # whose amount is out of its range, and one the collector rejects
    now = datetime.now(timezone.utc)
    last_hour = now.replace(minute=0, second=0, microsecond=0) - timedelta(minutes=30)

    def checkout(t, amount):
        return {"event_id": 1, "version": 0, "uuid": _support.uuid7(),
                "time": t.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "environment": "bo",
                "source": "web", "fields": {"amount": amount}}
    events = [checkout(last_hour, 5000), checkout(now, "many")]
    server = Server(reg, tmp / "data", extra_args=["--deviations-every", "1s"])
    server.start()
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    job = {"profile": str(tmp / "profile"), "served": server.url + "/",
           "events": events, "shots": str(ARTEFACTS), "axe": str(AXE)}
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        job["docs"] = str(ROOT / "docs")  # docs/governance.md's pictures
    env = dict(os.environ, REESTR_NODE_MODULES=str(NODE_MODULES))
    try:
        proc = subprocess.run(["node", str(HERE / "catalogue-gov-drive.mjs"), json.dumps(job)],
                              capture_output=True, text=True, timeout=300, env=env)
        assert proc.returncode == 0, proc.stderr
        result = json.loads(proc.stdout)
    finally:
        server.stop()
    # the static site built over the same data folder (reestr docs
    # --data), its pages and the served ones opened alike, served by a
    # collector that does not evaluate (each evaluation moves a
    # deviation's "last seen": a static site is a snapshot); the live
    # figures' window is the hour now in: built again if one began
    server = Server(reg, tmp / "data")
    server.start()
    try:
        site = tmp / "site"
        for _attempt in range(2):
            hour = datetime.now(timezone.utc).hour
            out = subprocess.run([REESTR, "docs", "--registry", str(reg), "--out", str(site),
                                  "--data", str(tmp / "data")], capture_output=True, text=True)
            assert out.returncode == 0, out.stderr
            job["compare"] = {"served": server.url + "/", "static": (site / "index.html").as_uri(),
                              "routes": ["#/", "#/?deviations=1", "#/?unused=1",
                                         "#/event/checkout_started", "#/event/legacy_ping",
                                         "#/owner/shop"]}
            proc = subprocess.run(["node", str(HERE / "catalogue-gov-drive.mjs"), json.dumps(job)],
                                  capture_output=True, text=True, timeout=300, env=env)
            assert proc.returncode == 0, proc.stderr
            if datetime.now(timezone.utc).hour == hour:
                break
        result["compare"] = json.loads(proc.stdout)
        result["compare"]["site"] = site
    finally:
        server.stop()
    return result


def test_catalogue_shows_deviations_and_unused_events(gov):
    s = gov["steps"]
    # before the bad data: the evaluation at start found nothing
    assert s["deviations before"] in (None, [])
    # nothing was ever sent nor downloaded: both are unused at once
    assert s["unused"] == ["checkout_started", "legacy_ping"]
    assert s["sent"][0] == 200 and s["sent"][1]["rejected"] == 1
    assert s["evaluated"] == ["checkout_started"]
    assert s["deviations after"] == ["checkout_started"]
    assert s["filter in the address"] == "#/?deviations=1"
    assert s["badges"] == ["1 open deviation"]
    [dev] = s["event deviations"]
    # id, kind, status, version, source, first seen, last seen, evidence
    assert dev[1:5] == ["range", "open", "every", "web"]
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$", dev[5]) and dev[6] >= dev[5]
    assert "amount outside the range" in dev[7]
    [live] = s["live figures"]
    assert live[:2] == ["v0", "web"] and live[3] == "1"
    assert len(s["reasons"]) == 1 and "fields.amount" in s["reasons"][0]
    # the rejected payload as a sample under its reason, as text
    [sample] = s["samples"]
    assert '"amount"' in sample and sample.startswith("{")
    assert [e.startswith("v0: bo: no event stored") for e in s["unused evidence"]] == [True]
    # and the exact edit to apply for it, as `reestr decommission` writes it
    [dec] = s["decommission"]
    assert dec["version"] == "0"
    assert dec["command"].startswith("reestr decommission legacy_ping 0 --registry . --reason ")
    assert dec["diff"].startswith("--- a/") and "\n+" in dec["diff"]
    assert "status: decommissioned" in dec["diff"]
    for page, violations in gov["axe"].items():
        serious = [v for v in violations if v["impact"] in ("serious", "critical")]
        assert not serious, (page, serious)
    assert set(gov["axe"]) == {"catalogue", "event"}
    errors = [c for c in gov["console"] if c.startswith("pageerror")]
    assert not errors, errors


def test_static_site_with_data_shows_what_is_served(gov):
    """reestr docs --data over the collector's data folder: each page,
    deviations, unused versions and live figures included, reads as the
    served one, and says as of when."""
    c = gov["compare"]
    assert set(c["served"]) == set(c["static"]) and len(c["served"]) == 6
    differ = [r for r in c["served"] if c["served"][r] != c["static"][r]]
    assert not differ, [(r, [x for x in difflib.unified_diff(c["served"][r].splitlines(), c["static"][r].splitlines(), lineterm="") if x[:1] in "+-"]) for r in differ]
    # the data is there: the deviation, the unused version, the figures
    event = c["static"]["#/event/checkout_started"]
    assert "amount outside the range" in event and "Live figures" in event
    assert "v0: bo: no event stored" in c["static"]["#/event/legacy_ping"]
    assert "legacy_ping" in c["static"]["#/?unused=1"]
    assert "checkout_started" not in c["static"]["#/?unused=1"]
    # every static page says as of when; the served ones, live, do not
    assert set(c["as_of"]["served"].values()) == {None}
    [as_of] = set(c["as_of"]["static"].values())
    assert re.match(r"Deviations, unused versions and live figures as of "
                    r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ \(when this site was built; "
                    r"reestr docs --data\)\.$", as_of), as_of
    errors = [x for x in c["console"] if x.startswith("pageerror")]
    assert not errors, errors
    # the files' own references resolve in the folder (the page links
    # are the served ones', compared above)
    for page in c["site"].rglob("*.html"):
        p = Refs()
        p.feed(page.read_text())
        for ref in p.refs:
            if not ref.startswith(("#", "data:")):
                assert (page.parent / ref).is_file(), f"{page}: {ref} is missing"
