"""An event is acknowledged only once it is durable: killing the collector
with SIGKILL under load must not lose anything it acknowledged."""

import threading
import time

from conftest import FIXTURE_REGISTRY, page_view


def test_kill9_under_load_loses_nothing_acknowledged(make_server, tmp_path):
    data = tmp_path / "store"
    s = make_server(registry=FIXTURE_REGISTRY, data=data)
    acknowledged, unanswered = [], []
    lock = threading.Lock()
    stop = threading.Event()

    def sender():
        while not stop.is_set():
            batch = [page_view() for _ in range(50)]
            try:
                resp = s.post_events(batch)
            except OSError:
                with lock:
                    unanswered.extend(batch)
                return
            if resp.status != 200:
                with lock:
                    unanswered.extend(batch)
                return
            results = resp.json()["results"]
            with lock:
                acknowledged.extend(ev["uuid"] for ev, r in zip(batch, results)
                                    if r["status"] == "accepted")

    threads = [threading.Thread(target=sender) for _ in range(6)]
    for t in threads:
        t.start()
    deadline = time.time() + 30
    while time.time() < deadline:
        with lock:
            if len(acknowledged) >= 3000:
                break
        time.sleep(0.05)
    s.kill9()
    stop.set()
    for t in threads:
        t.join()
    assert len(acknowledged) >= 3000, "the load never got going"

    s.start()
    stored = {r["uuid"] for r in s.query("SELECT uuid FROM events")}
    lost = set(acknowledged) - stored
    assert not lost, f"{len(lost)} acknowledged events lost"
    assert s.query("PRAGMA integrity_check") == [{"integrity_check": "ok"}]

    # What was in flight when the collector died is either stored or can be
    # sent again: a resend stores each event exactly once.
    if unanswered:
        resp = s.post_events(unanswered[:1000])
        assert resp.status == 200
        assert {r["status"] for r in resp.json()["results"]} <= {
            "accepted", "duplicate"}
    total = s.query("SELECT count(*) AS n, count(DISTINCT uuid) AS d "
                    "FROM events")[0]
    assert total["n"] == total["d"]
