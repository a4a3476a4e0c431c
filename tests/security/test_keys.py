"""Write and read keys (docs/security.md): each attack is answered as the
docs say, and nothing of it is stored."""

import base64
import json
import os
import re
import subprocess
import time

import pytest

from conftest import support

REESTR = support.REESTR
clickstream = support.clickstream


def keys(data, *args, check=True, env=None):
    out = subprocess.run([REESTR, "keys", *args, "--data", str(data)],
                         capture_output=True, text=True, env=env)
    if check:
        assert out.returncode == 0, out.stderr
    return out


def create(data, *args):
    """A new key's text (printed once, on stdout) and its id."""
    out = keys(data, "create", *args)
    key = out.stdout.strip()
    m = re.fullmatch(r"rk_(live|pub|read)_([0-9a-f]{16})_[0-9a-f]{64}", key)
    assert m, out.stdout
    return key, m.group(2)


def post(server, events, key=None, headers=None, path="/v1/events"):
    h = {"Content-Type": "application/json"}
    if key:
        h["Authorization"] = f"Bearer {key}"
    h.update(headers or {})
    return server.request("POST", path, json.dumps({"events": events}).encode(), h)


def stored(server):
    """Rows in the store: accepted events and failed ones."""
    q = support.query(server.data, "SELECT (SELECT count(*) FROM events) AS e, "
                      "(SELECT count(*) FROM failed_events) AS f")
    return q[0]["e"], q[0]["f"]


def audit(data):
    path = data / "audit.log"
    return [json.loads(line) for line in path.read_text().splitlines()]


def wait_audit(data, action, timeout=10):
    """The audit lines once one has `action`: serve appends its "registry
    start" line after the start line (with the snapshot's digest, made
    after it), so a test that reads at the start line can be early."""
    deadline = time.monotonic() + timeout
    while True:
        lines = audit(data) if (data / "audit.log").exists() else []
        if any(l["action"] == action for l in lines):
            return lines
        assert time.monotonic() < deadline, f"no {action!r} in {lines}"
        time.sleep(0.05)


@pytest.fixture
def keyed(make_server, tmp_path):
    """serve without --insecure-local, with one write key for
    example-service in environment bo."""
    data = tmp_path / "data"
    key, kid = create(data, "example-service", "--environment", "bo")
    s = make_server(data=data)
    s.key, s.kid = key, kid
    return s


def test_no_keys_yet_starts_and_says_how_to_make_the_first(make_server, tmp_path):
    s = make_server()
    line = [l for l in s.log.read_text().splitlines() if "listening on" in l][-1]
    assert "no keys yet" in line and "reestr keys create SOURCE" in line, line
    r = post(s, [clickstream()])
    assert r.status == 401, r.raw
    assert "missing key" in r.json()["error"]
    assert r.headers.get("WWW-Authenticate", "").startswith("Bearer")
    assert stored(s) == (0, 0)


def test_unauthenticated_unknown_and_malformed_writes(keyed):
    # the attacker of issue 14: an anonymous curl posting billing-worker's events
    r = post(keyed, [clickstream(source="billing-worker")])
    assert r.status == 401 and "missing key" in r.json()["error"], r.raw
    # a key of the right shape this collector never made
    forged = "rk_live_" + keyed.kid + "_" + "0" * 64
    r = post(keyed, [clickstream()], key=forged)
    assert r.status == 401 and "unknown key" in r.json()["error"], r.raw
    assert "0" * 64 not in r.raw.decode()  # the secret is never echoed
    r = post(keyed, [clickstream()], key="rk_live_nothex")
    assert r.status == 401 and "malformed key" in r.json()["error"], r.raw
    r = post(keyed, [clickstream()], headers={"Authorization": "Digest x"})
    assert r.status == 401 and "malformed credentials" in r.json()["error"]
    # the mobile and external routes too
    r = keyed.request("POST", "/v1/mobile", b"", {"Content-Type": "application/x-protobuf"})
    assert r.status == 401, r.raw
    r = keyed.request("POST", "/v1/external/partner_signal", b"{}",
                      {"Content-Type": "application/json"})
    assert r.status == 401, r.raw
    assert stored(keyed) == (0, 0)
    # and the real key works
    r = post(keyed, [clickstream()], key=keyed.key)
    assert r.status == 200 and r.json()["accepted"] == 1, r.raw
    assert stored(keyed) == (1, 0)


def test_wrong_source_and_environment_are_forbidden_per_event(keyed):
    other = clickstream(source="billing-worker")
    r = post(keyed, [other], key=keyed.key)
    assert r.status == 403, r.raw
    res = r.json()["results"][0]
    assert res["status"] == "rejected" and res["code"] == 403
    assert "billing-worker" in res["error"] and keyed.kid in res["error"]
    assert stored(keyed) == (0, 0)  # not even in failed_events
    # a batch mixing them: the key's event stored, the others refused
    good = clickstream()
    wrong_env = clickstream(environment="front")
    r = post(keyed, [good, other, wrong_env], key=keyed.key)
    assert r.status == 200, r.raw
    body = r.json()
    assert body["accepted"] == 1 and body["rejected"] == 2, body
    assert [x["status"] for x in body["results"]] == ["accepted", "rejected", "rejected"]
    assert body["results"][1]["code"] == 403 and body["results"][2]["code"] == 403
    assert "environment" in body["results"][2]["error"]
    assert stored(keyed) == (1, 0)
    rows = keyed.query("SELECT uuid, source FROM events")
    assert rows == [{"uuid": good["uuid"], "source": "example-service"}]
    # the operator sees it: a line naming the key, not the secret
    log = keyed.log.read_text()
    assert f"2 of 3 events forbidden to the write key {keyed.kid}" in log, log
    assert keyed.key not in log


def test_revoked_key(keyed):
    assert post(keyed, [clickstream()], key=keyed.key).status == 200
    keys(keyed.data, "revoke", keyed.kid)
    time.sleep(0.3)
    r = post(keyed, [clickstream()], key=keyed.key)
    assert r.status == 401 and "revoked key" in r.json()["error"], r.raw
    assert stored(keyed) == (1, 0)
    again = keys(keyed.data, "revoke", keyed.kid, check=False)
    assert again.returncode == 1 and "already revoked" in again.stderr


def test_expired_key(make_server, tmp_path):
    data = tmp_path / "data"
    key, kid = create(data, "example-service", "--expires", "2s")
    s = make_server(data=data)
    assert post(s, [clickstream()], key=key).status == 200
    time.sleep(2.2)
    r = post(s, [clickstream()], key=key)
    assert r.status == 401 and "expired key" in r.json()["error"], r.raw
    assert stored(s) == (1, 0)
    listed = json.loads(keys(data, "list", "--format", "json").stdout)
    assert [k["state"] for k in listed] == ["expired"]
    bad = keys(data, "create", "x", "--expires", "yesterday", check=False)
    assert bad.returncode == 2 and "--expires" in bad.stderr


def test_rotated_key_inside_and_after_its_grace(keyed):
    out = keys(keyed.data, "rotate", keyed.kid, "--grace", "2s")
    new = out.stdout.strip()
    assert new.startswith("rk_live_") and new != keyed.key
    # inside the grace period both work
    assert post(keyed, [clickstream()], key=keyed.key).status == 200
    assert post(keyed, [clickstream()], key=new).status == 200
    time.sleep(2.3)
    r = post(keyed, [clickstream()], key=keyed.key)
    assert r.status == 401 and "rotated key" in r.json()["error"], r.raw
    assert post(keyed, [clickstream()], key=new).status == 200
    assert stored(keyed) == (3, 0)
    # the new key keeps the old one's rights
    r = post(keyed, [clickstream(source="billing-worker")], key=new)
    assert r.status == 403
    listed = {k["id"]: k for k in json.loads(keys(keyed.data, "list", "--format", "json").stdout)}
    assert listed[keyed.kid]["state"] == "rotated"
    new_id = new.split("_")[2]
    assert listed[new_id]["rotated_from"] == keyed.kid
    assert listed[new_id]["environment"] == "bo"


# a registry whose front environment lists two origins
BROWSER_REGISTRY = """\
owners:
  web_team: {contact: web@example.com}
sources:
  web-frontend: {owner: web_team}
environments:
  front:
    origins: ["https://www.example.com", "http://localhost:8000"]
    events: [page_view]
events:
  page_view:
    id: 1
    owner: web_team
    versions:
      - version: 0
        fields:
          path: {type: string}
"""


def test_publishable_key_only_from_its_origins(make_server, tmp_path):
    data = tmp_path / "data"
    reg = tmp_path / "registry"
    reg.mkdir()
    (reg / "registry.yaml").write_text(BROWSER_REGISTRY)
    # the registry's front environment lists both origins; the key only
    # the first
    key, kid = create(data, "web-frontend", "--publishable", "--environment",
                      "front", "--origin", "https://www.example.com")
    s = make_server(registry=reg, data=data)
    ev = {"event_id": 1, "version": 0, "uuid": support.uuid7(),
          "time": support.now_rfc3339(), "environment": "front",
          "source": "web-frontend", "fields": {"path": "/"}}
    beacon = {"Content-Type": "text/plain"}
    r = post(s, [ev], headers={**beacon, "Origin": "http://localhost:8000"},
             path=f"/v1/beacon?key={key}")
    assert r.status == 403 and "publishable key" in r.json()["error"], r.raw
    assert kid in r.json()["error"]
    r = post(s, [ev], headers=beacon, path=f"/v1/beacon?key={key}")
    assert r.status == 403  # no Origin: not a browser's beacon
    # a write key in a URL is refused: URLs end up in logs
    wkey, _ = create(data, "example-service")
    r = post(s, [ev], headers={**beacon, "Origin": "https://www.example.com"},
             path=f"/v1/beacon?key={wkey}")
    assert r.status == 401 and "only a publishable key" in r.json()["error"]
    # a publishable key cannot read
    r = s.request("GET", "/v1/registry", headers={"Authorization": f"Bearer {key}"})
    assert r.status == 403
    assert stored(s) == (0, 0)
    # a page's fetch sends the key in a header: its preflight may ask for it
    r = s.request("OPTIONS", "/v1/events", None, {
        "Origin": "https://www.example.com",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type, authorization"})
    assert r.status == 204, r.raw
    assert "authorization" in r.headers["Access-Control-Allow-Headers"].lower()
    r = post(s, [ev], key=key, headers={"Origin": "https://www.example.com"})
    assert r.status == 200 and r.json()["accepted"] == 1, r.raw
    ev = dict(ev, uuid=support.uuid7())
    assert post(s, [ev], key=key).status == 403  # no Origin: not a browser
    # from its own origin its events go through the usual checks: the
    # answer is per event, not a refusal of the key
    r = post(s, [ev], headers={**beacon, "Origin": "https://www.example.com"},
             path=f"/v1/beacon?key={key}")
    assert r.status == 200 and r.json()["accepted"] == 1, r.raw
    assert stored(s) == (2, 0)


def test_read_routes_need_a_read_key(keyed):
    reader, _ = create(keyed.data, "analyst", "--read")
    time.sleep(0.3)
    r = keyed.request("GET", "/v1/stats")
    assert r.status == 401 and "read key" in r.json()["error"], r.raw
    r = keyed.request("GET", "/v1/stats", headers={"Authorization": f"Bearer {keyed.key}"})
    assert r.status == 403 and "write key" in r.json()["error"], r.raw
    r = keyed.request("GET", "/v1/stats", headers={"Authorization": f"Bearer {reader}"})
    assert r.status == 200, r.raw
    assert keyed.request("GET", "/v1/registry").status == 401
    for k in (reader, keyed.key):  # a sender needs the registry to check its events
        r = keyed.request("GET", "/v1/registry", headers={"Authorization": f"Bearer {k}"})
        assert r.status == 200, r.raw
    # a read key cannot write
    r = post(keyed, [clickstream()], key=reader)
    assert r.status == 403 and stored(keyed) == (0, 0)
    # public: health, limits, the mobile schema, and (by default) packages
    for path in ("/healthz", "/v1/limits", "/v1/mobile/schema",
                 "/langpack/go/versions?environment=bo"):
        assert keyed.request("GET", path).status == 200, path


def test_private_packages_take_http_basic(make_server, tmp_path):
    data = tmp_path / "data"
    reader, _ = create(data, "developer", "--read")
    s = make_server(data=data, extra_args=["--private-packages"])
    path = "/langpack/go/versions?environment=bo"
    r = s.request("GET", path)
    assert r.status == 401 and r.headers.get("WWW-Authenticate") == 'Basic realm="reestr"'
    basic = base64.b64encode(f"reestr:{reader}".encode()).decode()
    r = s.request("GET", path, headers={"Authorization": f"Basic {basic}"})
    assert r.status == 200, r.raw
    # the key as the user name, no password (netrc's login line alone)
    basic = base64.b64encode(f"{reader}:".encode()).decode()
    assert s.request("GET", path, headers={"Authorization": f"Basic {basic}"}).status == 200


def test_revocation_reaches_a_running_serve_within_a_second(keyed):
    assert post(keyed, [clickstream()], key=keyed.key).status == 200
    keys(keyed.data, "revoke", keyed.kid)
    t0 = time.monotonic()
    while True:
        r = post(keyed, [clickstream()], key=keyed.key)
        elapsed = time.monotonic() - t0
        if r.status == 401:
            break
        assert r.status == 200
        assert elapsed < 1.0, "still accepted a second after the revocation"
        time.sleep(0.02)
    assert elapsed < 1.0, elapsed
    assert "revoked key" in r.json()["error"]
    events, _ = stored(keyed)
    assert events >= 1  # at most those sent before the store said revoked


def test_audit_log_has_every_key_change_and_registry_load(keyed):
    out = keys(keyed.data, "rotate", keyed.kid, "--grace", "1h")
    new = out.stdout.strip()
    new_id = new.split("_")[2]
    keys(keyed.data, "revoke", new_id)
    lines = wait_audit(keyed.data, "registry start")
    actions = [(l["action"], l.get("id")) for l in lines]
    assert ("key create", keyed.kid) in actions
    assert ("key rotate", new_id) in actions
    assert ("key revoke", new_id) in actions
    rot = next(l for l in lines if l["action"] == "key rotate")
    assert rot["rotated_from"] == keyed.kid and rot["grace_until"]
    for l in lines:
        assert l["who"] and l["time"]
    start = [l for l in lines if l["action"] == "registry start"]
    assert len(start) == 1 and re.fullmatch(r"[0-9a-f]{64}", start[0]["digest"])
    # no key text anywhere in the data folder
    for f in keyed.data.iterdir():
        if f.is_file():
            blob = f.read_bytes()
            assert keyed.key.encode() not in blob and new.encode() not in blob, f
            assert keyed.key.split("_")[3].encode() not in blob, f
    assert (keyed.data / "server.secret").stat().st_mode & 0o077 == 0


def test_registry_reload_is_audited(make_server, tmp_path):
    import shutil
    reg = tmp_path / "reg"
    shutil.copytree(support.FIXTURE_REGISTRY, reg)
    s = make_server(registry=reg)
    before = len(wait_audit(s.data, "registry start"))
    f = reg / "registry.yaml"
    f.write_text(f.read_text() + "\n# touched\n")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if any(l["action"] == "registry reload" for l in audit(s.data)[before:]):
            break
        time.sleep(0.1)
    reloads = [l for l in audit(s.data) if l["action"] == "registry reload"]
    assert reloads, s.log.read_text()
    starts = [l for l in audit(s.data) if l["action"] == "registry start"]
    assert reloads[-1]["digest"] != starts[-1]["digest"]


def test_send_takes_the_key_from_reestr_key(keyed):
    args = [REESTR, "send", "--collector", keyed.url, "--environment", "bo",
            "--source", "example-service", "--event", "clickstream_event",
            "--version", "0", "--json", json.dumps(clickstream()["fields"])]
    env = {k: v for k, v in os.environ.items() if k != "REESTR_KEY"}
    out = subprocess.run(args, capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode != 0 and "401" in out.stderr, out.stderr
    assert stored(keyed) == (0, 0)
    out = subprocess.run(args, capture_output=True, text=True, timeout=60,
                         env={**env, "REESTR_KEY": keyed.key})
    assert out.returncode == 0, out.stderr
    assert stored(keyed) == (1, 0)


def test_insecure_local_binds_loopback_only_and_says_so(tmp_path, make_server):
    out = subprocess.run([REESTR, "serve", "--insecure-local", "--dev", "--data",
                          str(tmp_path / "d"), "--listen", "0.0.0.0:0"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "loopback" in out.stderr, out.stderr
    assert not (tmp_path / "d").exists()
    s = make_server(insecure=True)
    line = [l for l in s.log.read_text().splitlines() if "listening on" in l][-1]
    assert "--insecure-local" in line, line
    assert post(s, [clickstream()]).status == 200
    assert s.request("GET", "/v1/stats").status == 200


def test_collectors_share_one_keys_folder(make_server, tmp_path):
    """--keys DIR: collectors behind one address check the same keys; a
    revocation reaches each within a second."""
    shared = tmp_path / "keys"
    key, kid = create(shared, "example-service")
    a = make_server(data=tmp_path / "a", extra_args=["--keys", str(shared)])
    b = make_server(data=tmp_path / "b", extra_args=["--keys", str(shared)])
    for s in (a, b):
        assert post(s, [clickstream()], key=key).status == 200
        assert not (s.data / "keys.db").exists()
    keys(shared, "revoke", kid)
    time.sleep(1.0)
    for s in (a, b):
        r = post(s, [clickstream()], key=key)
        assert r.status == 401 and "revoked key" in r.json()["error"], r.raw
    out = subprocess.run([REESTR, "serve", "--insecure-local", "--keys", str(shared),
                          "--data", str(tmp_path / "c"), "--listen", "127.0.0.1:0"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "--keys needs keys" in out.stderr
