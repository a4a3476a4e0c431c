"""The collector on a real, small file system that fills up (issue 9, point
4): POSTs get 503 and /healthz says the store cannot commit while the disk
is full, nothing acknowledged is lost, the WAL does not eat the disk, and
once space is freed the collector takes about as many events as that space
holds and /healthz is ok again.

Needs root (mount -t tmpfs); a mount that fails fails the test."""

import contextlib
import re
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from conftest import FIXTURE_REGISTRY, Server, page_view, run

MiB = 1 << 20
DISK_BYTES = 16 * MiB
FILLER_BYTES = 8 * MiB
BATCH = 100
# far more than 16 MiB can hold: a store that never fills up fails
MAX_EVENTS = 400_000


@contextlib.contextmanager
def tmpfs(mnt, size):
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs",
                    str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


@pytest.fixture
def small_disk(tmp_path):
    with tmpfs(tmp_path / "disk", DISK_BYTES) as mnt:
        yield mnt


def healthz(server):
    try:
        with urllib.request.urlopen(server.url + "/healthz", timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def wait_for(condition, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def post_until_full(server, acknowledged):
    """Posts batches until the collector answers 503; returns how many
    events it accepted."""
    taken = 0
    while taken < MAX_EVENTS:
        batch = [page_view() for _ in range(BATCH)]
        resp = server.post_events(batch)
        if resp.status == 503:
            return taken
        assert resp.status == 200, resp.raw
        results = resp.json()["results"]
        assert [r["status"] for r in results] == ["accepted"] * BATCH
        acknowledged.extend(ev["uuid"] for ev in batch)
        taken += BATCH
    raise AssertionError(f"{taken} events taken and the disk never filled")


def test_full_disk_refuses_loses_nothing_and_recovers(small_disk):
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * FILLER_BYTES)
    server = Server(FIXTURE_REGISTRY, small_disk).start()
    acknowledged = []
    try:
        first = post_until_full(server, acknowledged)
        assert first > 0
        wal = small_disk / "reestr.db-wal"
        wal_full = wal.stat().st_size if wal.exists() else 0
        # what one event takes in the database itself (WAL included in
        # the page count), the measure of what freed space should hold
        pages = server.query("PRAGMA page_count")[0]["page_count"]
        bytes_per_event = pages * 8192 / first
        print(f"full after {first} events, {bytes_per_event:.0f} B/event "
              f"in the database, WAL {wal_full / MiB:.2f} MiB")

        # Full: every POST is refused, none hangs, and /healthz says so.
        for _ in range(3):
            assert server.post_events([page_view() for _ in range(BATCH)]).status == 503
        assert healthz(server) != 200, "/healthz says ok on a full disk"
        # The WAL is a small part of the disk, not most of it.
        assert wal_full <= 2 * MiB, f"WAL {wal_full} bytes on a full disk"

        # 8 MiB freed: /healthz recovers without any write, and the store
        # takes about what 8 MiB holds (less a bounded WAL).
        filler.unlink()
        assert wait_for(lambda: healthz(server) == 200), \
            "/healthz still failing after space was freed"
        second = post_until_full(server, acknowledged)
        expected = FILLER_BYTES / bytes_per_event
        print(f"after freeing {FILLER_BYTES / MiB:.0f} MiB: {second} events "
              f"(the database's size per event predicts {expected:.0f})")
        assert second >= 0.6 * expected, \
            f"{second} events after freeing 8 MiB, expected ~{expected:.0f}"
        wal_size = wal.stat().st_size if wal.exists() else 0
        assert wal_size <= 2 * MiB, f"WAL {wal_size} bytes on a full disk"
    finally:
        server.stop()

    stored = server.query("SELECT uuid FROM events")
    stored = [r["uuid"] for r in stored]
    assert len(stored) == len(set(stored))
    lost = set(acknowledged) - set(stored)
    assert not lost, f"{len(lost)} acknowledged events lost"
    assert len(stored) == len(acknowledged), \
        "events of refused batches were stored"


def test_langpacks_that_cannot_be_committed_are_answered_503(tmp_path):
    """A langpack version whose COMMIT fails (the disk is full) is not
    reported as made: the langpacks are made after the start line, so serve
    keeps running, logs why, and answers the package requests for them 503
    (with Retry-After and the reason, in plain text) instead of an older
    version as the latest; a stop is still clean."""
    with tmpfs(tmp_path / "tiny", 256 << 10) as mnt:
        # the langpacks database on the full disk; the store, which keeps
        # a reserve of free space, beside it
        s = Server(FIXTURE_REGISTRY, tmp_path / "data",
                   ["--langpacks", str(mnt / "langpacks.db")])
        try:
            s.start()
            lines = s.langpacks()
            failed = [line for line in lines if line.startswith(
                "reestr serve: langpacks not made: bo: ")]
            assert failed and "full" in failed[0], lines
            # the first language that did not fit (one may have)
            lang = re.search(r"(go|python|php): \S+: cannot store",
                             failed[0]).group(1)
            resp = s.request("POST", f"/langpack/{lang}/latest/",
                             b'{"environment":"bo"}')
            assert resp.status == 503, resp.raw
            assert resp.headers["Retry-After"] == "5"
            assert resp.headers["Content-Type"].startswith("text/plain")
            text = resp.raw.decode()
            assert "could not be made" in text and "full" in text, text
        finally:
            s.stop()
