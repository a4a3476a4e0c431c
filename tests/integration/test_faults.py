"""Fault injection (issue 9, point 5): a failing or full disk and a power
cut, through the LD_PRELOAD shim of tests/fault/ (docs/testing.md). A kill -9
keeps the page cache, so it cannot show a missing sync; the shim's power cut
undoes every write not covered by a successful fsync and removes files
created since their folder's last fsync. Whatever fails, every event
answered `ok` (agent) or `accepted` (collector) is stored exactly once after
a restart without the shim."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import FIXTURE_REGISTRY, Server, page_view
from fault_shim import environment, injected, shim_env
from test_agent import Agent, event, wait_for

# -- the shim itself ---------------------------------------------------------

WRITER = r'''
import os, signal, sys, time
d = sys.argv[1]
step = sys.argv[2]
fd = os.open(d + "/a", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
os.write(fd, b"synced-1;")
os.fsync(fd)
dfd = os.open(d, os.O_RDONLY)
os.fsync(dfd)                                  # "a" survives a cut now
os.write(fd, b"unsynced;")                     # lost at a cut
w = os.open(d + "/a", os.O_WRONLY)
os.pwrite(w, b"XX", 0)                         # an overwrite: undone
b = os.open(d + "/b", os.O_WRONLY | os.O_CREAT, 0o644)
os.write(b, b"bbbb")
os.fsync(b)                                    # synced, but its name is not
if step == "failed-sync":
    fd2 = os.open(d + "/a", os.O_WRONLY | os.O_APPEND)
    try:
        os.fsync(fd2)                          # REESTR_FAULT_SYNC=EIO@3
    except OSError as e:
        print("fsync", e.errno, flush=True)
    os.write(fd, b"after;")
    try:
        os.fsync(fd)                           # open at the failure: it
    except OSError as e:                       # reports it too, once
        print("fsync fd", e.errno, flush=True)
    os.fsync(fd)                               # succeeds, but the doomed
                                               # bytes stay lost
    late = os.open(d + "/a", os.O_WRONLY)
    os.fsync(late)                             # opened after: no error
try:
    os.write(fd, b"more;")
except OSError as e:
    print("write", e.errno, flush=True)
print("cut", flush=True)
if step == "sync-cut":
    os.fsync(fd)                               # REESTR_FAULT_CUT=sync@N
elif step != "timer":                          # REESTR_FAULT_CUT=ms@T
    os.kill(os.getpid(), signal.SIGUSR2)
time.sleep(10)
print("survived", flush=True)
'''


def run_writer(tmp_path, step, **faults):
    d = tmp_path / "files"
    d.mkdir()
    (tmp_path / "w.py").write_text(WRITER)
    env = dict(os.environ, **shim_env(d, tmp_path / "fault.log", **faults))
    p = subprocess.run([sys.executable, str(tmp_path / "w.py"), str(d), step],
                       env=env, capture_output=True, text=True, timeout=30)
    return d, p


@pytest.mark.parametrize("how", ["signal", "timer"])
def test_shim_power_cut_keeps_only_synced_bytes(tmp_path, how):
    faults = {"cut": "ms@3000"} if how == "timer" else {}
    d, p = run_writer(tmp_path, how, **faults)
    assert p.returncode == -signal.SIGKILL, p.stdout + p.stderr
    assert p.stdout.splitlines() == ["cut"], p.stdout
    assert f"power cut ({how})" in p.stderr
    assert (d / "a").read_bytes() == b"synced-1;"
    assert not (d / "b").exists()              # created after the dir's fsync


def test_shim_cut_at_the_nth_sync_and_failed_writes(tmp_path):
    d, p = run_writer(tmp_path, "sync-cut", write="ENOSPC@5", cut="sync@3")
    assert p.returncode == -signal.SIGKILL, p.stdout + p.stderr
    assert p.stdout.splitlines() == ["write 28", "cut"], p.stdout
    assert (d / "a").read_bytes() == b"synced-1;"
    assert injected(tmp_path / "fault.log") == {"write": 1, "cut": 1}


def test_shim_failed_sync_loses_the_unsynced_writes(tmp_path):
    # the 3rd file sync fails: "unsynced;" and the "XX" overwrite are doomed;
    # "after;" is synced after it and kept, at the length the sync saw
    d, p = run_writer(tmp_path, "failed-sync", sync="EIO@3")
    assert p.returncode == -signal.SIGKILL, p.stdout + p.stderr
    assert p.stdout.splitlines() == ["fsync 5", "fsync fd 5", "cut"], p.stdout
    data = (d / "a").read_bytes()
    assert data == b"synced-1;" + b"\0" * len(b"unsynced;") + b"after;", data


TWO_DESCRIPTORS = r'''
import os, signal, sys, time
d = sys.argv[1]
writer = os.open(d + "/wal", os.O_WRONLY | os.O_CREAT, 0o644)
os.fsync(os.open(d, os.O_RDONLY))             # its name survives a cut
checkpointer = os.open(d + "/wal", os.O_RDWR)
os.pwrite(writer, b"commit-1;", 0)
os.fsync(writer)
os.pwrite(writer, b"commit-2;", 9)            # a commit in progress ...
try:
    os.fsync(checkpointer)                     # ... when another descriptor's
except OSError as e:                           # sync fails (EIO@2)
    print("checkpointer", e.errno, flush=True)
try:
    os.fsync(writer)                           # the commit's own sync
    print("writer ok", flush=True)             # (the old shim: commit-2
except OSError as e:                           # "durable", then lost)
    print("writer", e.errno, flush=True)
os.pwrite(writer, b"commit-2;", 9)            # written again, as SQLite does
os.fsync(writer)
print("cut", flush=True)
os.kill(os.getpid(), signal.SIGUSR2)
time.sleep(10)                                # the shim's thread cuts and kills
'''


def test_shim_failed_sync_is_reported_through_every_descriptor(tmp_path):
    # Linux reports a writeback error to each open file description that
    # syncs after it (errseq_t), so a commit whose pages another
    # descriptor's failed sync dropped cannot be acknowledged: its own sync
    # fails too. The old shim told only the descriptor that met the failure,
    # and the chaos run lost every commit after such a "durable" one.
    d = tmp_path / "files"
    d.mkdir()
    (tmp_path / "two.py").write_text(TWO_DESCRIPTORS)
    env = dict(os.environ, **shim_env(d, tmp_path / "fault.log", sync="EIO@2"))
    p = subprocess.run([sys.executable, str(tmp_path / "two.py"), str(d)],
                       env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode == -signal.SIGKILL, p.stdout + p.stderr
    assert p.stdout.splitlines() == ["checkpointer 5", "writer 5", "cut"], p.stdout
    assert (d / "wal").read_bytes() == b"commit-1;commit-2;"
    assert injected(tmp_path / "fault.log") == {"sync": 1, "reported": 1, "cut": 1}


COUNTER = r'''
import os, sys
d = sys.argv[1]
try:
    os.open(d + "/new", os.O_WRONLY | os.O_CREAT, 0o644)
    print("created")
except OSError as e:
    print("create", e.errno)
fd = os.open(d + "/old", os.O_WRONLY)
failed = 0
for i in range(400):
    try:
        os.write(fd, b"x")
    except OSError as e:
        assert e.errno == 5
        failed += 1
print("failed", failed)
'''


def test_shim_create_and_probability_rules_repeat_with_a_seed(tmp_path):
    d = tmp_path / "files"
    d.mkdir()
    (d / "old").write_bytes(b"")
    (tmp_path / "c.py").write_text(COUNTER)

    def run(**faults):
        env = dict(os.environ, **shim_env(d, tmp_path / "fault.log", **faults))
        p = subprocess.run([sys.executable, str(tmp_path / "c.py"), str(d)], env=env,
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stderr
        return p.stdout.splitlines()

    first = run(create="ENOSPC@1", write="EIO%0.25", seed="7")
    assert first[0] == "create 28" and not (d / "new").exists()
    failed = int(first[1].split()[1])
    assert 60 <= failed <= 140, failed      # about a quarter of 400
    assert run(create="ENOSPC@1", write="EIO%0.25", seed="7") == first
    assert run(write="EIO%0.25", seed="8")[1] != first[1]
    bad = subprocess.run([sys.executable, "-c", "pass"], capture_output=True, text=True,
                         env=dict(os.environ, **shim_env(d, tmp_path / "l", write="EIO@0")))
    assert bad.returncode == 97 and 'bad rule "EIO@0"' in bad.stderr


# -- the agent's spool -------------------------------------------------------

def send_marking(agent, tag, start, count, acked, refused):
    """Sends count events; False once the agent is gone (the power cut)."""
    lines = [event(start + i, tag) for i in range(count)]
    try:
        answers = agent.send_lines(lines)
    except OSError:
        answers = []
    for line, answer in zip(lines, answers):
        uuid = json.loads(line)["uuid"]
        if answer == "ok":
            acked.add(uuid)
        else:
            assert answer.startswith("error spool: "), answer
            refused.add(uuid)
    return len(answers) == count


def stored_uuids(server, tag):
    rows = server.query(f"SELECT uuid FROM clickstream_event_v0 WHERE user_agent = '{tag}'")
    return [r["uuid"] for r in rows]


def wait_until_stored(collector, tag, acked, timeout=45):
    """Waits for every acknowledged event; fails naming how many are lost."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        missing = acked - set(stored_uuids(collector, tag))
        if not missing:
            return
        time.sleep(0.2)
    raise AssertionError(f"{len(missing)} of {len(acked)} acknowledged events lost")


def test_agent_spool_on_a_failing_disk_then_a_power_cut(make_server, tmp_path):
    collector = make_server()
    tag = "faulty-spool"
    log = tmp_path / "fault.log"
    env = shim_env(tmp_path / "spool", log,
                   # a failed fdatasync alone (retried in a new segment), one
                   # failing twice (refused), writes failing, a full disk for
                   # a while, the folder's fsync failing at a rotation
                   sync="EIO@15,ENOSPC@40-41,EIO@70",
                   write="EIO@25,ENOSPC@55-62",
                   dirsync="EIO@4",
                   # the power cut: an append written, not yet synced
                   cut="sync@80")
    acked, refused = set(), set()
    with environment(env):
        agent = Agent(tmp_path, collector.url, "--segment-bytes", "4K").start()
    try:
        # the collector is up: the spool is read, delivered and deleted as
        # it fills, so a segment cut short loses what it holds
        sent = 0
        while sent < 2000 and send_marking(agent, tag, sent, 10, acked, refused):
            sent += 10
        agent.proc.wait(timeout=30)
        assert agent.proc.returncode == -signal.SIGKILL
        assert "power cut (sync)" in agent.log.read_text()
        kinds = injected(log)
        assert kinds.get("sync", 0) >= 3 and kinds.get("write", 0) >= 2, kinds
        assert kinds.get("dirsync") == 1 and kinds.get("cut") == 1, kinds
        assert refused, "no append was refused: the faults did not bite"
        assert "undid 0 unsynced writes" not in log.read_text()
        assert len(acked) >= 600
        agent.start()                           # without the shim
        wait_until_stored(collector, tag, acked)
        wait_for(lambda: agent.status()["queue_depth"] == 0, timeout=30,
                 what="an empty spool")
        got = stored_uuids(collector, tag)
        assert len(got) == len(set(got)), "an event stored twice"
        assert set(got) <= acked | refused
    finally:
        agent.stop()


def test_agent_new_segment_name_survives_a_power_cut(make_server, tmp_path):
    # the collector is away, so the segments stay; one event per append
    collector = make_server()
    collector.stop()
    tag = "dir-sync"
    log = tmp_path / "fault.log"
    env = shim_env(tmp_path / "spool", log, dirsync="EIO@3")
    acked, refused = set(), set()
    with environment(env):
        agent = Agent(tmp_path, collector.url, "--segment-bytes", "1K").start()
    try:
        n = 0
        while "dirsync 3 EIO" not in log.read_text():
            assert n < 100, "the third folder sync never came"
            assert send_marking(agent, tag, n, 1, acked, refused)
            n += 1
        # the old spool ignored the failure and answered ok for events in a
        # segment whose name a power cut removes
        for k in range(2):
            assert send_marking(agent, tag, n + k, 1, acked, refused)
        agent.proc.send_signal(signal.SIGUSR2)
        agent.proc.wait(timeout=30)
        assert agent.proc.returncode == -signal.SIGKILL
        collector.start()
        agent.start()
        wait_until_stored(collector, tag, acked)
        got = stored_uuids(collector, tag)
        assert len(got) == len(set(got)) and set(got) <= acked | refused
        assert len(refused) == 1  # the append whose segment's name failed
    finally:
        agent.stop()


def test_agent_full_disk_leaves_at_most_one_empty_segment(make_server, tmp_path):
    # the collector is away: every event stays in the spool
    collector = make_server()
    collector.stop()
    tag = "full-disk"
    log = tmp_path / "fault.log"
    env = shim_env(tmp_path / "spool", log, write="ENOSPC@3+")
    acked, refused = set(), set()
    with environment(env):
        agent = Agent(tmp_path, collector.url).start()
    try:
        for k in range(60):
            send_marking(agent, tag, k * 10, 10, acked, refused)
        assert 0 < len(acked) < 600 and len(acked) + len(refused) == 600
        segs = list(Path(agent.spool).glob("*.seg"))
        empty = [p for p in segs if p.stat().st_size == 0]
        assert len(empty) <= 1 and len(segs) <= 2, sorted(p.name for p in segs)
        agent.kill9()
        collector.start()
        agent.start()
        wait_until_stored(collector, tag, acked)
        assert len(stored_uuids(collector, tag)) == len(acked)
    finally:
        agent.stop()


# -- the collector's store ---------------------------------------------------

def test_collector_store_on_a_failing_disk_then_a_power_cut(make_server, tmp_path):
    data = tmp_path / "store"
    log = tmp_path / "fault.log"
    # a fresh store takes ~570 writes and ~30 syncs to create (and the
    # audit log's line a few more); the faults come under load, and the
    # power cut when a commit's WAL frames are written but not yet synced,
    # late enough that 2,000 events were acknowledged before it even
    # under ASan on a loaded machine (at sync@100 it was 1,850 once)
    env = shim_env(data, log, write="EIO@800,ENOSPC@1000-1010",
                   sync="EIO@40,ENOSPC@50-51", cut="sync@130")
    with environment(env):
        server = make_server(registry=FIXTURE_REGISTRY, data=data)
    acked, refused = set(), 0
    lock = threading.Lock()

    def sender():
        nonlocal refused
        deadline = time.time() + 40
        while time.time() < deadline:
            batch = [page_view() for _ in range(50)]
            try:
                resp = server.post_events(batch)
            except OSError:
                return                          # the power is out
            with lock:
                if resp.status != 200:
                    refused += len(batch)
                    continue
                for ev, r in zip(batch, resp.json()["results"]):
                    if r["status"] == "accepted":
                        acked.add(ev["uuid"])

    threads = [threading.Thread(target=sender) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    server.proc.wait(timeout=30)
    assert server.proc.returncode == -signal.SIGKILL, "no power cut"
    server.proc = None
    kinds = injected(log)
    assert kinds.get("write", 0) >= 2 and kinds.get("sync", 0) == 3, kinds
    assert kinds.get("cut") == 1, kinds
    assert "undid 0 unsynced writes" not in log.read_text()
    assert refused, "no batch failed: the faults did not bite"
    assert len(acked) >= 2000, len(acked)
    server.start()                              # without the shim
    got = [r["uuid"] for r in server.query("SELECT uuid FROM events")]
    assert len(got) == len(set(got)), "an event stored twice"
    lost = acked - set(got)
    assert not lost, f"{len(lost)} accepted events lost"
    assert server.query("PRAGMA integrity_check") == [{"integrity_check": "ok"}]


def test_collector_checkpoint_sync_failures_then_power_cuts(tmp_path):
    """A checkpoint whose fsync of the database fails may have lost pages
    it copied; so may the checkpoints before it that stopped short of the
    WAL's end (they advance SQLite's nBackfill without syncing). The next
    successful checkpoint used to let the WAL start over without them: a
    power cut then left a malformed store (about one round in three). The
    store now reopens its connections after such a failure, so SQLite
    copies the whole WAL again. Rounds of load with 10% of syncs failing,
    each ended by a power cut and checked without the shim."""
    data = tmp_path / "store"
    server = Server(FIXTURE_REGISTRY, data)
    for round_ in range(5):
        log = tmp_path / f"fault-{round_}.log"
        for attempt in range(20):               # a start the faults fail
            env = shim_env(data, log, sync="EIO%0.1",
                           seed=str(round_ * 100 + attempt))
            try:
                with environment(env):
                    server.start()
                break
            except RuntimeError:
                server.proc = None
        acked, lock, stop = set(), threading.Lock(), threading.Event()

        def sender():
            while not stop.is_set():
                batch = [page_view() for _ in range(20)]
                try:
                    resp = server.post_events(batch)
                except OSError:
                    return                      # the power is out
                if resp.status == 200:
                    with lock:
                        acked.update(ev["uuid"] for ev, r in zip(
                            batch, resp.json()["results"])
                            if r["status"] == "accepted")

        threads = [threading.Thread(target=sender) for _ in range(6)]
        for t in threads:
            t.start()
        time.sleep(6)                           # the load, while syncs fail
        server.proc.send_signal(signal.SIGUSR2)
        server.proc.wait(timeout=30)
        stop.set()
        for t in threads:
            t.join()
        server.proc = None
        assert "cut signal" in log.read_text()
        assert acked, "nothing was accepted"
        server.start()                          # without the shim
        assert server.query("PRAGMA integrity_check") == [
            {"integrity_check": "ok"}], f"round {round_}"
        stored = {r["uuid"] for r in server.query("SELECT uuid FROM events")}
        assert acked <= stored, f"round {round_}: {len(acked - stored)} lost"
        server.stop()


def test_audit_log_sync_failure_reported_and_serve_goes_on(tmp_path):
    """The registry versions serve loads are appended to DATA/audit.log and
    fsync'd. A disk error there is reported on stderr, at the start and at
    a reload alike, and events are still collected: the audit log's disk
    must not stop the clickstream (the store answers for its own).
    Before, a failed append after the start line stopped serve at once,
    and the fault tests' 10% failing syncs killed it mid-load."""
    import shutil
    reg = tmp_path / "reg"
    shutil.copytree(FIXTURE_REGISTRY, reg)
    data = tmp_path / "data"
    server = Server(reg, data)
    log = tmp_path / "fault.log"
    with environment(shim_env(data / "audit.log", log, sync="EIO@1+")):
        server.start()
    try:
        deadline = time.monotonic() + 20
        while "audit log:" not in server.log.read_text():
            assert server.proc.poll() is None, server.log.read_text()
            assert time.monotonic() < deadline, server.log.read_text()
            time.sleep(0.05)
        batch = [page_view() for _ in range(5)]
        resp = server.post_events(batch)
        assert resp.status == 200, resp.raw
        assert all(r["status"] == "accepted" for r in resp.json()["results"])
        f = reg / "registry.yaml"
        f.write_text(f.read_text() + "\n# touched\n")
        deadline = time.monotonic() + 20
        while server.log.read_text().count("audit log:") < 2:
            assert server.proc.poll() is None, server.log.read_text()
            assert time.monotonic() < deadline, server.log.read_text()
            time.sleep(0.05)
        assert injected(log).get("sync", 0) >= 2, log.read_text()
        stored = {r["uuid"] for r in server.query("SELECT uuid FROM events")}
        assert {ev["uuid"] for ev in batch} <= stored
    finally:
        server.stop()
