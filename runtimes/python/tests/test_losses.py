"""No loss is silent: batches split on 400/413, the byte cap, the loss log
and its rate limit, and what flush and close return."""

import json
import logging

import pytest

from events import Numbered
from reestr_runtime import Sender
from reestr_runtime.sender import LOSS_LOG_INTERVAL, _Item, _LossLog
from test_outcomes import Scripted, accept


def refusing(code, bad):
    """An answer refusing, whole, any request holding an event of n in bad."""
    def answer(events):
        if any(e["fields"]["n"] in bad for e in events):
            return code, {}, {"error": "too deep"}
        return accept(events)
    return answer


@pytest.mark.parametrize("code", [400, 413])
def test_a_refused_batch_is_split_down_to_the_refused_events(code):
    c = Scripted()
    c.script = [refusing(code, {2, 5})] * 20
    results = []
    s = Sender(c.url, "svc", "bo", batch_age=60, on_result=results.append)
    for n in range(6):
        s.send(Numbered(n))
    assert s.close(10) is False
    c.server.shutdown()
    got = [[e["fields"]["n"] for e in events] for _, events in c.batches]
    assert got == [[0, 1, 2, 3, 4, 5], [0, 1, 2], [0], [1, 2], [1], [2],
                   [3, 4, 5], [3], [4, 5], [4], [5]]
    # every part is a whole body of its own events
    assert all(json.loads(raw)["events"] == events for raw, events in c.batches)
    outcomes = [r.outcome for r in results]
    assert sorted(outcomes) == ["delivered"] * 4 + ["rejected"] * 2
    rejected = [r for r in results if r.outcome == "rejected"]
    assert all(r.reason == f"collector refused the event: {code} too deep"
               for r in rejected)


def test_batches_close_at_max_batch_bytes():
    c = Scripted()
    s = Sender(c.url, "svc", "bo", batch_age=60, batch_size=100,
               max_batch_bytes=2000)
    for n in range(50):
        s.send(Numbered(n))
    assert s.close(10) is True
    c.server.shutdown()
    sizes = [len(raw) for raw, _ in c.batches]
    assert max(sizes) <= 2000 and len(sizes) >= 5, sizes
    # full: each but the last had no room for the next one's first event
    for (raw, _), (nxt, events) in zip(c.batches, c.batches[1:]):
        first = len(nxt) // len(events)
        assert len(raw) + first > 2000 - 16, sizes
    assert sum(len(e) for _, e in c.batches) == 50


def test_an_event_larger_than_max_batch_bytes_is_rejected_at_once():
    results = []
    s = Sender("http://127.0.0.1:9", "svc", "bo", max_batch_bytes=100,
               on_result=results.append)
    assert s.send(Numbered(0)) is False
    assert results[0].outcome == "rejected"
    assert "more than max_batch_bytes 100" in results[0].reason
    assert s.stats().rejected == 1 and s.stats().queued == 0
    assert s.close(1) is False


def test_flush_is_false_once_per_loss(caplog):
    def answer(events):
        return 200, {}, {"results": [
            {"status": "rejected", "error": "unknown event"}] +
            [{"status": "accepted"} for _ in events[1:]]}
    c = Scripted([answer])
    s = Sender(c.url, "svc", "bo", batch_age=60)
    with caplog.at_level(logging.WARNING, logger="reestr"):
        s.send(Numbered(0))
        s.send(Numbered(1))
        assert s.flush(10) is False
        assert s.flush(10) is True  # nothing new since
        s.send(Numbered(2))
        assert s.close(10) is True
    c.server.shutdown()
    lines = [r.getMessage() for r in caplog.records if r.name == "reestr"]
    assert len(lines) == 1 and lines[0].startswith(
        "reestr: event rejected: unknown event (conformance_event v0, uuid ")


def test_losses_go_to_the_given_logger():
    class Capture(logging.Handler):
        def __init__(self):
            super().__init__()
            self.lines = []

        def emit(self, record):
            self.lines.append(record.getMessage())

    logger = logging.getLogger("my.app")
    logger.propagate = False
    h = Capture()
    logger.addHandler(h)
    try:
        s = Sender("http://127.0.0.1:9", "svc", "bo", logger=logger)
        assert s.close() is True  # nothing was sent
        s.send(Numbered(0))
        s.send(Numbered(1))
    finally:
        logger.removeHandler(h)
    assert len(h.lines) == 1 and "event dropped: sender closed" in h.lines[0]


def item(n):
    return _Item(b"{}", f"uuid-{n}", "e", 0, 0.0)


def test_loss_log_rate_limit_per_kind(caplog):
    now = [1000.0]
    log = _LossLog(logging.getLogger("reestr"), clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="reestr"):
        log.lost([item(0)], "dropped", "queue full")        # logged
        log.lost([item(1), item(2)], "dropped", "queue full")  # not
        log.lost([item(3)], "rejected", "unknown event")    # another kind
        now[0] += LOSS_LOG_INTERVAL - 1
        log.lost([item(4)], "dropped", "gave up")           # not
        now[0] += 1
        log.lost([item(5), item(6)], "dropped", "gave up")  # logged, +3
        now[0] += 3 * LOSS_LOG_INTERVAL
        log.lost([item(7)], "dropped", "gave up")  # logged, +1 (item 6)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "reestr: event dropped: queue full (e v0, uuid uuid-0)",
        "reestr: event rejected: unknown event (e v0, uuid uuid-3)",
        "reestr: event dropped: gave up (e v0, uuid uuid-5); "
        "3 more since the last line, not logged",
        "reestr: event dropped: gave up (e v0, uuid uuid-7); "
        "1 more since the last line, not logged",
    ]
    assert log.take() == 8 and log.take() == 0
