"""A scripted collector for the runtime's tests (standard library only)."""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


class Collector:
    """Answers POST /v1/events from `script` (a list of (status, headers)
    or None for "accept all"), then accepts; records every batch."""

    def __init__(self):
        self.script = []
        self.batches = []  # (monotonic time, [event dicts])
        self.lock = threading.Lock()
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                events = json.loads(body)["events"]
                with outer.lock:
                    outer.batches.append((time.monotonic(), events))
                    step = outer.script.pop(0) if outer.script else None
                if step is None:
                    status, headers = 200, {}
                    data = json.dumps({"results": [{"status": "accepted"} for _ in events]})
                else:
                    status, headers = step
                    data = json.dumps({"error": f"scripted {status}"})
                raw = data.encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self):
        with self.lock:
            return [e for _, b in self.batches for e in b]


@pytest.fixture
def collector():
    c = Collector()
    yield c
    c.server.shutdown()
