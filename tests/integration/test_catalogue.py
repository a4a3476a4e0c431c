"""The catalogue's JSON (docs/catalogue.md): GET /v1/catalogue/... on a live
`reestr serve`, and `reestr owners`, against the example registry."""

import json
import re
import shutil
import time

from conftest import EXAMPLES, run


def get(server, path):
    r = server.request("GET", path)
    return r.status, (json.loads(r.raw) if r.raw else None)


def test_index_has_every_event_owner_source_object_and_environment(server):
    status, idx = get(server, "/v1/catalogue")
    assert status == 200
    events = {e["name"]: e for e in idx["events"]}
    assert set(events) >= {"clickstream_event", "item_click", "payment",
                           "legacy_item_favorite"}
    click = events["item_click"]
    assert click["id"] == 200 and click["owner"] == "marketplace"
    assert [v["number"] for v in click["versions"]] == [0, 1]
    # search looks into nested fields: item.price.currency is v1's
    paths = [p for p, _ in click["fields"]]
    assert "item.price.currency" in paths and "item_id" in paths
    assert {o["name"] for o in idx["owners"]} == {
        "analytics_platform", "marketplace", "payments"}
    mp = next(o for o in idx["owners"] if o["name"] == "marketplace")
    assert "item_click" in mp["events"] and "item-api" in mp["sources"]
    assert "item" in mp["objects"]
    assert {e["name"] for e in idx["environments"]} >= {"bo", "front"}
    android = next(s for s in idx["sources"] if s["name"] == "example-android")
    assert android["app"]["id"] == "com.example.android"
    assert idx["unowned"] == {"events": [], "sources": [], "objects": []}
    # the same JSON from every section route
    for kind in ("owners", "sources", "objects", "environments"):
        status, part = get(server, f"/v1/catalogue/{kind}")
        assert status == 200 and part == {kind: idx[kind]}, kind
        first = idx[kind][0]
        status, one = get(server, f"/v1/catalogue/{kind}/{first['name']}")
        assert status == 200 and one == first, kind


def test_event_page_expands_objects_and_carries_reestr_diff(server):
    status, ev = get(server, "/v1/catalogue/events/item_click")
    assert status == 200
    assert ev["owner"] == {"name": "marketplace", "contact": "#marketplace-dev"}
    v1 = ev["versions"][1]
    item = next(f for f in v1["fields"] if f["name"] == "item")
    assert item["type"]["kind"] == "object" and item["type"]["object"] == "item"
    price = next(f for f in item["type"]["fields"] if f["name"] == "price")
    assert price["required"] is False
    currency = next(f for f in price["type"]["fields"]
                    if f["name"] == "currency")
    assert currency["constraints"] == {"pattern": "[A-Z]{3}"}
    user = next(f for f in v1["fields"] if f["name"] == "user")
    email = next(f for f in user["type"]["fields"] if f["name"] == "email")
    assert email["pii"] is True
    # the store's figures (none sent here); no deviations.db: not known
    assert ev["live"]["hours"] == 24
    assert [v["version"] for v in ev["live"]["versions"]] == [0, 1]
    assert ev["open_deviations"] is None and ev["deviations"] is None
    # the diff is reestr diff's, line for line
    out = run("diff", "--registry", str(EXAMPLES), "item_click", "0", "1")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()[1:]
    back = run("diff", "--registry", str(EXAMPLES), "item_click", "1", "0")
    assert ev["diffs"] == [
        {"event": "item_click", "from": 1, "to": 0,
         "changes": back.stdout.splitlines()[1:]},
        {"event": "item_click", "from": 0, "to": 1, "changes": lines}]
    status, d = get(server, "/v1/catalogue/events/200/diff/0/1")
    assert status == 200 and d["changes"] == lines
    status, d = get(server, "/v1/catalogue/events/item_click/diff/1/1")
    assert status == 200 and d["changes"] == []


def test_unknown_names_and_versions_are_404_naming_them(server):
    cases = {
        "/v1/catalogue/events/no_such_event": "no event 'no_such_event'",
        "/v1/catalogue/events/item_click/diff/0/7": "item_click has no version 7",
        "/v1/catalogue/owners/nobody": "no owner 'nobody'",
        "/v1/catalogue/objects/nothing": "no object 'nothing'",
        "/v1/catalogue/events/item_click/diff/0/x": "no such catalogue page",
        "/v1/catalogue/whatever": "no such catalogue page",
    }
    for path, message in cases.items():
        status, body = get(server, path)
        assert status == 404 and message in body["error"], (path, body)
    r = server.request("POST", "/v1/catalogue", b"{}",
                       {"Content-Type": "application/json"})
    assert r.status == 405


def test_catalogue_follows_a_reload(make_server, tmp_path):
    reg = tmp_path / "registry"
    shutil.copytree(EXAMPLES, reg)
    s = make_server(registry=reg)
    status, before = get(s, "/v1/catalogue/events/item_view")  # plans made
    assert status == 200
    py = [p["code"] for p in before["examples"]["programs"] if p["lang"] == "python"]
    assert "ab_group=" not in py[0]
    view = reg / "events" / "item_view.yaml"
    view.write_text(view.read_text() + "          ab_group:\n"
                    "            type: string\n            min_length: 2\n")
    path = reg / "owners.yaml"
    text = path.read_text()
    path.write_text(text + "  growth:\n    contact: growth@example.com\n")
    for _ in range(100):
        status, part = get(s, "/v1/catalogue/owners/growth")
        if status == 200:
            break
        time.sleep(0.1)
    assert status == 200, part
    assert part["events"] == [] and part["contact"] == "growth@example.com"
    # the event page's examples come from the new registry's plans
    status, after = get(s, "/v1/catalogue/events/item_view")
    assert status == 200
    py = [p["code"] for p in after["examples"]["programs"] if p["lang"] == "python"]
    assert 'ab_group="ab_group",' in py[0], py[0]


def test_owners_command_lists_what_each_owner_has(tmp_path):
    out = run("owners", "--registry", str(EXAMPLES))
    assert out.returncode == 0, out.stderr
    assert re.search(r"^payments <payments-oncall@example.com>\n"
                     r"  events \(1\): payment\n"
                     r"  sources \(1\): billing-worker\n"
                     r"  objects \(2\): money, user\n", out.stdout, re.M)
    assert out.stdout.endswith("unowned\n  objects (used by no event) (0): none\n")
    js = json.loads(run("owners", "--registry", str(EXAMPLES), "--json").stdout)
    assert {o["name"] for o in js["owners"]} == {
        "analytics_platform", "marketplace", "payments"}
    # an object no event uses is listed as unowned
    reg = tmp_path / "registry"
    shutil.copytree(EXAMPLES, reg)
    (reg / "objects" / "orphan.yaml").write_text(
        "objects:\n  orphan:\n    fields:\n      x: int\n")
    out = run("owners", "--registry", str(reg))
    assert out.returncode == 0, out.stderr
    assert "objects (used by no event) (1): orphan" in out.stdout
    js = json.loads(run("owners", "--registry", str(reg), "--json").stdout)
    assert js["unowned"]["objects"] == ["orphan"]
    # a broken registry: exit 1 with the problems
    (reg / "objects" / "orphan.yaml").write_text("objects: [\n")
    out = run("owners", "--registry", str(reg))
    assert out.returncode == 1 and "registry has problems" in out.stderr
    assert run("owners").returncode == 2


def test_docs_inlines_the_catalogue_that_no_description_can_break_out_of(tmp_path):
    """reestr docs writes the served index.html with the catalogue's JSON
    inlined, every "<" in it as \\u003c; a description holding "</script>"
    stays data."""
    reg = tmp_path / "registry"
    shutil.copytree(EXAMPLES, reg)
    path = reg / "events" / "payment.yaml"
    evil = "</script><script>alert(1)</script>"
    text = path.read_text()
    text = re.sub(r"(\n    description: )[^\n]*", lambda m: m.group(1) + repr(evil), text, count=1)
    assert evil in text
    path.write_text(text)
    site = tmp_path / "site"
    out = run("docs", "--registry", str(reg), "--out", str(site))
    assert out.returncode == 0, out.stderr
    assert out.stdout == f"reestr docs: wrote 3 files to {site} (9 events); open {site}/index.html\n"
    html = (site / "index.html").read_text()
    assert "<script>alert(1)" not in html
    assert html.count("</script>") == 2  # the data's and app.js's
    start = html.index('<script id="catalogue-data" type="application/json">')
    body = html[start:].split(">", 1)[1].split("</script>", 1)[0]
    data = json.loads(body)
    assert data["events"]["payment"]["description"] == evil
    assert data["index"] == json.loads(run("owners", "--registry", str(reg), "--json").stdout) | data["index"]
    assert sorted(data["events"]) == sorted(e["name"] for e in data["index"]["events"])
    assert (site / "ui" / "app.js").is_file() and (site / "ui" / "style.css").is_file()
    # a folder it cannot write: exit 1 naming it
    blocked = tmp_path / "file"
    blocked.write_text("")
    out = run("docs", "--registry", str(reg), "--out", str(blocked / "site"))
    assert out.returncode == 1 and "cannot make" in out.stderr
    assert run("docs", "--registry", str(reg)).returncode == 2
