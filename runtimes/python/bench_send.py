"""Microseconds per Sender.send() of a small event (target: <= 10 us).

    python bench_send.py [N]

The event is the generated ClickstreamEventV0 of tests/golden/python
(validate and encode as `reestr gen` writes them), with this runtime copied
in as its `runtime` subpackage, just as a langpack ships it. The collector
accepting the batches runs in another process, so it does not compete with
the measured loop for the GIL. Prints figures; never passes or fails."""

from __future__ import annotations

import importlib
import multiprocessing
import shutil
import socket
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
GOLDEN = HERE.parents[1] / "tests" / "golden" / "python" / "reestr_bo"


class _Accept(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        n = body.count(b'"event_id":')
        data = (b'{"results":[' + b",".join([b'{"status":"accepted"}'] * n)
                + b"]}")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _serve(sock: socket.socket) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Accept,
                                 bind_and_activate=False)
    server.socket = sock
    server.serve_forever()


def _langpack(tmp: str) -> Any:
    """The golden bo langpack with this runtime inside, imported."""
    pkg = Path(tmp) / "reestr_bo"
    shutil.copytree(GOLDEN, pkg)
    shutil.copytree(HERE / "reestr_runtime", pkg / "runtime",
                    ignore=shutil.ignore_patterns("__pycache__"))
    sys.path.insert(0, tmp)
    return importlib.import_module("reestr_bo")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    sock = socket.create_server(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    proc = multiprocessing.Process(target=_serve, args=(sock,), daemon=True)
    proc.start()
    with tempfile.TemporaryDirectory() as tmp:
        bo = _langpack(tmp)

        def event() -> Any:
            return bo.ClickstreamEventV0(
                user=bo.User(id=413, email="user413@example.com"),
                geo=bo.Geo(latitude=20.22, longitude=-10.11),
                user_agent="fluffy_browser")

        # (label, build an event per call, deliver during the loop)
        for label, build, meanwhile in (
                ("send, delivering meanwhile", False, True),
                ("send, delivery after the loop", False, False),
                ("build and send", True, True)):
            # delivery is one background thread sharing the GIL: "after the
            # loop" shows the caller's own cost, "meanwhile" the real mix
            sender = bo.Sender(url, "example-service",
                               queue_capacity=4 * n,
                               batch_size=1000 if meanwhile else n + 1,
                               # after the loop: no byte cap either, so
                               # the batch holds the whole run
                               max_batch_bytes=1 << 20 if meanwhile
                               else 1 << 40,
                               batch_age=0.05 if meanwhile else 3600)
            e = event()
            start = time.perf_counter()
            for _ in range(n):
                sender.send(event() if build else e)
            took = time.perf_counter() - start
            sender.close(60)
            s = sender.stats()
            print(f"python {label}: {took / n * 1e6:.2f} us/call "
                  f"(target <= 10 us; {s.delivered} delivered, "
                  f"{s.dropped} dropped)", flush=True)
    proc.terminate()


if __name__ == "__main__":
    main()
