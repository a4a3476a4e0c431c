import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from events import Clickstream, Numbered
from reestr_runtime import Sender, ValidationError


def make(collector, **kw):
    results = []
    kw.setdefault("backoff_base", 0.01)
    kw.setdefault("backoff_max", 0.05)
    s = Sender(collector.url, "svc", "bo", on_result=results.append, **kw)
    return s, results


def test_batches_by_size(collector):
    s, results = make(collector, batch_size=3, batch_age=60)
    for n in range(7):
        assert s.send(Numbered(n))
    time.sleep(0.5)
    assert [len(b) for _, b in collector.batches] == [3, 3]
    s.close(10)
    assert [len(b) for _, b in collector.batches] == [3, 3, 1]
    assert [r.outcome for r in results] == ["delivered"] * 7


def test_batches_by_age(collector):
    s, _ = make(collector, batch_size=100, batch_age=0.05)
    s.send(Numbered(0))
    time.sleep(0.5)
    assert len(collector.batches) == 1
    s.close(10)


def test_retry_after_503_resends_the_same_uuids(collector):
    collector.script = [(503, {}), (500, {})]
    s, results = make(collector, batch_age=60)
    s.send(Numbered(0))
    s.send(Numbered(1))
    s.close(10)
    uuids = [[e["uuid"] for e in b] for _, b in collector.batches]
    assert len(uuids) == 3 and uuids[0] == uuids[1] == uuids[2]
    assert [r.outcome for r in results] == ["delivered", "delivered"]
    assert s.stats().retries == 2


def test_no_retry_on_400(collector):
    collector.script = [(400, {})]
    s, results = make(collector, batch_age=60)
    s.send(Numbered(0))
    assert s.close(10) is False
    assert len(collector.batches) == 1
    assert results[0].outcome == "rejected"
    assert results[0].reason == "collector refused the event: 400 scripted 400"


def test_retry_after_header_is_honoured(collector):
    collector.script = [(503, {"Retry-After": "1"})]
    s, _ = make(collector, batch_age=60)
    s.send(Numbered(0))
    s.close(10)
    (t0, _), (t1, _) = collector.batches
    assert t1 - t0 >= 0.95


def test_queue_overflow_is_counted_and_reported(collector):
    s, results = make(collector, batch_age=60, queue_capacity=2)
    assert [s.send(Numbered(n)) for n in range(4)] == [True, True, False, False]
    assert [r.reason for r in results] == ["queue full", "queue full"]
    s.close(10)
    st = s.stats()
    assert (st.queued, st.delivered, st.dropped_queue_full) == (2, 2, 2)


def test_invalid_event_raises_before_anything_is_sent(collector):
    s, results = make(collector)
    with pytest.raises(ValidationError, match="clickstream_event v0: fields.user_agent: missing required field"):
        s.send(Clickstream(1, None, 0.0, 0.0, None))
    s.close(10)
    assert collector.batches == [] and results == []


def test_send_after_close_is_dropped(collector):
    s, results = make(collector)
    s.close(1)
    assert s.send(Numbered(0)) is False
    assert results[0].reason == "sender closed"


HERE = Path(__file__).resolve().parent


def child(code, collector):
    script = textwrap.dedent(f"""
        import os, sys, time
        sys.path[:0] = [{str(HERE.parent)!r}, {str(HERE)!r}]
        from events import Numbered
        from reestr_runtime import Sender
        s = Sender({collector.url!r}, "svc", "bo", batch_age=60)
    """) + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)


def test_flush_at_interpreter_exit(collector):
    # sent, never flushed: the exit hook delivers it
    proc = child("s.send(Numbered(7))\n", collector)
    assert proc.returncode == 0, proc.stderr
    assert [e["fields"]["n"] for e in collector.events()] == [7]


def test_fork_child_starts_empty_and_both_deliver(collector):
    proc = child("""
        s.send(Numbered(1))          # queued in the parent before fork
        pid = os.fork()
        if pid == 0:
            assert s.stats().queued == 0, "the child starts with an empty queue"
            s.send(Numbered(2))
            s.close(10)
            os._exit(0 if s.stats().delivered == 1 else 3)
        _, status = os.waitpid(pid, 0)
        assert status == 0, status
        s.send(Numbered(3))
        s.close(10)
        assert s.stats().delivered == 2
    """, collector)
    assert proc.returncode == 0, proc.stderr
    assert sorted(e["fields"]["n"] for e in collector.events()) == [1, 2, 3]
