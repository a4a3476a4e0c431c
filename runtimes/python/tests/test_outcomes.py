"""Outcomes and callbacks: per-event results, every retried status, network
errors, giving up, flush, and concurrent sends."""

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from events import Numbered
from reestr_runtime import Result, Sender


class Scripted:
    """A collector answering each POST with the next function of `script`
    (events -> (status, headers, body)); accepting everything after."""

    def __init__(self, script=()):
        self.script = list(script)
        self.batches = []
        self.lock = threading.Lock()
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                assert self.path == "/v1/events"
                assert self.headers["Content-Type"] == "application/json"
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                events = json.loads(raw)["events"]
                with outer.lock:
                    outer.batches.append((raw, events))
                    step = outer.script.pop(0) if outer.script else accept
                status, headers, body = step(events)
                data = json.dumps(body).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()


def accept(events):
    return 200, {}, {"results": [{"status": "accepted"} for _ in events]}


def status(code, body=None):
    return lambda events: (code, {}, body or {"error": f"scripted {code}"})


@pytest.fixture
def scripted():
    servers = []

    def make(*script):
        s = Scripted(script)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.server.shutdown()


def sender(url, **kw):
    results = []
    kw.setdefault("backoff_base", 0.01)
    kw.setdefault("backoff_max", 0.02)
    kw.setdefault("batch_age", 60)
    return Sender(url, "svc", "bo", on_result=results.append, **kw), results


def test_accepted_duplicate_rejected(scripted):
    def answer(events):
        return 200, {}, {"results": [
            {"status": "accepted"}, {"status": "duplicate"},
            {"status": "rejected", "error": "fields.n: no"}]}
    c = scripted(answer)
    s, results = sender(c.url)
    events = [Numbered(n) for n in range(3)]
    for e in events:
        assert s.send(e) is True
    assert s.flush(10) is False  # one was rejected
    assert results == [
        Result(events[0].event_uuid, "conformance_event", 0, "delivered", ""),
        Result(events[1].event_uuid, "conformance_event", 0, "delivered", ""),
        Result(events[2].event_uuid, "conformance_event", 0, "rejected",
               "fields.n: no")]
    st = s.stats()
    assert (st.queued, st.delivered, st.rejected, st.requests) == \
        (3, 2, 1, 1)
    s.close(10)


def test_flush_sends_before_the_batch_age(scripted):
    c = scripted()
    s, results = sender(c.url, batch_age=3600)
    s.send(Numbered(0))
    time.sleep(0.1)
    assert c.batches == []
    assert s.flush(10) is True
    assert len(c.batches) == 1 and results[0].outcome == "delivered"
    # the sender keeps working after a flush
    s.send(Numbered(1))
    assert s.flush(10) is True
    assert len(c.batches) == 2
    s.close(10)


@pytest.mark.parametrize("code", [408, 429, 500, 502, 503, 504])
def test_retried_statuses(scripted, code):
    c = scripted(status(code))
    s, results = sender(c.url)
    s.send(Numbered(0))
    s.close(10)
    assert len(c.batches) == 2 and c.batches[0][0] == c.batches[1][0]
    assert results[0].outcome == "delivered"
    assert s.stats().retries == 1


@pytest.mark.parametrize("code,why", [
    (401, "collector refused the key (key= or $REESTR_KEY): 401 bad batch"),
    (403, "collector refused the key (key= or $REESTR_KEY): 403 bad batch"),
    (404, "collector refused the batch: 404 bad batch"),
    (422, "collector refused the batch: 422 bad batch")])
def test_other_4xx_drop_the_batch_with_the_message(scripted, code, why):
    c = scripted(status(code, {"error": "bad batch"}))
    s, results = sender(c.url)
    s.send(Numbered(0))
    s.send(Numbered(1))
    assert s.close(10) is False
    assert len(c.batches) == 1
    assert [r.reason for r in results] == [why] * 2
    st = s.stats()
    assert (st.dropped, st.retries, st.dropped_queue_full) == (2, 0, 0)


def test_gives_up_after_max_attempts(scripted):
    c = scripted(*[status(503)] * 10)
    s, results = sender(c.url, max_attempts=3)
    s.send(Numbered(0))
    s.close(10)
    assert len(c.batches) == 3
    assert results[0].outcome == "dropped"
    assert results[0].reason == \
        "gave up after 3 attempts: 503 scripted 503"
    assert s.stats().retries == 2


def test_network_error_is_retried_then_given_up():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    s, results = sender(f"http://127.0.0.1:{port}", max_attempts=2)
    s.send(Numbered(0))
    s.close(10)
    assert results[0].outcome == "dropped"
    assert results[0].reason.startswith("gave up after 2 attempts: ")
    assert s.stats().requests == 2


def test_backoff_grows_with_jitter(scripted):
    c = scripted(status(503), status(503), status(503))
    s, _ = sender(c.url, backoff_base=0.1, backoff_max=0.15)
    start = time.monotonic()
    s.send(Numbered(0))
    s.close(10)
    took = time.monotonic() - start
    # waits: 0.05-0.1, then 0.075-0.15 twice (capped at backoff_max)
    assert 0.2 <= took < 1.5, took


def test_concurrent_sends_each_delivered_once(scripted):
    c = scripted()
    s, results = sender(c.url, batch_size=50, batch_age=0.01)

    def work(base):
        for n in range(base, base + 200):
            assert s.send(Numbered(n))

    threads = [threading.Thread(target=work, args=(i * 1000,))
               for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    s.close(30)
    got = sorted(e["fields"]["n"] for _, b in c.batches for e in b)
    assert got == sorted(i * 1000 + n for i in range(8) for n in range(200))
    assert all(len(b) <= 50 for _, b in c.batches)
    assert s.stats().delivered == 1600 and len(results) == 1600


def test_a_failing_callback_does_not_stop_the_sender(scripted):
    c = scripted()
    calls = []

    def boom(r):
        calls.append(r)
        raise RuntimeError("callback bug")

    s = Sender(c.url, "svc", "bo", batch_age=60, on_result=boom)
    s.send(Numbered(0))
    s.flush(10)
    s.send(Numbered(1))
    s.close(10)
    assert [r.outcome for r in calls] == ["delivered", "delivered"]
