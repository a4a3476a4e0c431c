"""8 concurrent producers writing events to the agent's socket, 1,000 lines
per write; prints events/s taken by the agent (each answered "ok" only once
on its disk). Usage: producers.py SOCKET EVENTS_PER_PRODUCER"""

import json
import multiprocessing
import os
import socket
import sys
import time
import uuid


def line(i):
    u = uuid.UUID(int=(time.time_ns() // 1_000_000 << 80) | (7 << 76) | (2 << 62)
                  | int.from_bytes(os.urandom(8), "big") >> 2)
    return json.dumps({"event_id": 100, "version": 0, "uuid": str(u),
                       "time": "2026-11-25T10:00:00.000000Z", "environment": "bo",
                       "source": "example-service",
                       "fields": {"user": {"id": i + 1}, "geo": {"latitude": 1.5, "longitude": 2.5},
                                  "user_agent": "bench"}}, separators=(",", ":"))


def produce(path, n, ready):
    lines = [line(i) for i in range(1000)]
    payload = ("\n".join(lines) + "\n").encode()
    ready.wait()
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(path)
        for _ in range(n // 1000):
            s.sendall(payload)
            got = b""
            while got.count(b"\n") < 1000:
                got += s.recv(1 << 20)
            assert got.count(b"ok\n") == 1000, got[:200]


def main():
    path, n = sys.argv[1], int(sys.argv[2])
    ready = multiprocessing.Event()
    procs = [multiprocessing.Process(target=produce, args=(path, n, ready)) for _ in range(8)]
    for p in procs:
        p.start()
    time.sleep(0.5)
    start = time.perf_counter()
    ready.set()
    for p in procs:
        p.join()
    took = time.perf_counter() - start
    print(f"agent: {8 * n / took:,.0f} events/s taken from 8 producers "
          f"({8 * n:,} events, each synced to the spool before its ok)")


if __name__ == "__main__":
    main()
