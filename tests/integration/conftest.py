"""Fixtures for integration tests: a real `reestr serve` on a free loopback
port with its own data folder, and small clients for it (standard library
only)."""

import gzip
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid as uuidlib
from datetime import datetime, timezone
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REESTR = os.environ.get("REESTR_BIN", str(ROOT / "build" / "reestr"))
EXAMPLES = ROOT / "examples" / "registry"
FIXTURE_REGISTRY = Path(__file__).parent / "fixtures" / "registry"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def uuid7():
    """A time-ordered UUIDv7, as our senders make them."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms << 80) | rand
    value = (value & ~(0xF << 76)) | (0x7 << 76)
    value = (value & ~(0x3 << 62)) | (0x2 << 62)
    return str(uuidlib.UUID(int=value))


def now_rfc3339():
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


# serve's line per environment once its langpacks are decided, after the
# start or reload line (docs/collector.md, "Logs")
LANGPACK_LINE = re.compile(r"^reestr serve: langpacks (?:ready|not made): "
                           r"(\S+): .*$", re.M)
NEW_LANGPACK = re.compile(r"(?:go v|python |php |ts )\d+\.\d+\.\d+ new\b")
LANGPACKS_DONE = re.compile(r"^reestr serve: langpacks done: .*$", re.M)


def langpack_lines(log, proc=None, envs=None, after="listening on",
                   timeout=120):
    """The langpack lines (one per environment) logged after the last line
    containing `after` (the start line by default), once serve has said
    `langpacks done`; when envs is given, there must be that many."""
    deadline = time.monotonic() + timeout
    while True:
        text = Path(log).read_text(errors="replace")
        start = text.rfind(after)
        if start >= 0 and LANGPACKS_DONE.search(text, start):
            end = LANGPACKS_DONE.search(text, start).start()
            lines = [m.group(0) for m in
                     LANGPACK_LINE.finditer(text[start:end])]
            if envs is not None:
                assert len(lines) == envs, (envs, lines)
            return lines
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"serve exited: {text}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no 'langpacks done' line after "
                                 f"{after!r}: {text}")
        time.sleep(0.02)


def new_langpack_versions(lines):
    """How many langpack versions the lines say were made."""
    return sum(len(NEW_LANGPACK.findall(line)) for line in lines)


class Response:
    def __init__(self, status, body, headers):
        self.status = status
        self.raw = body
        self.headers = headers

    def json(self):
        return json.loads(self.raw)


class Server:
    """A running `reestr serve`; restartable so tests can kill it."""

    def __init__(self, registry, data, extra_args=(), dev=True,
                 insecure=True):
        self.registry = Path(registry)
        self.data = Path(data)
        # --insecure-local: no keys asked for (loopback only); the tests
        # of keys themselves (tests/security) pass insecure=False
        self.insecure = insecure
        # the example and fixture registries are not published: serve
        # them with --dev (docs/registry.md, "Publishing"); kept apart from
        # extra_args, which a test may replace before a restart
        self.dev = dev
        self.extra_args = list(extra_args)
        self.port = free_port()
        self.proc = None
        self.log = self.data.parent / f"serve-{self.port}.log"

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start_lines(self):
        if not self.log.exists():
            return 0
        return self.log.read_text(errors="replace").count(
            "reestr serve: listening on ")

    def start(self):
        """Until /healthz answers 200 and the start line is logged (just
        after the server answers: the langpack lines follow it)."""
        self.data.mkdir(parents=True, exist_ok=True)
        started = self.start_lines()
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [REESTR, "serve", "--registry", str(self.registry), "--data",
             str(self.data), "--listen", f"127.0.0.1:{self.port}",
             *(["--dev"] if self.dev else []),
             *(["--insecure-local"] if self.insecure else []),
             *self.extra_args],
            stdout=logf, stderr=logf)
        logf.close()
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"reestr serve exited with {self.proc.returncode}: "
                    f"{self.log.read_text()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz",
                                            timeout=1) as r:
                    if r.status == 200 and self.start_lines() > started:
                        return self
                    time.sleep(0.02)
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"reestr serve did not start: {self.log.read_text()}")

    def langpacks(self, envs=None, after="listening on"):
        """The langpack lines after the last start (or `after`) line."""
        return langpack_lines(self.log, self.proc, envs, after)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise RuntimeError("reestr serve did not stop on SIGTERM")
            # A sanitizer build reports leaks and errors through its exit
            # status, so a clean stop must exit 0.
            assert rc == 0, f"reestr serve exited {rc}: {self.log.read_text()}"
        self.proc = None

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc = None

    def request(self, method, path, body=None, headers=None, timeout=60):
        req = urllib.request.Request(self.url + path, data=body,
                                     method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return Response(r.status, r.read(), dict(r.headers))
        except urllib.error.HTTPError as e:
            return Response(e.code, e.read(), dict(e.headers))

    def post_events(self, events, encoding=None, content_type="application/json"):
        body = json.dumps({"events": events}).encode()
        headers = {"Content-Type": content_type}
        if encoding == "gzip":
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        elif encoding == "zstd":
            body = subprocess.run(["zstd", "-q", "-c"], input=body,
                                  stdout=subprocess.PIPE, check=True).stdout
            headers["Content-Encoding"] = "zstd"
        return self.request("POST", "/v1/events", body, headers)

    def post_raw(self, body, headers=None):
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        return self.request("POST", "/v1/events", body, h)

    def query(self, sql):
        return query(self.data, sql)


def query(data, sql, fmt="json"):
    out = subprocess.run([REESTR, "query", "--data", str(data), "--format",
                          fmt, sql], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout) if fmt == "json" else out.stdout


def run(*args, **kw):
    return subprocess.run([REESTR, *args], capture_output=True, text=True, **kw)


@pytest.fixture
def make_server(tmp_path):
    servers = []

    def make(registry=EXAMPLES, extra_args=(), data=None, dev=True,
             insecure=True):
        s = Server(registry, data or tmp_path / f"data{len(servers)}",
                   extra_args, dev, insecure)
        servers.append(s)
        return s.start()

    yield make
    for s in servers:
        s.stop()


@pytest.fixture
def server(make_server):
    """reestr serve on the example registry."""
    return make_server()


@pytest.fixture
def test_server(make_server):
    """reestr serve on the integration tests' own registry."""
    return make_server(registry=FIXTURE_REGISTRY)


def clickstream(**over):
    """The talk's clickstream_event (id 100, v0) as a sender writes it."""
    ev = {
        "event_id": 100,
        "version": 0,
        "uuid": uuid7(),
        "time": now_rfc3339(),
        "environment": "bo",
        "source": "example-service",
        "fields": {
            "user": {"id": 413, "email": "user413@example.com"},
            "geo": {"latitude": 20.22, "longitude": -10.11},
            "user_agent": "fluffy_browser",
        },
    }
    ev.update(over)
    return ev


def page_view(**fields):
    """page_view (id 1, v0) of the fixture registry."""
    f = {"user": {"id": 7}, "url": "https://example.com/", "kind": "home"}
    f.update(fields)
    return {"event_id": 1, "version": 0, "uuid": uuid7(),
            "time": now_rfc3339(), "environment": "bo",
            "source": "test-service", "fields": f}


class held_open:
    """A registry file held open for writing (valid, "events:"): the
    watch waits 250 ms of quiet, not 30, while it is open (reload.h), as
    it did after any change before; for the tests that make a change and
    then something else (a SIGHUP, a commit) within that time."""

    def __init__(self, reg):
        self.path = reg / "zz_held_open.yaml"

    def __enter__(self):
        self.f = open(self.path, "w")
        self.f.write("events:\n")
        self.f.flush()
        return self

    def __exit__(self, *exc):
        self.f.close()
