"""The audit log under a failing disk (docs/security.md, "The audit log"):
a key works only once its audit line is durable. With the fault-injection
shim (tests/fault/, tests/integration/fault_shim.py) failing the writes or
the fsync of DATA/audit.log alone, `reestr keys create` and `rotate` fail
with a clear error, print no key and leave none that works; a revocation
still takes effect, and says its line is missing."""

import importlib.util
import json
import os
import subprocess

import time

import pytest

from conftest import ROOT, support

_spec = importlib.util.spec_from_file_location(
    "fault_shim_support", ROOT / "tests" / "integration" / "fault_shim.py")
fault_shim = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fault_shim)

REESTR = support.REESTR
FAULTS = {"ENOSPC on write": {"write": "ENOSPC@1+"},
          "EIO on write": {"write": "EIO@1+"},
          "EIO on fsync": {"sync": "EIO@1+"}}


def keys(data, *args, env=None):
    return subprocess.run([REESTR, "keys", *args, "--data", str(data)],
                          capture_output=True, text=True, env=env)


def failing(data, log, faults):
    """An environment whose audit.log writes (or syncs) fail, and nothing
    else: keys.db and server.secret are written as usual."""
    return dict(os.environ, **fault_shim.shim_env(data / "audit.log", log, **faults))


def audit_lines(data):
    path = data / "audit.log"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def listed(data):
    out = keys(data, "list", "--format", "json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def post(server, key):
    event = support.clickstream()
    h = {"Content-Type": "application/json"}
    if key:
        h["Authorization"] = f"Bearer {key}"
    return server.request("POST", "/v1/events", json.dumps({"events": [event]}).encode(), h)


@pytest.mark.parametrize("fault", FAULTS, ids=list(FAULTS))
def test_create_prints_no_key_and_stores_none(fault, tmp_path):
    data = tmp_path / "data"
    # a first key, with a working disk: the folder, its secret and keys.db exist
    first = keys(data, "create", "example-service")
    assert first.returncode == 0, first.stderr
    log = tmp_path / "fault.log"
    out = keys(data, "create", "billing-worker", env=failing(data, log, FAULTS[fault]))
    assert out.returncode != 0
    assert out.stdout == "", f"a key was printed: {out.stdout!r}"
    assert "rk_" not in out.stderr
    assert "the audit log could not be written" in out.stderr and "no key was made" in out.stderr, \
        out.stderr
    assert str(data / "audit.log") in out.stderr, "the message names the file"
    # the shim did fail the audit log, and nothing else
    kinds = fault_shim.injected(log)
    assert kinds.get("write", 0) + kinds.get("sync", 0) >= 1, log.read_text()
    # no key of billing-worker exists; the log has no line of it, or (a
    # failed fsync: the write reached the file) its line and the one
    # saying it failed
    assert [k["sources"] for k in listed(data)] == ["example-service"]
    lines = [a["action"] for a in audit_lines(data) if a["sources"] == "billing-worker"]
    assert lines in ([], ["key create", "key create failed"]), lines


def test_rotate_keeps_the_old_key_only(make_server, tmp_path):
    data = tmp_path / "data"
    out = keys(data, "create", "example-service")
    assert out.returncode == 0, out.stderr
    old = out.stdout.strip()
    old_id = old.split("_")[2]
    server = make_server(data=data)
    out = keys(data, "rotate", old_id, env=failing(data, tmp_path / "fault.log", {"write": "ENOSPC@1+"}))
    assert out.returncode != 0 and out.stdout == "", out.stdout
    assert "no key was made" in out.stderr, out.stderr
    rows = listed(data)
    assert [(k["id"], k["state"]) for k in rows] == [(old_id, "valid")], rows
    assert post(server, old).status == 200
    before = support.query(data, "SELECT count(*) AS n FROM events")[0]["n"]
    assert before == 1


def test_revoke_takes_effect_and_says_the_line_is_missing(make_server, tmp_path):
    data = tmp_path / "data"
    out = keys(data, "create", "example-service")
    key = out.stdout.strip()
    key_id = key.split("_")[2]
    server = make_server(data=data)
    assert post(server, key).status == 200
    out = keys(data, "revoke", key_id, env=failing(data, tmp_path / "fault.log", {"sync": "EIO@1+"}))
    assert out.returncode != 0
    assert "revoked, but the audit log could not be written" in out.stderr, out.stderr
    # the safe side: the key no longer works (within a second; the
    # posts answered before that stored their events)
    deadline = time.time() + 5
    accepted = 0
    while time.time() < deadline:
        status = post(server, key).status
        if status == 401:
            break
        accepted += status == 200
        time.sleep(0.1)
    assert post(server, key).status == 401
    assert support.query(data, "SELECT count(*) AS n FROM events")[0]["n"] == 1 + accepted


@pytest.mark.parametrize("fault", FAULTS, ids=list(FAULTS))
def test_limit_change_needs_its_audit_line(fault, tmp_path):
    """A raised (or lifted) rate is a wider grant, so it works only once
    its line is durable, as a new key: on a failing audit log the rate
    stays as it was and the command says so."""
    data = tmp_path / "data"
    out = keys(data, "create", "example-service", "--events-per-second", "5")
    assert out.returncode == 0, out.stderr
    kid = listed(data)[0]["id"]
    log = tmp_path / "fault.log"
    out = keys(data, "limit", kid, "--events-per-second", "0",
               env=failing(data, log, FAULTS[fault]))
    assert out.returncode != 0
    assert "the limit was not changed" in out.stderr, out.stderr
    assert fault_shim.injected(log), log.read_text()
    assert listed(data)[0]["events_per_second"] == 5
    lines = [a["action"] for a in audit_lines(data) if a["id"] == kid]
    assert lines in (["key create"],
                     ["key create", "key limit", "key limit failed"]), lines
    out = keys(data, "limit", kid, "--events-per-second", "0")
    assert out.returncode == 0, out.stderr
    assert listed(data)[0]["events_per_second"] == 0
