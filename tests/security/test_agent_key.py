"""The agent's own key (docs/security.md, "Senders and the agent"): from
REESTR_KEY, sent with every batch; without it a keyed collector refuses
the batches and the events stay in the spool until the key is given;
events of a source the key does not list are rejected, not stored."""

import json
import os
import socket
import subprocess
import time

from conftest import support

REESTR = support.REESTR


def start_agent(tmp, url, key):
    sock = str(tmp / "agent.sock")
    env = {k: v for k, v in os.environ.items() if k != "REESTR_KEY"}
    if key:
        env["REESTR_KEY"] = key
    log = open(tmp / "agent.log", "ab")
    proc = subprocess.Popen([REESTR, "agent", "--socket", sock, "--spool",
                             str(tmp / "spool"), "--collector", url],
                            stdout=log, stderr=log, env=env)
    log.close()
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(sock)
                return proc, sock
        except OSError:
            time.sleep(0.05)
    raise AssertionError((tmp / "agent.log").read_text())


def send(sock, events):
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(sock)
        s.sendall(("\n".join(json.dumps(e) for e in events) + "\n").encode())
        data = b""
        while data.count(b"\n") < len(events):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return data.decode().splitlines()


def stop(proc):
    proc.terminate()
    assert proc.wait(timeout=60) == 0


def count(server):
    return server.query("SELECT count(*) AS n FROM events")[0]["n"]


def test_agent_forwards_with_its_key_and_holds_events_without_it(make_server, tmp_path):
    data = tmp_path / "data"
    out = subprocess.run([REESTR, "keys", "create", "example-service", "other-service",
                          "--data", str(data)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    key = out.stdout.strip()
    s = make_server(data=data)
    # no key: the events are spooled, refused by the collector, kept
    a = tmp_path / "a"
    a.mkdir()
    proc, sock = start_agent(a, s.url, None)
    events = [support.clickstream() for _ in range(3)]
    assert send(sock, events) == ["ok"] * 3
    time.sleep(2)
    assert count(s) == 0
    assert "answered 401" in (a / "agent.log").read_text()
    stop(proc)
    # the same spool with the key: delivered, each once
    proc, sock = start_agent(a, s.url, key)
    deadline = time.time() + 60
    while count(s) < 3 and time.time() < deadline:
        time.sleep(0.2)
    assert count(s) == 3
    # a source the key does not list: rejected, stored nowhere
    assert send(sock, [support.clickstream(source="billing-worker")]) == ["ok"]
    ok = support.clickstream()
    assert send(sock, [ok]) == ["ok"]
    deadline = time.time() + 60
    while count(s) < 4 and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)
    stop(proc)
    assert count(s) == 4
    assert support.query(data, "SELECT count(*) AS n FROM failed_events")[0]["n"] == 0
    sources = {r["source"] for r in s.query("SELECT DISTINCT source FROM events")}
    assert sources == {"example-service"}
