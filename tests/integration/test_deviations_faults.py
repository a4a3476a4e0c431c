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
from test_deviations import REGISTRY, bad_data, checkout, ev, post

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
    with sqlite3.connect(f"file:{data}/deviations.db?mode=ro",
                         uri=True) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
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
    shutil.copy(tmp_path / "before-deviations.db", data / "deviations.db")
    assert items(data) == before
