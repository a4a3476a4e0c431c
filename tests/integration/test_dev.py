"""`reestr serve --dev` (issue 12, point 2): versions not yet published
(not in registry.lock) are served only in development mode, and flagged
there — in each event's answer, in /v1/registry, in the generated classes
and in the start line. Without --dev a registry with unpublished versions
in an environment is refused, naming them and the fix. Why:
docs/registry.md, "Publishing"."""

import io
import json
import shutil
import tarfile
import time

import pytest

from conftest import EXAMPLES, clickstream, run


@pytest.fixture
def published(tmp_path):
    reg = tmp_path / "registry"
    shutil.copytree(EXAMPLES, reg)
    out = run("publish", str(reg))
    assert out.returncode == 0, out.stderr
    return reg


def serve_once(reg, data, *args):
    """serve that is expected to refuse: its exit and output."""
    return run("serve", *args, "--registry", str(reg), "--data", str(data),
               "--listen", "127.0.0.1:0", timeout=60)


def start_line(server):
    # /healthz may answer before the line is written (the langpacks of
    # every environment are made first): wait for it
    deadline = time.time() + 30
    while True:
        lines = [line for line in server.log.read_text().splitlines()
                 if "reestr serve: listening on" in line]
        if lines or time.time() > deadline:
            break
        time.sleep(0.05)
    assert lines, server.log.read_text()
    return lines[-1]


def langpack_text(server, lang="python"):
    """Every file of the environment bo's latest langpack, joined."""
    resp = server.request("POST", f"/langpack/{lang}/latest/",
                          json.dumps({"environment": "bo"}).encode(),
                          {"Content-Type": "application/json"})
    assert resp.status == 200, resp.raw
    with tarfile.open(fileobj=io.BytesIO(resp.raw)) as t:
        return "".join(t.extractfile(m).read().decode()
                       for m in t.getmembers() if m.isfile())


def test_without_dev_an_unpublished_registry_is_refused(tmp_path):
    out = serve_once(EXAMPLES, tmp_path / "data")
    assert out.returncode == 1, out.stderr
    # each version at its place, then one line with the names and the fix
    assert ("events/clickstream_event.yaml:9:9: clickstream_event v0 is not "
            "published") in out.stderr, out.stderr
    assert "item_click v1 is not published" in out.stderr
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith(f"reestr serve: registry {EXAMPLES} has 10 "
                           "unpublished versions (clickstream_event v0, "
                           "item_click v0, item_click v1,"), last
    assert f"'reestr publish {EXAMPLES}'" in last
    assert "'reestr serve --dev'" in last
    # refused before the store was opened
    assert not (tmp_path / "data" / "reestr.db").exists()


def test_dev_serves_and_flags_unpublished_versions(make_server):
    server = make_server()  # the example registry, with --dev
    line = start_line(server)
    assert ("--dev: 10 unpublished versions served, flagged \"unpublished\" "
            "(clickstream_event v0, item_click v0, item_click v1, "
            "item_view v0, legacy_item_favorite v0, payment v0, "
            "messenger_message v0, search_query v0, partner_signal v0, "
            "ad_auction v0)") in line
    ev = clickstream()
    first = server.post_events([ev, {"event_id": 100}]).json()
    assert first["results"][0] == {"status": "accepted", "unpublished": True}
    assert first["results"][1]["status"] == "rejected"
    assert "unpublished" not in first["results"][1]
    again = server.post_events([ev]).json()
    assert again["results"] == [{"status": "duplicate", "unpublished": True}]

    snapshot = server.request("GET", "/v1/registry").json()
    assert {"event": "clickstream_event", "id": 100, "version": 0} in \
        snapshot["unpublished"]
    assert len(snapshot["unpublished"]) == 10  # bo, and partners

    text = langpack_text(server)
    assert "class ClickstreamEventV0(Event):" in text
    assert text.count("Unpublished (development only)") == 9  # all of bo


def test_a_published_registry_needs_no_dev_and_carries_no_flag(
        published, make_server):
    server = make_server(registry=published, dev=False)
    assert "--dev" not in start_line(server)
    resp = server.post_events([clickstream()]).json()
    assert resp["results"] == [{"status": "accepted"}]
    assert "unpublished" not in server.request("GET", "/v1/registry").json()
    text = langpack_text(server)
    assert "class ClickstreamEventV0(Event):" in text
    assert "Unpublished" not in text


def test_only_the_unpublished_versions_are_named_and_flagged(
        published, make_server, tmp_path):
    # a new version after publishing: only it is unpublished
    path = published / "events" / "clickstream_event.yaml"
    text = path.read_text()
    assert "versions:\n" in text
    path.write_text(text + (
        "      - version: 1\n"
        "        fields:\n"
        "          url: {type: string, max_length: 2048}\n"))
    assert run("check", str(published)).returncode == 0
    out = serve_once(published, tmp_path / "refused")
    assert out.returncode == 1, out.stderr
    assert "has 1 unpublished version (clickstream_event v1)" in out.stderr
    assert "clickstream_event v0 is not" not in out.stderr

    server = make_server(registry=published)
    assert "--dev: 1 unpublished version served" in start_line(server)
    v0, v1 = clickstream(), clickstream()
    v1["version"] = 1
    v1["fields"] = {"url": "https://example.com/"}
    resp = server.post_events([v0, v1]).json()
    assert resp["results"] == [{"status": "accepted"},
                               {"status": "accepted", "unpublished": True}]
    text = langpack_text(server, "go")
    assert text.count("Unpublished (development only)") == 1
    at = text.index("Unpublished (development only)")
    assert text.index("type ClickstreamEventV1 struct") > at
    assert text.rfind("type ", 0, at) < text.rfind("ClickstreamEventV1 is", 0, at)


def test_unpublished_versions_nothing_serves_do_not_refuse(published, make_server):
    # an event in no environment, and a decommissioned version: no
    # collector stores them, so they need no publishing
    (published / "events" / "draft.yaml").write_text(
        "events:\n  draft_event:\n    id: 9001\n    owner: marketplace\n"
        "    description: Not listed anywhere yet.\n    versions:\n"
        "      - version: 0\n        fields:\n          q: {type: string}\n")
    path = published / "events" / "payment.yaml"
    path.write_text(path.read_text() + (
        "      - version: 1\n        status: decommissioned\n"
        "        fields:\n          amount: {type: int}\n"))
    assert run("check", str(published)).returncode == 0
    server = make_server(registry=published, dev=False)
    assert "--dev" not in start_line(server)
