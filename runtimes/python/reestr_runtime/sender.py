"""The sender: queues encoded events and delivers them in batches from a
background thread, retrying with backoff; every event's outcome reaches the
caller's callback. docs/langpacks.md ("Sending") describes the behaviour,
tests/conformance/ pins it."""

from __future__ import annotations

import atexit
import http.client
import json
import logging
import os
import random
import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass
from typing import Callable, NamedTuple

from .encode import encode_event_with_tail, envelope_tail
from .event import Event
from .transport import AgentTransport, Transport

DELIVERED = "delivered"
REJECTED = "rejected"
DROPPED = "dropped"

# What a body holds besides its events and the commas between them.
_BATCH_HEAD = b'{"events":['
_BATCH_OVERHEAD = len(_BATCH_HEAD) + len(b"]}")

# The least time between two log lines about lost events of one kind
# (rejected, dropped): thousands refused a second make one line every 10 s,
# with the count of the others.
LOSS_LOG_INTERVAL = 10.0

# The start of the reason of events dropped because the collector refused
# the request's key (401, or 403 for the request as a whole).
KEY_REFUSED = "collector refused the key (key= or $REESTR_KEY): "


@dataclass(frozen=True)
class Result:
    """What became of one event: outcome is "delivered", "rejected" (the
    collector's reason) or "dropped" (why it never got there)."""

    uuid: str
    event: str
    version: int
    outcome: str
    reason: str


@dataclass(frozen=True)
class Stats:
    """Counters since the sender was made (or since fork, in a child)."""

    queued: int
    delivered: int
    rejected: int
    dropped: int
    dropped_queue_full: int
    retries: int
    requests: int


class _Item(NamedTuple):
    data: bytes
    uuid: str
    event: str
    version: int
    queued_at: float


_new_item = tuple.__new__  # skips NamedTuple's keyword handling: hot path


class Sender:
    """Sends one environment's events to the collector.

    ``send`` checks and encodes the event and queues it; it never waits for
    the network. A thread posts batches of up to ``batch_size`` events and
    ``max_batch_bytes`` bytes, or sooner once the oldest has waited
    ``batch_age`` seconds.

    No loss is silent: each event rejected or dropped is logged as a warning
    on ``logger`` (default ``logging.getLogger("reestr")``), at most one line
    per kind every 10 s with the count of the others, and ``flush`` and
    ``close`` return False when any event since the previous flush or close
    was not delivered.

    ``key`` is the collector's write key for ``source`` (docs/security.md),
    sent as ``Authorization: Bearer KEY`` with every request; ``None`` means
    ``$REESTR_KEY``, and with neither no key is sent (a collector run with
    ``--insecure-local``). A key the collector refuses (401, or 403 for the
    whole request) drops the batch at once, not retried; an event of a
    source the key may not write is rejected by itself (403 in its result).
    The key never appears in a result's reason or a log line.
    """

    def __init__(self, collector_url: str, source: str, environment: str, *,
                 batch_size: int = 500, batch_age: float = 1.0,
                 max_batch_bytes: int = 1 << 20,
                 queue_capacity: int = 10000, max_attempts: int = 5,
                 backoff_base: float = 0.1, backoff_max: float = 10.0,
                 request_timeout: float = 10.0,
                 on_result: Callable[[Result], None] | None = None,
                 agent_socket: str | None = None,
                 logger: logging.Logger | None = None,
                 key: str | None = None) -> None:
        if not source or not environment:
            raise ValueError("a sender needs a source and an environment")
        if batch_size < 1 or queue_capacity < 1 or max_attempts < 1:
            raise ValueError("batch_size, queue_capacity and max_attempts "
                             "must be at least 1")
        if max_batch_bytes < 1:
            raise ValueError("max_batch_bytes must be at least 1")
        self._url = collector_url
        self._key = key or os.environ.get("REESTR_KEY") or None
        if self._key is not None and any(
                c <= " " or c == "\x7f" for c in self._key):
            # not shown: the message must not carry the key
            raise ValueError("the key (key= or $REESTR_KEY) holds a space "
                             "or a control character")
        # the local agent's socket, when there is one: given, or
        # $REESTR_AGENT_SOCKET
        self._agent = agent_socket or os.environ.get("REESTR_AGENT_SOCKET")
        if not self._agent:
            Transport(collector_url, request_timeout)  # check the URL now
        self._source = source
        self._environment = environment
        self._envelope_tail = envelope_tail(environment, source)
        self._batch_size = batch_size
        self._batch_age = batch_age
        self._max_batch_bytes = max_batch_bytes
        self._capacity = queue_capacity
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._timeout = request_timeout
        self._on_result = on_result
        self._logger = logger or logging.getLogger("reestr")
        self._reset()
        _senders.add(self)

    def _reset(self) -> None:
        """Fresh state: at construction, and in a child after fork()."""
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._queue: deque[_Item] = deque()
        # the queued events' bytes, each with its comma
        self._queue_bytes = 0
        self._pending = 0  # queued or being delivered
        self._flushing = 0
        self._closed = False
        self._thread: threading.Thread | None = None
        self._queued = self._delivered = self._rejected = 0
        self._dropped = self._dropped_full = self._retries = 0
        self._requests = 0
        self._losses = _LossLog(self._logger)

    def send(self, event: Event) -> bool:
        """Queue the event; False when it was dropped (queue full, or the
        sender closed) or rejected (too large for a batch of its own), which
        the result callback also reports. Raises ValidationError when the
        event breaks the registry's rules."""
        event.validate()
        data = encode_event_with_tail(event, self._envelope_tail)
        item: _Item = _new_item(_Item, (
            data, event._event_uuid, event.EVENT_NAME, event.EVENT_VERSION,
            time.monotonic()))
        # the condition's own lock: a Condition's `with` is Python code,
        # the Lock's is C, and send is the hot path
        size = len(data)
        outcome = DROPPED
        with self._lock:
            if self._closed:
                reason = "sender closed"
            elif size + _BATCH_OVERHEAD > self._max_batch_bytes:
                outcome = REJECTED
                reason = (f"event is {size} bytes encoded: a batch of it "
                          f"alone would be {size + _BATCH_OVERHEAD} bytes, "
                          f"more than max_batch_bytes {self._max_batch_bytes}")
            elif self._pending >= self._capacity:
                reason = "queue full"
                self._dropped_full += 1
            else:
                self._queue.append(item)
                self._queue_bytes += size + 1
                self._pending += 1
                self._queued += 1
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="reestr-sender", daemon=True)
                    self._thread.start()
                elif (len(self._queue) >= self._batch_size or
                      self._queue_bytes + _BATCH_OVERHEAD - 1 >
                      self._max_batch_bytes):
                    self._cond.notify_all()
                return True
            if outcome == REJECTED:
                self._rejected += 1
            else:
                self._dropped += 1
        self._report([item], outcome, reason)
        return False

    def flush(self, timeout: float | None = None) -> bool:
        """Send everything queued now and wait for the outcomes. True when
        every event is delivered: False when some are still queued at the
        timeout, or when any event finished rejected or dropped since the
        previous flush or close (each loss makes one flush or close return
        False; the log and the result callback say which and why)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._flushing += 1
            self._cond.notify_all()
            try:
                while self._pending:
                    left = None if deadline is None else \
                        deadline - time.monotonic()
                    if left is not None and left <= 0:
                        break
                    self._cond.wait(left)
                done = self._pending == 0
            finally:
                self._flushing -= 1
        return self._losses.take() == 0 and done

    def close(self, timeout: float | None = None) -> bool:
        """Flush, then stop; later sends are dropped ("sender closed").
        Returns what flush would: False when any event since the previous
        flush or close was not delivered, including those still queued when
        the timeout ran out."""
        ok = self.flush(timeout)
        with self._cond:
            self._closed = True
            left = list(self._queue)
            self._queue.clear()
            self._queue_bytes = 0
            self._pending -= len(left)
            self._dropped += len(left)
            self._cond.notify_all()
            thread = self._thread
        if left:
            self._report(left, DROPPED, "sender closed before delivery")
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        return self._losses.take() == 0 and ok

    def stats(self) -> Stats:
        """The counters, read together."""
        with self._lock:
            return Stats(self._queued, self._delivered, self._rejected,
                         self._dropped, self._dropped_full, self._retries,
                         self._requests)

    # --- the delivery thread -------------------------------------------

    def _run(self) -> None:
        transport: Transport | AgentTransport = (
            AgentTransport(self._agent, self._timeout) if self._agent
            else Transport(self._url, self._timeout, self._key))
        try:
            while True:
                with self._cond:
                    batch = self._next_batch()
                    if batch is None:
                        return
                self._deliver(transport, batch)
                with self._cond:
                    self._pending -= len(batch)
                    self._cond.notify_all()
        finally:
            transport.close()

    def _next_batch(self) -> list[_Item] | None:
        """Waits (lock held) until a batch is due; None once closed and
        empty."""
        while True:
            q = self._queue
            limit = self._max_batch_bytes
            if q and (len(q) >= self._batch_size or self._flushing or
                      self._closed or
                      self._queue_bytes + _BATCH_OVERHEAD - 1 > limit or
                      time.monotonic() - q[0].queued_at >= self._batch_age):
                # the body's size so far: the overhead, the events and the
                # commas between them
                size = _BATCH_OVERHEAD - 1
                batch: list[_Item] = []
                while q and len(batch) < self._batch_size:
                    step = len(q[0].data) + 1
                    if batch and size + step > limit:
                        break  # full by bytes
                    size += step
                    batch.append(q.popleft())
                self._queue_bytes -= size - (_BATCH_OVERHEAD - 1)
                return batch
            if self._closed:
                return None
            wait = None
            if q:
                wait = max(0.0, q[0].queued_at + self._batch_age -
                           time.monotonic())
            self._cond.wait(wait)

    def _deliver(self, transport: Transport | AgentTransport,
                 batch: list[_Item]) -> None:
        """Posts the batch until the collector answers it, a try fails for
        good or max_attempts tries failed, and reports each event. A batch
        refused whole with 400 or 413 (something in one event breaks a
        collector's limit) is split in halves, each delivered on its own,
        down to the single events refused: those alone are rejected."""
        body = _BATCH_HEAD + b",".join(i.data for i in batch) + b"]}"
        last = ""
        for attempt in range(1, self._max_attempts + 1):
            retry_after = ""
            with self._lock:
                self._requests += 1
            try:
                status, retry_after, data = transport.post(body, len(batch))
            except (OSError, http.client.HTTPException) as e:
                last = f"network error: {e or type(e).__name__}"
            else:
                # a 403 answering each event (every one of a source or
                # environment the key may not write) is read as a 200: each
                # is rejected with its own reason
                if status == 200 or (status == 403 and
                                     _results(data, len(batch)) is not None):
                    results = _results(data, len(batch))
                    if results is not None:
                        self._settle(batch, results)
                        return
                    last = "200 with an answer that does not match the batch"
                else:
                    message = _error_message(data)
                    last = f"{status} {message}".strip()
                    if status in (400, 413):
                        if len(batch) > 1:
                            mid = len(batch) // 2
                            self._deliver(transport, batch[:mid])
                            self._deliver(transport, batch[mid:])
                            return
                        with self._lock:
                            self._rejected += 1
                        self._report(batch, REJECTED,
                                     f"collector refused the event: {last}")
                        return
                    if status in (401, 403):
                        # the key itself is refused: so would every retry be
                        with self._lock:
                            self._dropped += len(batch)
                        self._report(batch, DROPPED, KEY_REFUSED + last)
                        return
                    if 400 <= status < 500 and status not in (408, 429):
                        with self._lock:
                            self._dropped += len(batch)
                        self._report(batch, DROPPED,
                                     f"collector refused the batch: {last}")
                        return
            if attempt == self._max_attempts:
                break
            delay = min(self._backoff_max,
                        self._backoff_base * 2 ** (attempt - 1))
            delay = delay / 2 + random.random() * delay / 2
            if retry_after.strip().isdigit():
                delay = max(delay, min(float(retry_after), 60.0))
            with self._lock:
                self._retries += 1
            time.sleep(delay)
        with self._lock:
            self._dropped += len(batch)
        self._report(batch, DROPPED,
                     f"gave up after {self._max_attempts} attempts: {last}")

    def _settle(self, batch: list[_Item],
                results: list[dict[str, object]]) -> None:
        settled = [(item, r, r.get("status") in ("accepted", "duplicate"))
                   for item, r in zip(batch, results)]
        delivered = sum(1 for _, _, ok in settled if ok)
        # One lock for the whole batch: taking it per event would contend
        # with send() a thousand times a batch.
        with self._lock:
            self._delivered += delivered
            self._rejected += len(batch) - delivered
        if self._on_result is None and delivered == len(batch):
            return
        for item, r, ok in settled:
            if ok:
                self._report([item], DELIVERED, "")
            else:
                self._report([item], REJECTED, str(r.get("error", "")))

    def _report(self, items: list[_Item], outcome: str, reason: str) -> None:
        reason = _redact(reason, self._key)
        if outcome != DELIVERED:
            self._losses.lost(items, outcome, reason)
        if self._on_result is None:
            return
        for i in items:
            try:
                self._on_result(Result(i.uuid, i.event, i.version, outcome,
                                       reason))
            except Exception:  # noqa: BLE001 - a callback must not stop us
                pass


class _LossLog:
    """Tells of lost events: a warning per kind (rejected, dropped) at most
    every LOSS_LOG_INTERVAL seconds, counting the ones it does not log, and
    the count flush and close report."""

    def __init__(self, logger: logging.Logger,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._logger = logger
        self._clock = clock
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}  # when each kind was last logged
        self._suppressed = {REJECTED: 0, DROPPED: 0}
        self._untaken = 0

    def lost(self, items: list[_Item], outcome: str, reason: str) -> None:
        """Records the items lost for reason; logs the first of them unless
        a line of this kind was written less than the interval ago."""
        now = self._clock()
        with self._lock:
            self._untaken += len(items)
            last = self._last.get(outcome)
            if last is not None and now - last < LOSS_LOG_INTERVAL:
                self._suppressed[outcome] += len(items)
                return
            self._last[outcome] = now
            suppressed = self._suppressed[outcome]
            # the rest of these items are told on the kind's next line
            self._suppressed[outcome] = len(items) - 1
        first = items[0]
        tail = (f"; {suppressed} more since the last line, not logged"
                if suppressed else "")
        self._logger.warning("reestr: event %s: %s (%s v%d, uuid %s)%s",
                             outcome, reason, first.event, first.version,
                             first.uuid, tail)

    def take(self) -> int:
        """The number of events lost since the last take."""
        with self._lock:
            n, self._untaken = self._untaken, 0
            return n


def _results(data: bytes, n: int) -> list[dict[str, object]] | None:
    try:
        results = json.loads(data)["results"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(results, list) or len(results) != n:
        return None
    if not all(isinstance(r, dict) for r in results):
        return None
    return results


def _redact(text: str, key: str | None) -> str:
    """text without the key, nor its secret part on its own."""
    if not key or not text:
        return text
    text = text.replace(key, "[key redacted]")
    secret = key.rsplit("_", 1)[-1]
    if len(secret) >= 16:
        text = text.replace(secret, "[key redacted]")
    return text


def _error_message(data: bytes) -> str:
    try:
        err = json.loads(data).get("error")
        if isinstance(err, str):
            return err
    except (ValueError, AttributeError):
        pass
    return data[:200].decode("utf-8", "replace").strip()


# Every live sender, for the fork and exit hooks.
_senders: weakref.WeakSet[Sender] = weakref.WeakSet()


def _before_fork() -> None:
    # hold every lock across fork(), so the child never inherits one taken
    for s in list(_senders):
        s._lock.acquire()


def _after_fork_in_parent() -> None:
    for s in list(_senders):
        s._lock.release()


def _after_fork_in_child() -> None:
    # The parent's queued events are the parent's to deliver: the child
    # starts empty, with fresh locks and no thread (started on first send).
    for s in list(_senders):
        closed = s._closed  # a sender closed before fork stays closed
        s._reset()
        s._closed = closed


def _flush_at_exit() -> None:
    for s in list(_senders):
        s.close(timeout=10.0)


os.register_at_fork(before=_before_fork,
                    after_in_parent=_after_fork_in_parent,
                    after_in_child=_after_fork_in_child)
atexit.register(_flush_at_exit)
