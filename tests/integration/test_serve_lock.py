"""One collector per data folder (docs/collector.md, "One collector per data
folder"), and signals blocked before any thread starts."""

import signal
import sqlite3
import subprocess
import time

import pytest

from conftest import FIXTURE_REGISTRY, REESTR, free_port

# Fewer events than the fixture registry: before the fix a second collector
# started with it rewrote the first one's typed views and langpacks.
SMALLER_REGISTRY = """\
owners:
  test_team:
    contact: test-team@example.com
sources:
  test-service:
    owner: test_team
environments:
  bo:
    events: [page_view]
objects:
  user:
    fields:
      id: {type: int, min: 1}
events:
  page_view:
    id: 1
    owner: test_team
    versions:
      - version: 0
        fields:
          user: user
"""


def views(data):
    with sqlite3.connect(data / "reestr.db") as db:
        return {r[0] for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'view'")}


def langpack_versions(data):
    with sqlite3.connect(data / "langpacks.db") as db:
        return db.execute("SELECT lang, environment, version, content_sha256 "
                          "FROM langpack_versions ORDER BY 1, 2, 3").fetchall()


@pytest.mark.parametrize("port", ["taken", "free"])
def test_a_second_serve_on_the_same_data_refuses_and_touches_nothing(
        make_server, tmp_path, port):
    a = make_server(registry=FIXTURE_REGISTRY, data=tmp_path / "data")
    a.langpacks()  # made after the start line, in the background
    r2 = tmp_path / "r2"
    r2.mkdir()
    (r2 / "registry.yaml").write_text(SMALLER_REGISTRY)
    views_before = views(a.data)
    versions_before = langpack_versions(a.data)
    assert {"checkout_v2", "page_view_v0"} <= views_before

    b_port = a.port if port == "taken" else free_port()
    b = subprocess.run(
        [REESTR, "serve", "--insecure-local", "--dev", "--registry", str(r2), "--data", str(a.data),
         "--listen", f"127.0.0.1:{b_port}"],
        capture_output=True, text=True, timeout=10)
    assert views(a.data) == views_before
    assert langpack_versions(a.data) == versions_before
    assert b.returncode == 1, b.stderr
    assert f"pid {a.proc.pid}" in b.stderr, b.stderr
    assert "in use by another process" in b.stderr
    assert f"reestr serve listening on 127.0.0.1:{a.port}" in b.stderr
    # and A still works
    assert a.request("GET", "/healthz").status == 200


def test_sigterm_during_startup_stops_cleanly(tmp_path):
    # Before the fix the store's threads started with SIGTERM unblocked,
    # so a SIGTERM while the langpacks were being built killed the process
    # by the signal instead of stopping it cleanly.
    for attempt in range(3):
        data = tmp_path / f"data{attempt}"
        log = tmp_path / f"serve{attempt}.log"
        with open(log, "wb") as logf:
            proc = subprocess.Popen(
                [REESTR, "serve", "--insecure-local", "--dev", "--registry", str(FIXTURE_REGISTRY),
                 "--data", str(data), "--listen",
                 f"127.0.0.1:{free_port()}"], stdout=logf, stderr=logf)
        # the store exists: its threads run, the langpacks are next
        deadline = time.monotonic() + 30
        while not (data / "reestr.db").exists():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the store never appeared"
            time.sleep(0.001)
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=30)
        assert rc == 0, f"attempt {attempt}: exit {rc}: {log.read_text()}"
        assert "SIGTERM, stopping" in log.read_text()
