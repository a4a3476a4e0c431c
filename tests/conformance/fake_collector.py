"""A scripted stand-in for the collector: answers successive
`POST /v1/events` as a case's `collector` list says (or, for a request that
holds an event the case's `refuse` rule names, with that rule's status),
records every request, and reports how many it has seen at `GET /_count`.
`files` ({"/prefix/": folder}) serves those folders' files by GET, so a
browser page running a case is on the collector's own origin
(tests/browser). Standard library only."""

import json
import mimetypes
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Request:
    def __init__(self, at, events, size, authorization=None):
        self.at = at  # time.monotonic() when the request arrived
        self.events = events  # the decoded events, in order
        self.size = size  # the body's length in bytes
        self.authorization = authorization  # the header, None when absent

    @property
    def uuids(self):
        return [e.get("uuid") for e in self.events]


class FakeCollector:
    def __init__(self, script, refuse=None, files=None):
        self.script = list(script)
        self.files = dict(files or {})
        # {"n": [...], "status": S, "body": {...}}: every request holding one
        # of these events is answered S as a whole, as the real collector
        # answers a body it cannot take (400, 413), whatever the script says
        self.refuse = refuse
        self.requests = []
        self.lock = threading.Lock()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                for prefix, folder in collector.files.items():
                    if self.path.startswith(prefix):
                        self.send_file(folder, self.path[len(prefix):].split("?")[0])
                        return
                if self.path != "/_count":
                    self.reply(404, {"error": "not found"})
                    return
                with collector.lock:
                    n = len(collector.requests)
                self.reply(200, {"count": n})

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if self.path != "/v1/events":
                    self.reply(404, {"error": "not found"})
                    return
                try:
                    events = json.loads(body)["events"]
                except (ValueError, KeyError, TypeError) as e:
                    self.reply(400, {"error": f"fake collector: bad batch: {e}"})
                    return
                refuse = collector.refuse
                with collector.lock:
                    auth = self.headers.get("Authorization")
                    collector.requests.append(
                        Request(time.monotonic(), events, len(body), auth))
                    if refuse and any((e.get("fields") or {}).get("n") in refuse["n"] for e in events):
                        answer = {"status": refuse["status"],
                                  "body": refuse.get("body", {"error": f"scripted {refuse['status']}"})}
                    else:
                        answer = collector.script.pop(0) if collector.script else {}
                if answer.get("delay_ms"):
                    time.sleep(answer["delay_ms"] / 1000)
                if answer.get("drop_connection"):
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                status = answer.get("status", 200)
                headers = {}
                if "retry_after" in answer:
                    headers["Retry-After"] = str(answer["retry_after"])
                # "{authorization}" in a message stands for the request's
                # Authorization header: a collector echoing the key, which
                # no sender may pass on to its results or its log
                def echo(text):
                    return text.replace("{authorization}", auth or "")
                forbid = answer.get("forbid", [])
                if forbid and all((e.get("fields") or {}).get("n") in forbid for e in events):
                    status = 403  # the collector's answer when no event may be written
                if status not in (200, 403) or (status == 403 and not forbid):
                    body = answer.get("body", {"error": f"scripted {status}"})
                    if isinstance(body.get("error"), str):
                        body = dict(body, error=echo(body["error"]))
                    self.reply(status, body, headers)
                    return
                results = []
                for e in events:
                    n = (e.get("fields") or {}).get("n")
                    if n in forbid:
                        results.append({"status": "rejected", "code": 403, "error": echo(answer.get(
                            "forbid_error", "source: the write key may write events of source "
                            "other-source only, not 'conformance-adapter' (forbidden, not stored)"))})
                    elif n in answer.get("reject", []):
                        results.append({"status": "rejected", "error": "fields.n: rejected by the script"})
                    elif n in answer.get("duplicate", []):
                        results.append({"status": "duplicate"})
                    else:
                        results.append({"status": "accepted"})
                self.reply(status, {"results": results}, headers)

            def send_file(self, folder, rel):
                path = (folder / rel).resolve()
                if folder.resolve() not in path.parents or not path.is_file():
                    self.reply(404, {"error": f"no file {rel}"})
                    return
                data = path.read_bytes()
                kind = ("text/javascript" if path.suffix in (".js", ".mjs")
                        else mimetypes.guess_type(path.name)[0] or "application/octet-stream")
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(data)

            def reply(self, status, obj, headers=None):
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout case)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
