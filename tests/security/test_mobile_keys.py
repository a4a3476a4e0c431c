"""Keys and personal data together on the mobile route (POST /v1/mobile,
real protobuf): the key is checked per event before validation (an event
of another source is answered 403 and kept nowhere, so its personal data
cannot leak), then the app's environment's pii policy applies to what is
kept, in the rows and in failed_events."""

import hashlib
import hmac
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
from conftest import query, support  # noqa: E402
from test_keys import create, stored  # noqa: E402
from test_pii import EMAIL, IP, PHONE, REGISTRY, no_clear_pii, write_registry  # noqa: E402

APP_REGISTRY = REGISTRY.replace(
    "  svc: {owner: team}",
    "  svc: {owner: team}\n  phone-app: {owner: team, app: {id: "
    "com.example.app, environment: hashed}}")
PARAMS = {"user.id": "5", "user.email": EMAIL, "user.ip": IP,
          "phone": str(PHONE), "plan": "paid"}


def mac(key, text):
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def events():
    """An event the policy hashes, one validation refuses (id 0), and one
    whose params do not convert (refused before validation)."""
    return [{"eventId": 7, "version": 0, "timestamp_ms": 1764547200000,
             "params": p} for p in (PARAMS, dict(PARAMS, **{"user.id": "0"}),
                                    dict(PARAMS, phone="12ab"))]


@pytest.fixture
def keyed_app(make_server, tmp_path):
    """serve with keys (no --insecure-local) on a registry whose app sends
    to the hashed environment; a write key for the app's source and one
    for another source."""
    reg = write_registry(tmp_path / "reg", APP_REGISTRY)
    data = tmp_path / "data"
    s = make_server(registry=reg, data=data)
    s.app_key, _ = create(data, "phone-app")
    s.other_key, _ = create(data, "svc")
    s.env_key, _ = create(data, "phone-app", "--environment", "keep")
    return s


def post_mobile(s, key):
    from mobile_common import batch, post_json
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return post_json(s, batch(events(), app_id="com.example.app"),
                     headers=headers)


def test_mobile_without_a_key_is_refused(keyed_app):
    from mobile_common import batch, post
    r = post(keyed_app, batch(events(), app_id="com.example.app"))
    assert r.status == 401, r.raw
    assert stored(keyed_app) == (0, 0)


@pytest.mark.parametrize("which", ["other_key", "env_key"])
def test_mobile_key_of_another_source_or_environment_stores_nothing(
        keyed_app, which):
    r = post_mobile(keyed_app, getattr(keyed_app, which))
    assert r.status == 403, r.raw
    rs = r.json()["results"]
    assert [x["status"] for x in rs] == ["rejected"] * 3
    for x in rs:
        no_clear_pii(x["error"])
    # forbidden, each (the one refused before validation too, by the
    # app's environment): not stored, not even in failed_events
    assert stored(keyed_app) == (0, 0)
    assert keyed_app.proc.poll() is None  # and the collector still runs


def test_mobile_key_of_the_app_gets_the_policy(keyed_app):
    r = post_mobile(keyed_app, keyed_app.app_key)
    assert r.status == 200, r.raw
    assert [x["status"] for x in r.json()["results"]] == [
        "accepted", "rejected", "rejected"]
    key = (keyed_app.data / "pii.key").read_bytes().rstrip(b"\n")
    [row] = query(keyed_app.data, "SELECT user_email, user_ip, phone, "
                  "(SELECT fields FROM events) AS fields FROM signup_v0")
    assert row["user_email"] == mac(key, EMAIL)
    assert row["phone"] == mac(key, str(PHONE))
    no_clear_pii(row["fields"])
    f, g = query(keyed_app.data, "SELECT reason, payload FROM failed_events "
                 "ORDER BY rowid")
    for x in (f, g):
        no_clear_pii(x["payload"])
        assert "12ab" not in x["reason"]
    assert json.loads(f["payload"])["fields"]["user"] == {
        "id": 0, "email": mac(key, EMAIL), "ip": mac(key, IP)}
    assert "withheld" in json.loads(g["payload"])
