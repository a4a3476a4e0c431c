"""The chaos run (issue 9, "Done when"): producers send through the local
agent and straight to the collector while both are killed at random points,
their disks fail writes and syncs with EIO and ENOSPC (the fault shim of
tests/fault/, docs/testing.md), and each suffers one power cut (unsynced
writes undone, then SIGKILL). Producers behave as senders do: a batch that
got no answer is sent again, with the same UUIDs. At the end, with the
faults gone, the agent drains, and every event that was acknowledged
(`ok` from the agent, `accepted` or `duplicate` from the collector) must be
stored exactly once.

REESTR_CHAOS_SEED repeats a run (the seed is printed); REESTR_CHAOS_SECONDS
sets the length of the chaos (default 75)."""

import json
import os
import random
import signal
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from conftest import FIXTURE_REGISTRY, REESTR, Server, page_view  # noqa: E402
from fault_shim import SHIM, environment, shim_env  # noqa: E402
from test_agent import Agent, wait_for  # noqa: E402

BATCH = 20


def faults(path, log, seed):
    """A few writes and syncs of files under path fail, at random."""
    return shim_env(path, log, seed=str(seed), sync="EIO%0.02,ENOSPC%0.01",
                    write="ENOSPC%0.005,EIO%0.005")


class Faulty:
    """Starts a process with the shim in its environment, or without. Each
    start draws new faults (a new seed); a start that the faults make fail
    is retried, as a supervisor restarts a crashed service."""

    def __init__(self, owner, path, log, seed):
        self.owner, self.path, self.log = owner, path, log
        self.seed, self.starts, self.failed_starts = seed, 0, 0

    def start(self, with_faults=True):
        for _ in range(20):
            self.starts += 1
            env = (faults(self.path, self.log, self.seed * 1000 + self.starts)
                   if with_faults else {})
            try:
                with environment(env):
                    return self.owner.start()
            except RuntimeError:
                if not with_faults:
                    raise
                self.failed_starts += 1
                if self.owner.proc and self.owner.proc.poll() is None:
                    self.owner.proc.kill()
                    self.owner.proc.wait()
                self.owner.proc = None
        raise RuntimeError(f"{self.owner} did not start in 20 tries")


class Ledger:
    """What producers were told: acknowledged UUIDs, and every UUID made."""

    def __init__(self):
        self.lock = threading.Lock()
        self.acknowledged = set()
        self.by_route = {"agent": set(), "collector": set()}
        self.made = set()

    def made_batch(self, batch):
        with self.lock:
            self.made.update(e["uuid"] for e in batch)

    def ack(self, route, uuids):
        with self.lock:
            taken = list(uuids)
            self.acknowledged.update(taken)
            self.by_route[route].update(taken)


def post(url, batch):
    """Statuses per event, or None when the collector gave no answer."""
    body = json.dumps({"events": batch}).encode()
    req = urllib.request.Request(url + "/v1/events", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return [x["status"] for x in json.loads(r.read())["results"]]
    except (OSError, urllib.error.HTTPError, ValueError, KeyError):
        return None


def through_agent(path, batch):
    """The agent's answer per event, or None when it gave none."""
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(10)
            s.connect(path)
            s.sendall(("\n".join(json.dumps(e) for e in batch) + "\n").encode())
            data = b""
            while data.count(b"\n") < len(batch):
                chunk = s.recv(1 << 16)
                if not chunk:
                    return None
                data += chunk
        return data.decode().splitlines()
    except OSError:
        return None


def producer(ledger, stop, route, send, ok_statuses, rng):
    """Sends batches; a batch without an answer for every event is sent
    again (same UUIDs) until it has one, as a sender would."""
    batch = None
    while not stop.is_set():
        if batch is None:
            batch = [page_view(kind="home") for _ in range(BATCH)]
            ledger.made_batch(batch)
        answers = send(batch)
        if answers is None or len(answers) != len(batch):
            time.sleep(rng.uniform(0.05, 0.3))
            continue
        ledger.ack(route, (e["uuid"] for e, a in zip(batch, answers)
                           if a in ok_statuses))
        # events refused (a failed disk, a full spool) are sent again
        batch = [e for e, a in zip(batch, answers) if a not in ok_statuses] or None
        if batch:
            time.sleep(rng.uniform(0.05, 0.3))


def test_chaos_loses_nothing_acknowledged(tmp_path):
    assert SHIM.exists(), f"the fault shim is not built: {SHIM}"
    seed = int(os.environ.get("REESTR_CHAOS_SEED", time.time_ns() % 1_000_000))
    seconds = float(os.environ.get("REESTR_CHAOS_SECONDS", 75))
    rng = random.Random(seed)
    print(f"chaos: seed {seed}, {seconds:.0f} s", flush=True)

    data, spool_tmp = tmp_path / "store", tmp_path / "agent"
    spool_tmp.mkdir()
    server = Server(FIXTURE_REGISTRY, data)
    agent = Agent(spool_tmp, server.url)
    col = Faulty(server, data, tmp_path / "faults-collector.log", seed)
    agt = Faulty(agent, agent.spool, tmp_path / "faults-agent.log", seed + 1)
    col.start()
    agt.start()

    ledger, stop = Ledger(), threading.Event()
    threads = [threading.Thread(target=producer, args=(
        ledger, stop, "collector", lambda b: post(server.url, b),
        {"accepted", "duplicate"},
        random.Random(seed + 10 + i))) for i in range(3)]
    threads += [threading.Thread(target=producer, args=(
        ledger, stop, "agent", lambda b: through_agent(agent.socket, b),
        {"ok"},
        random.Random(seed + 20 + i))) for i in range(3)]
    for t in threads:
        t.start()

    # one power cut each, at a random moment; kill -9s throughout
    end = time.time() + seconds
    cuts = {"collector": time.time() + rng.uniform(0.2, 0.5) * seconds,
            "agent": time.time() + rng.uniform(0.5, 0.8) * seconds}
    events = []
    try:
        while time.time() < end:
            time.sleep(rng.uniform(2, 6))
            now = time.time()
            for name, at in list(cuts.items()):
                if now >= at:
                    owner = server if name == "collector" else agent
                    owner.proc.send_signal(signal.SIGUSR2)
                    owner.proc.wait(timeout=30)
                    owner.proc = None
                    events.append(f"power cut: {name}")
                    del cuts[name]
                    time.sleep(rng.uniform(0.2, 1.5))
                    (col if name == "collector" else agt).start()
            victim = rng.choice(["collector", "agent"])
            if victim == "collector":
                server.kill9()
            else:
                agent.kill9()
                agent.proc = None
            events.append(f"kill -9: {victim}")
            time.sleep(rng.uniform(0.2, 1.5))
            (col if victim == "collector" else agt).start()
        assert not cuts, f"power cuts not done: {cuts}"
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)

    # the faults end: both restart without the shim and the agent drains
    server.kill9()
    agent.kill9()
    agent.proc = None
    col.start(with_faults=False)
    agt.start(with_faults=False)
    try:
        wait_for(lambda: agent.status()["queue_depth"] == 0, timeout=120,
                 what="the agent's spool to drain")
        status = agent.status()
    finally:
        agent.stop()
    rows = server.query("SELECT uuid, count(*) AS n FROM events GROUP BY uuid")
    server.stop()

    stored = {r["uuid"]: r["n"] for r in rows}
    acknowledged = ledger.acknowledged
    lost = acknowledged - stored.keys()
    duplicated = sum(n - 1 for n in stored.values())
    strangers = stored.keys() - ledger.made
    injected = {}
    for log in tmp_path.glob("faults-*.log"):
        for line in log.read_text().splitlines():
            kind = " ".join(line.split()[:1] + line.split()[2:3])
            injected[kind] = injected.get(kind, 0) + 1
    print(f"chaos: {', '.join(events)}", flush=True)
    print(f"chaos: faults injected {injected}", flush=True)
    print(f"chaos: agent {status}", flush=True)
    print(f"chaos: starts that the faults made fail: collector "
          f"{col.failed_starts}, agent {agt.failed_starts}", flush=True)
    print(f"acknowledged {len(acknowledged)}, stored "
          f"{len(acknowledged & stored.keys())}, lost {len(lost)}, "
          f"duplicated {duplicated} (also stored, never acknowledged: "
          f"{len(stored.keys() - acknowledged)}, batches still unanswered "
          f"when the producers stopped; seed {seed})", flush=True)
    assert len(acknowledged) > 5000, "the load never got going"
    assert sum(1 for e in events if e.startswith("power cut")) == 2
    assert any(k.endswith("EIO") for k in injected), injected
    assert any(k.endswith("ENOSPC") for k in injected), injected
    assert not strangers, f"{len(strangers)} stored events nobody sent"
    lost_by = {r: len(lost & acked) for r, acked in ledger.by_route.items()}
    # kept beside the logs and the store, for whoever looks into a loss
    (tmp_path / "lost.txt").write_text("".join(
        f"{u} {' '.join(r for r, a in ledger.by_route.items() if u in a)}\n"
        for u in sorted(lost)))
    assert not lost, (f"{len(lost)} acknowledged events lost {lost_by}, e.g. "
                      f"{sorted(lost)[:3]} (seed {seed}; events: {events})")
    assert duplicated == 0, f"{duplicated} events stored twice (seed {seed})"
    assert status.get("dead_letter", 0) == 0, status
