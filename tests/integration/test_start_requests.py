"""Requests sent the instant serve logs its start line are answered as
after any other start (issue 12, point 1): the line no longer waits for what
a request may wait for instead (the registry's snapshot, made after the
line, which GET /v1/registry waits for; the langpacks, made in the
background). The registry here has an event file padded with 14 MB of
comments, so its snapshot takes a while to make after the line."""

import json
import shutil
import sqlite3
import subprocess
import threading
import time
import urllib.error
import urllib.request

from conftest import (EXAMPLES, REESTR, Server, clickstream, free_port,
                      query)


def padded_registry(tmp_path):
    registry = tmp_path / "registry"
    shutil.copytree(EXAMPLES, registry)
    path = registry / "events" / "clickstream_event.yaml"
    with open(path, "a") as f:
        for i in range(200000):
            f.write(f"# padding line {i}: the snapshot of this registry "
                    f"takes a while to make\n")
    return registry


def files_of(registry):
    """{path: content} of the registry's YAML and .proto files, as the
    snapshot lists them."""
    return {str(p.relative_to(registry)): p.read_text()
            for p in registry.rglob("*")
            if p.suffix in (".yaml", ".yml", ".proto")}


def get(url, method="GET", body=None, headers=None):
    req = urllib.request.Request(url, data=body, method=method,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_every_route_answers_right_at_the_start_line(tmp_path):
    registry = padded_registry(tmp_path)
    data = tmp_path / "data"
    # a first start makes the store, its views, the cache and the
    # langpacks; the restart below is the one whose line is raced
    first = Server(registry, data).start()
    first.langpacks()
    first.stop()

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "restart.log"
    with open(log, "wb") as logf:
        proc = subprocess.Popen(
            [REESTR, "serve", "--insecure-local", "--registry", str(registry), "--data",
             str(data), "--listen", f"127.0.0.1:{port}", "--dev"],
            stdout=logf, stderr=logf)
    try:
        deadline = time.monotonic() + 60
        while b"reestr serve: listening on " not in log.read_bytes():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.001)
        event = clickstream()
        requests = {
            "events": ("POST", "/v1/events",
                       json.dumps({"events": [event]}).encode(),
                       {"Content-Type": "application/json"}),
            "registry": ("GET", "/v1/registry", None, None),
            "healthz": ("GET", "/healthz", None, None),
            "limits": ("GET", "/v1/limits", None, None),
            "stats": ("GET", "/v1/stats", None, None),
            "schema": ("GET", "/v1/mobile/schema", None, None),
            "versions": ("GET", "/langpack/python/versions?environment=bo",
                         None, None),
        }
        answers = {}

        def send(name, method, path, body, headers):
            answers[name] = get(url + path, method, body, headers)

        threads = [threading.Thread(target=send, args=(name, *r))
                   for name, r in requests.items()]
        for t in threads:
            t.start()
        for t in threads:
            t.join(90)
        assert set(answers) == set(requests)
        # the store finishes opening after the line: until then /healthz
        # says so (503), and events wait for it
        status, body = answers.pop("healthz")
        assert status == 200 or (status == 503 and b"store is opening" in
                                 body), (status, body)
        for name, (status, body) in answers.items():
            assert status == 200, (name, status, body)

        result = json.loads(answers["events"][1])
        assert result["accepted"] == 1, result
        snapshot = json.loads(answers["registry"][1])
        assert {f["path"]: f["content"] for f in snapshot["files"]} == \
            files_of(registry)
        assert get(url + "/healthz") == (200, b'{"status":"ok"}')
        assert json.loads(answers["limits"][1])
        assert b"message" in answers["schema"][1]
        versions = json.loads(answers["versions"][1])
        assert versions, versions
        rows = query(data, "SELECT uuid FROM clickstream_event_v0 "
                     f"WHERE uuid = '{event['uuid']}'")
        assert rows == [{"uuid": event["uuid"]}]
    finally:
        proc.terminate()
        assert proc.wait(30) == 0, log.read_text()


def test_a_store_that_cannot_be_opened_still_stops_serve(tmp_path):
    """The store finishes opening after the start line (its writer thread
    reads the schema and syncs the views), yet a store serve cannot use (a
    newer reestr's) still stops it with the reason and status 1; the
    events sent meanwhile are refused with it, never acknowledged."""
    registry = tmp_path / "registry"
    shutil.copytree(EXAMPLES, registry)
    data = tmp_path / "data"
    first = Server(registry, data).start()
    first.langpacks()
    first.stop()
    db = sqlite3.connect(data / "reestr.db")
    db.execute("PRAGMA user_version = 99")
    db.commit()
    db.close()
    port = free_port()
    proc = subprocess.Popen(
        [REESTR, "serve", "--insecure-local", "--registry", str(registry), "--data", str(data),
         "--listen", f"127.0.0.1:{port}", "--dev"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, err
    assert "schema version 99" in err and "upgrade reestr" in err, err
