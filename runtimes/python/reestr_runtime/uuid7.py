"""Time-ordered UUIDs (RFC 9562, version 7), so the store's de-duplication
index grows at its right edge."""

from __future__ import annotations

import os
import threading
import time

_lock = threading.Lock()
_last_ms = 0
_counter = 0  # the 12-bit rand_a field, counting within one millisecond


def uuid7() -> str:
    """A new UUIDv7, lowercase; strictly increasing within this process."""
    global _last_ms, _counter
    tail = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms > _last_ms:
            _last_ms = ms
            # start low in the millisecond, leaving room to count up
            _counter = int.from_bytes(os.urandom(2), "big") & 0x3FF
        else:
            _counter += 1
            if _counter > 0xFFF:  # 4096 in one millisecond: borrow the next
                _last_ms += 1
                _counter = 0
        ms, counter = _last_ms, _counter
    value = (ms << 80) | (0x7 << 76) | (counter << 64) | (0x2 << 62) | tail
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _after_fork_in_child() -> None:
    # Another thread may have held the lock at fork(); in the child that
    # thread is gone and the lock would stay taken for ever.
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)
