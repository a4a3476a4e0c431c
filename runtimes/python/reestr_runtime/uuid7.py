"""Time-ordered UUIDs (RFC 9562, version 7), so the store's de-duplication
index grows at its right edge."""

from __future__ import annotations

import os
import threading
import time

_lock = threading.Lock()
_last_ms = 0
_counter = 0  # the 12-bit rand_a field, counting within one millisecond

# Random bits come from os.urandom 4 KiB at a time: one system call per 512
# UUIDs instead of one or two per UUID, which was most of uuid7's cost.
_POOL_SIZE = 4096
_pool = b""
_pool_at = 0


def uuid7() -> str:
    """A new UUIDv7, lowercase; strictly increasing within this process."""
    global _last_ms, _counter, _pool, _pool_at
    with _lock:
        if _pool_at + 10 > len(_pool):
            _pool, _pool_at = os.urandom(_POOL_SIZE), 0
        at = _pool_at
        _pool_at = at + 10
        tail = int.from_bytes(_pool[at:at + 8], "big") & ((1 << 62) - 1)
        ms = time.time_ns() // 1_000_000
        if ms > _last_ms:
            _last_ms = ms
            # start low in the millisecond, leaving room to count up
            _counter = int.from_bytes(_pool[at + 8:at + 10], "big") & 0x3FF
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
    # thread is gone and the lock would stay taken for ever. The child must
    # not reuse the parent's random bits either: both would make the same
    # UUIDs within a millisecond.
    global _lock, _pool, _pool_at
    _lock = threading.Lock()
    _pool, _pool_at = b"", 0


os.register_at_fork(after_in_child=_after_fork_in_child)
