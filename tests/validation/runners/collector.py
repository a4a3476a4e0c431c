"""The collector as a validator: a real `reestr serve` on the case file's
registry, each case POSTed as one event of a batch, its per-event result
read back. A case the collector refuses as a whole request (HTTP 400: the
text is not JSON) is sent alone; if a batch is refused unexpectedly, every
case of it is sent alone so each gets its own verdict."""

import json
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from validation_cases import (ENVIRONMENT, EVENT_ID, REESTR, SOURCE, Result)

_UUID_BASE = 0x0190_0000_0000_7000_8000_0000_0000_0000


def _uuid(n):
    """A valid UUIDv7-shaped id, distinct per case."""
    h = f"{_UUID_BASE + n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Serve:
    def __init__(self, registry: Path, work: Path):
        self.port = _free_port()
        work.mkdir(parents=True, exist_ok=True)
        self.log = work / "serve.log"
        with open(self.log, "ab") as logf:
            self.proc = subprocess.Popen(
                [REESTR, "serve", "--insecure-local", "--dev", "--registry", str(registry), "--data",
                 str(work / "data"), "--listen", f"127.0.0.1:{self.port}"],
                stdout=logf, stderr=logf)
        deadline = time.time() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"reestr serve exited: "
                                   f"{self.log.read_text()}")
            try:
                with urllib.request.urlopen(self.url("/healthz"),
                                            timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                if time.time() > deadline:
                    raise RuntimeError("reestr serve did not start: "
                                       f"{self.log.read_text()}")
                time.sleep(0.05)

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def post(self, body: bytes):
        req = urllib.request.Request(
            self.url("/v1/events"), data=body, method="POST",
            headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=30)
        assert rc == 0, f"reestr serve exited {rc}: {self.log.read_text()}"


def _event(case, n) -> bytes:
    head = json.dumps({
        "event_id": EVENT_ID, "version": 0, "uuid": _uuid(n),
        "time": "2026-11-30T12:00:00Z", "environment": ENVIRONMENT,
        "source": SOURCE})
    return head[:-1].encode() + b', "fields": ' + case.fields_bytes() + b"}"


def _result(r) -> Result:
    if r["status"] in ("accepted", "duplicate"):
        return Result("accept", None, "")
    msg = r.get("error", "")
    path = msg.split(": ", 1)[0] if ": " in msg else None
    return Result("reject", path, msg)


def _post(serve, items):
    """items: [(case, n)] -> [Result] or None when the batch got a 400."""
    body = b'{"events": [' + b", ".join(_event(c, n) for c, n in items) \
        + b"]}"
    status, raw = serve.post(body)
    if status == 400 and len(items) > 1:
        return None
    if status != 200:
        try:
            msg = json.loads(raw).get("error", "")
        except ValueError:
            msg = raw.decode("utf-8", "replace")
        return [Result("reject", None, msg, request=True)] * len(items)
    results = json.loads(raw)["results"]
    assert len(results) == len(items), raw
    return [_result(r) for r in results]


def run(registry: Path, cases: list, work: Path) -> list:
    serve = _Serve(registry, work)
    try:
        out = [None] * len(cases)
        batch, alone = [], []
        for i, c in enumerate(cases):
            (alone if c.expected("collector")["request"] else batch).append(i)
        if batch:
            got = _post(serve, [(cases[i], i) for i in batch])
            if got is None:  # refused whole: ask one by one
                alone += batch
            else:
                for i, r in zip(batch, got):
                    out[i] = r
        for i in alone:
            out[i] = _post(serve, [(cases[i], i)])[0]
        return out
    finally:
        serve.stop()
