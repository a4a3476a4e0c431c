"""deviations.db (docs/governance.md) on a failing disk and beside other
writers: a `reestr deviations --run` whose writes, syncs or journal
creation fail (the fault shim of tests/fault/, docs/testing.md) or whose
power is cut says so and leaves the items and their statuses as they were
(one SQLite transaction); the collector's scheduled run logs the failure,
keeps taking events, and works again once the disk does; two runs at once
beside a collector that runs them on a schedule, with status changes in
between, neither lose a status nor duplicate an item nor fail with
"database is locked"."""

import json
import os
import shutil
import sqlite3
import subprocess
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from conftest import REESTR, run
from fault_shim import environment, injected, shim_env
from test_deviations import REGISTRY, bad_data, checkout, post

NOW = "2026-11-20T10:05:00Z"    # bad_data's hour: seven items
LATER = "2026-11-20T11:05:00Z"  # most resolved, page_hit's volume and
#                                 freshness found again or opened


@pytest.fixture
def registry(tmp_path):
    d = tmp_path / "reg"
    (d / "events").mkdir(parents=True)
    (d / "registry.yaml").write_text(REGISTRY)
    out = run("check", str(d))
    assert out.returncode == 0, out.stderr
    return d


def dev(data, *args, env=None):
    return subprocess.run([REESTR, "deviations", "--data", str(data), *args],
                          capture_output=True, text=True,
                          env=dict(os.environ, **(env or {})))


def items(data):
    """Every item with its whole history, and the database's own check."""
    out = dev(data, "--json")
    assert out.returncode == 0, out.stderr
    db = sqlite3.connect(f"file:{data}/deviations.db?mode=ro", uri=True)
    try:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        db.close()
    return json.loads(out.stdout)["deviations"]


def clean_counts(tmp_path, data, registry):
    """The calls of each kind a run at LATER makes on deviations.db, from
    the shim's exit line, on a copy of the data folder."""
    copy = tmp_path / "count"
    shutil.copytree(data, copy)
    log = tmp_path / "count.log"
    out = dev(copy, "--run", "--registry", str(registry), "--now", LATER,
              env=shim_env(copy / "deviations.db", log))
    assert out.returncode == 0, out.stderr
    line = [x for x in log.read_text().splitlines() if x.startswith("exit")]
    assert line, log.read_text()
    words = line[-1].split()  # exit pid P: write N sync N dirsync N create N
    counts = dict(zip(words[3::2], map(int, words[4::2])))
    return counts, items(copy)


# the messages SQLite gives a failed write, sync or creation, after
# "deviations.db: WHAT: "
FAILED = ("disk I/O error", "database or disk is full", "unable to open",
          "could not be opened for writing")


def test_a_run_on_a_failing_disk_changes_nothing_and_the_next_one_works(
        make_server, registry, tmp_path):
    srv = make_server(registry=registry)
    post(srv, bad_data())
    srv.stop()
    data = srv.data
    first = dev(data, "--run", "--registry", str(registry), "--now", NOW,
                "--json")
    assert first.returncode == 0, first.stderr
    found = json.loads(first.stdout)["deviations"]
    assert len(found) == 7
    # statuses a failed run must keep: one acknowledged, one resolved
    by = {d["kind"]: d["id"] for d in found}
    for action, kind in (("ack", "range"), ("resolve", "relation")):
        out = dev(data, "--by", "ops", "--note", "seen", action,
                  str(by[kind]))
        assert out.returncode == 0, out.stderr
    before = items(data)
    shutil.copy(data / "deviations.db", tmp_path / "before-deviations.db")
    counts, after = clean_counts(tmp_path, data, registry)
    assert after != before  # the run at LATER changes the items
    assert counts["write"] > 3 and counts["sync"] >= 2, counts

    log = tmp_path / "fault.log"
    cases = [(kind, f"{err}@{n}")
             for kind, err in (("write", "ENOSPC"), ("sync", "EIO"),
                               ("write", "EIO"), ("sync", "ENOSPC"))
             for n in range(1, counts[kind] + 1)]
    cases += [("create", f"ENOSPC@{n}")
              for n in range(1, counts["create"] + 1)]
    cases += [("dirsync", f"EIO@{n}")
              for n in range(1, counts["dirsync"] + 1)]
    cases += [("write", "ENOSPC@1+"), ("sync", "EIO@1+")]
    failed, passed = {}, []
    for kind, rule in cases:
        log.unlink(missing_ok=True)
        out = dev(data, "--run", "--registry", str(registry), "--now",
                  LATER, env=shim_env(data / "deviations.db", log,
                                      **{kind: rule}))
        assert injected(log).get(kind, 0) >= 1, (kind, rule, out.stderr)
        now = items(data)
        if out.returncode == 0:
            # a failure SQLite may pass over: a folder's sync, or a
            # read-write open (it opens read-only instead, for the
            # listing's connection); then the whole run is there
            assert now == after, (kind, rule)
            assert kind in ("dirsync", "create"), \
                (kind, rule, "a failed call and the run said nothing")
            passed.append((kind, rule))
            restore(data, before, tmp_path)  # for the next case
            continue
        failed[(kind, rule)] = out.stderr
        assert out.returncode == 1, (kind, rule, out.returncode, out.stderr)
        assert "reestr deviations: deviations.db: " in out.stderr, \
            (kind, rule, out.stderr)
        assert any(m in out.stderr for m in FAILED), (kind, rule, out.stderr)
        assert now == before, (kind, rule, "half a run stored")
    print(counts, "passed over:", passed)
    assert len(failed) >= 2 * (counts["write"] + counts["sync"]), failed
    # the journal's creation is refused: that run fails
    assert any(k == "create" for k, _ in failed), passed

    # the power cut at each sync and at each write: the items are as they
    # were or as the whole run left them
    for kind in ("sync", "write"):
        for n in range(1, counts[kind] + 1):
            log.unlink(missing_ok=True)
            out = dev(data, "--run", "--registry", str(registry), "--now",
                      LATER, env=shim_env(data / "deviations.db", log,
                                          cut=f"{kind}@{n}"))
            assert out.returncode == -9, (kind, n, out.returncode,
                                          out.stderr)
            assert injected(log).get("cut") == 1
            now = items(data)
            assert now in (before, after), (kind, n, "half a run stored")
            if now == after:
                restore(data, before, tmp_path)

    # the disk works again: the same run goes through
    out = dev(data, "--run", "--registry", str(registry), "--now", LATER)
    assert out.returncode == 0, out.stderr
    assert items(data) == after
    ack = [d for d in after if d["id"] == by["range"]][0]
    assert ack["status"] == "resolved"  # not seen at LATER
    assert [h["status"] for h in ack["history"]] == [
        "open", "acknowledged", "resolved"]


def restore(data, before, tmp_path):
    """deviations.db as it was before the run at LATER (after a run that
    went through)."""
    (data / "deviations.db-journal").unlink(missing_ok=True)
    shutil.copy(tmp_path / "before-deviations.db", data / "deviations.db")
    assert items(data) == before


def wait_log(srv, cond, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = [x for x in srv.log.read_text(errors="replace").splitlines()
                 if x.startswith("reestr serve: deviations: ")]
        if cond(lines):
            return lines
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}:"
                         f" {srv.log.read_text(errors='replace')[-3000:]}")


RAN = "rules, "  # a run's line: "9 rules, N found, N opened"


def test_the_scheduled_run_on_a_failing_disk_logs_it_and_ingest_goes_on(
        make_server, registry, tmp_path):
    srv = make_server(registry=registry,
                      extra_args=["--deviations-every", "1s"])
    wait_log(srv, lambda ls: any(RAN in x for x in ls), 30, "a first run")
    srv.stop()
    before = items(srv.data)
    assert before, "page_hit has no traffic: its volume rule fires"
    # restarted with deviations.db's syncs failing for a while (its first
    # four), then working again
    log = tmp_path / "fault.log"
    with environment(shim_env(srv.data / "deviations.db", log,
                              sync="EIO@1-4")):
        srv.start()
    runs_before = srv.log.read_text().count(RAN)
    sent = 0
    t0 = datetime.now(timezone.utc)
    # events go on being taken while the runs fail, until one goes through
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        batch = [checkout(t0) for _ in range(20)]
        r = srv.post_events(batch)
        assert r.status == 200, r.raw
        assert r.json()["accepted"] == 20
        sent += 20
        listed = srv.request("GET", "/v1/deviations")
        assert listed.status == 200, listed.raw
        if srv.log.read_text().count(RAN) > runs_before:
            break
        time.sleep(0.1)
    lines = wait_log(srv, lambda ls: sum(RAN in x for x in ls) > 1, 5,
                     "a run after the faults")
    failures = [x for x in lines if RAN not in x]
    assert failures, lines
    for x in failures:
        assert x.startswith("reestr serve: deviations: deviations.db: "), x
        assert any(m in x for m in FAILED), x
    # the failed runs came between the two good ones, in the schedule
    assert RAN in lines[0] and RAN in lines[-1], lines
    assert injected(log).get("sync") == 4
    assert srv.query("SELECT count(*) AS n FROM events WHERE event_id = 1")\
        == [{"n": sent}]
    srv.stop()  # exits 0 (the deviations thread stopped cleanly)
    after = items(srv.data)

    def same(d):
        return d["id"], d["kind"], d["source"], d["status"], d["first_seen"]
    assert [same(d) for d in after] == [same(d) for d in before]
    assert all(a["last_seen"] > b["last_seen"]
               for a, b in zip(after, before))


def test_runs_at_once_beside_the_schedule_keep_statuses_and_items(
        make_server, registry):
    # the runs evaluate the last complete hour: all of them the same one
    now = datetime.now(timezone.utc)
    if now.minute >= 58:  # the whole test in one hour, even at load
        time.sleep((60 - now.minute) * 60 - now.second + 2)
        now = datetime.now(timezone.utc)
    srv = make_server(registry=registry,
                      extra_args=["--deviations-every", "1s"])
    hour = now.replace(minute=0, second=0, microsecond=0) - \
        timedelta(minutes=30)
    post(srv, [checkout(hour, source=s, amount=5000) for s in ("web", "app")])
    regarg = ["--run", "--registry", str(registry)]
    out = dev(srv.data, *regarg, "--json")
    assert out.returncode == 0, out.stderr
    first = json.loads(out.stdout)["deviations"]
    assert sorted((d["kind"], d["source"]) for d in first) == [
        ("range", "app"), ("range", "web"), ("volume", "")]
    ids = {(d["kind"], d["source"]): d["id"] for d in first}
    kept = ids[("range", "web")]
    out = dev(srv.data, "--by", "ops", "--note", "known", "ack", str(kept))
    assert out.returncode == 0, out.stderr

    errors = []

    def runs(n):
        for _ in range(n):
            o = dev(srv.data, *regarg)
            if o.returncode != 0:
                errors.append(o.stderr)

    toggled = ids[("range", "app")]
    actions = ["ack", "reopen"] * 6

    def toggles():
        for i, a in enumerate(actions):
            o = dev(srv.data, "--by", "ops", "--note", f"{a} {i}", a,
                    str(toggled))
            if o.returncode != 0:
                errors.append(o.stderr)

    threads = [threading.Thread(target=runs, args=(8,)) for _ in range(3)]
    threads.append(threading.Thread(target=toggles))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [], errors
    wait_log(srv, lambda ls: len(ls) >= 3, 30, "the schedule's runs")
    srv.stop()
    log = srv.log.read_text()
    assert "locked" not in log
    for x in log.splitlines():
        if x.startswith("reestr serve: deviations: "):
            assert RAN in x, x
    final = items(srv.data)
    assert len(final) == 3, final  # no item twice
    by = {d["id"]: d for d in final}
    assert by[kept]["status"] == "acknowledged"
    assert [(h["status"], h["by"], h["note"]) for h in
            by[kept]["history"]][1:] == [("acknowledged", "ops", "known")]
    assert by[toggled]["status"] == "open"  # the last toggle: reopen
    assert [h["note"] for h in by[toggled]["history"]][1:] == \
        [f"{a} {i}" for i, a in enumerate(actions)]
    for d in final:  # opened once, never resolved
        assert [h["status"] for h in d["history"]].count("open") == \
            1 + (d["id"] == toggled) * actions.count("reopen"), d


def test_a_run_on_a_really_full_disk(make_server, registry, tmp_path):
    """The same on a small tmpfs filled to the last byte (needs root, as
    test_full_disk.py; a mount that fails fails the test)."""
    from test_full_disk import tmpfs
    with tmpfs(tmp_path / "disk", 8 << 20) as mnt:
        srv = make_server(registry=registry, data=mnt / "data")
        post(srv, bad_data())
        srv.stop()
        out = dev(srv.data, "--run", "--registry", str(registry), "--now",
                  NOW, "--json")
        assert out.returncode == 0, out.stderr
        rid = [d["id"] for d in json.loads(out.stdout)["deviations"]
               if d["kind"] == "range"][0]
        out = dev(srv.data, "--by", "ops", "ack", str(rid))
        assert out.returncode == 0, out.stderr
        before = items(srv.data)
        filler = mnt / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            for size in (65536, 1):  # to the last byte
                try:
                    while True:
                        os.write(fd, b"\0" * size)
                except OSError:
                    pass
        finally:
            os.close(fd)
        out = dev(srv.data, "--run", "--registry", str(registry), "--now",
                  LATER)
        assert out.returncode == 1, out.stderr
        assert "reestr deviations: deviations.db: " in out.stderr
        assert any(m in out.stderr for m in FAILED), out.stderr
        assert items(srv.data) == before
        out = dev(srv.data, "--by", "ops", "resolve", str(rid))
        assert out.returncode == 1 and "deviations.db: " in out.stderr
        assert items(srv.data) == before
        filler.unlink()
        out = dev(srv.data, "--run", "--registry", str(registry), "--now",
                  LATER)
        assert out.returncode == 0, out.stderr
        after = items(srv.data)
        assert [d["status"] for d in after if d["id"] == rid] == ["resolved"]
