"""Published event versions never change (issue 4, point 1): `reestr
publish` freezes them in registry.lock, and `reestr check`, `serve` and
`gen` refuse a registry that edits or removes one, deletes a published
event, or reuses its id. A new version is always fine."""

import re
import shutil
import socket

import pytest

from conftest import EXAMPLES, run


@pytest.fixture
def registry(tmp_path):
    reg = tmp_path / "registry"
    shutil.copytree(EXAMPLES, reg)
    out = run("publish", str(reg))
    assert out.returncode == 0, out.stderr
    assert "10 event versions published now" in out.stdout
    return reg


def edit(path, old, new):
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def check_fails(reg, *expected):
    out = run("check", str(reg))
    assert out.returncode == 1, out.stdout + out.stderr
    for text in expected:
        assert re.search(text, out.stderr), out.stderr
    return out.stderr


def test_publish_again_publishes_nothing_new_and_check_passes(registry):
    out = run("publish", str(registry))
    assert "0 event versions published now" in out.stdout
    assert run("check", str(registry)).returncode == 0


def test_editing_a_published_version_is_refused_naming_what_changed(registry):
    edit(registry / "events" / "payment.yaml", "max_length: 64", "max_length: 65")
    check_fails(registry,
                r"events/payment\.yaml:\d+:\d+: payment v0 was published and has changed "
                r"\(fields\.payment_id: string, max_length 64, pattern \[a-z0-9-\]\+ -> "
                r"string, max_length 65, pattern \[a-z0-9-\]\+\); a published version "
                r"never changes: add version 1 with the change instead")


def test_editing_a_shared_object_is_an_edit_of_every_version_using_it(registry):
    edit(registry / "objects" / "geo.yaml", "max: 90", "max: 91")
    err = check_fails(registry, r"clickstream_event v0 was published and has changed "
                                r"\(fields\.geo\.latitude: float, min -90, max 90 -> float, min -90, max 91\)")
    assert "item_view v0" in err  # location.point is a geo too


def test_removing_a_field_or_reordering_is_a_change(registry):
    text = (registry / "events" / "clickstream_event.yaml").read_text()
    # move user_agent before geo: the wire order changes
    ua = re.search(r"\n          user_agent:.*?(?=\n          \w|\Z)", text, re.S).group(0)
    text = text.replace(ua, "")
    text = text.replace("\n          geo:", ua + "\n          geo:", 1)
    (registry / "events" / "clickstream_event.yaml").write_text(text)
    check_fails(registry, r"clickstream_event v0 was published and has changed \(the order of the fields changed\)")


def test_removing_a_published_version_is_refused(registry):
    text = (registry / "events" / "item_click.yaml").read_text()
    (registry / "events" / "item_click.yaml").write_text(text[:text.index("      - version: 1")])
    check_fails(registry, r"item_click v1 was published and cannot be removed; "
                          r"set its status to decommissioned instead")


def test_deleting_a_published_event_is_refused(registry):
    (registry / "events" / "ad_auction.yaml").unlink()
    edit(registry / "environments.yaml", "      - ad_auction\n", "")
    check_fails(registry, r"registry\.lock:\d+:\d+: event ad_auction \(id 600\) was published "
                          r"and cannot be deleted; set its status to decommissioned instead")


def test_reusing_a_published_id_is_refused(registry):
    (registry / "events" / "ad_auction.yaml").unlink()
    edit(registry / "environments.yaml", "      - ad_auction\n", "      - bid_made\n")
    (registry / "events" / "bid_made.yaml").write_text(
        "events:\n  bid_made:\n    id: 600\n    owner: marketplace\n    versions:\n"
        "      - version: 0\n        fields:\n          amount: int\n")
    check_fails(registry, r"events/bid_made\.yaml:\d+:\d+: event id 600 was published as "
                          r"ad_auction; an id is never reused: give bid_made a new id")


def test_a_new_version_descriptions_and_lifecycle_are_fine(registry):
    path = registry / "events" / "clickstream_event.yaml"
    edit(path, "      A generic user", "      Still a generic user")
    path.write_text(path.read_text() + (
        "      - version: 1\n"
        "        fields:\n"
        "          user: user\n"
        "          user_agent: {type: string, max_length: 1024}\n"))
    edit(registry / "events" / "item_click.yaml", "      - version: 0\n",
         "      - version: 0\n        status: decommissioned\n")
    out = run("check", str(registry))
    assert out.returncode == 0, out.stderr
    out = run("publish", str(registry))
    assert "1 event version published now" in out.stdout, out.stdout
    out = run("diff", "--registry", str(registry), "clickstream_event", "0", "1")
    assert out.returncode == 0
    assert out.stdout == ("clickstream_event v0 -> v1:\n"
                          "fields.geo: removed\n"
                          "fields.geo.latitude: removed\n"
                          "fields.geo.longitude: removed\n"
                          "fields.user_agent: string, max_length 512 -> string, max_length 1024\n")


def test_serve_and_gen_refuse_a_registry_that_breaks_the_lock(registry, tmp_path):
    edit(registry / "events" / "payment.yaml", "max_length: 64", "max_length: 65")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = run("serve", "--registry", str(registry), "--data", str(tmp_path / "data"),
              "--listen", f"127.0.0.1:{port}", timeout=30)
    assert out.returncode != 0
    assert "payment v0 was published and has changed" in out.stderr
    out = run("gen", "--registry", str(registry), "--env", "bo", "--lang", "go",
              "--out", str(tmp_path / "lp"))
    assert out.returncode == 1
    assert "payment v0 was published and has changed" in out.stderr


def test_a_malformed_lock_file_is_reported_with_its_position(registry):
    (registry / "registry.lock").write_text('{"reestr_lock":1,"events":[\n{"id":100,}\n]}\n')
    check_fails(registry, r"registry\.lock:2:11: expected a string key in object")


def test_diff_of_unknown_event_or_version(registry):
    assert run("diff", "--registry", str(registry), "nope", "0", "1").returncode == 1
    out = run("diff", "--registry", str(registry), "100", "0", "7")
    assert out.returncode == 1 and "clickstream_event has no version 7" in out.stderr
