"""The catalogue's routes (docs/catalogue.md) need what /v1/registry needs:
a read or write key; a publishable key or none is refused, and the UI's
own files (no registry data in them) need none."""

from conftest import support
from test_keys import create


def test_catalogue_json_needs_a_read_or_write_key(make_server, tmp_path):
    data = tmp_path / "data"
    writer, _ = create(data, "example-service", "--environment", "bo")
    reader, _ = create(data, "analyst", "--read")
    pub, _ = create(data, "web-frontend", "--publishable", "--environment",
                    "front", "--origin", "https://www.example.com")
    s = make_server(data=data)
    for path in ("/v1/catalogue", "/v1/catalogue/events/item_click",
                 "/v1/catalogue/owners", "/v1/catalogue/events/x/diff/0/1"):
        r = s.request("GET", path)
        assert r.status == 401, (path, r.raw)
        assert b"item_click" not in r.raw and b"marketplace" not in r.raw
        r = s.request("GET", path, headers={"Authorization": f"Bearer {pub}"})
        assert r.status == 403, (path, r.raw)
        assert b"marketplace" not in r.raw
    for key in (reader, writer):
        r = s.request("GET", "/v1/catalogue/events/item_click",
                      headers={"Authorization": f"Bearer {key}"})
        assert r.status == 200 and r.json()["name"] == "item_click", r.raw


def test_catalogue_pages_need_no_key_and_hold_no_registry_data(make_server, tmp_path):
    data = tmp_path / "data"
    create(data, "example-service", "--environment", "bo")
    s = make_server(data=data)
    for path in ("/", "/ui/app.js", "/ui/style.css"):
        r = s.request("GET", path)
        assert r.status == 200, (path, r.raw)
        assert b"marketplace" not in r.raw and b"item_click" not in r.raw
        assert "default-src 'self'" in r.headers["Content-Security-Policy"]
    assert s.request("GET", "/ui/index.html").status == 404  # "/" is the one index
