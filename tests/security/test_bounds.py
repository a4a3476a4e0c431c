"""Every route bounded (docs/security.md, "Limits"), attacked route by
route on a collector with keys: an oversize URL (414), an oversize header
(431), an oversize body (413: --max-body-bytes on the event routes, a few
bytes on a langpack download, none on every other route), headers sent a
byte at a time (cut at --header-deadline), a body sent a byte at a time
(cut at --request-deadline), and more connections from one address than
--max-connections-per-ip. Each asserts the answer, or the close within
the documented time, that the collector still serves another client, and
that nothing was stored. The attackers bind to 127.0.0.2, so the other
client (127.0.0.1) is another address. Helpers: tests/integration/
test_server_limits.py's."""

import http.client
import importlib.util
import json
import socket
import subprocess
import sys
import threading
import time

import pytest

from conftest import ROOT, support

# tests/integration/test_server_limits.py's helpers; it imports from its
# own conftest, which is `support` here
_spec = importlib.util.spec_from_file_location(
    "server_limits", ROOT / "tests" / "integration" / "test_server_limits.py")
limits = importlib.util.module_from_spec(_spec)
_ours = sys.modules["conftest"]
sys.modules["conftest"] = support
try:
    _spec.loader.exec_module(limits)
finally:
    sys.modules["conftest"] = _ours
attacker_socket, is_closed, wait_for = limits.attacker_socket, limits.is_closed, limits.wait_for

REESTR = support.REESTR
HEADER_DEADLINE = 2
REQUEST_DEADLINE = 3
PER_IP = 10
MAX_BODY = 256 << 10
ORIGIN = "https://www.example.com"

# (method, path, what the route takes): the event routes, the proxy
# routes, the registry and stats, the limits, and each package route
ROUTES = [
    ("POST", "/v1/events", "events"),
    ("POST", "/v1/beacon", "beacon"),
    ("POST", "/v1/mobile", "mobile"),
    ("POST", "/v1/external/partner_feed", "external"),
    ("GET", "/v1/registry", "read"),
    ("GET", "/v1/stats", "read"),
    ("GET", "/v1/catalogue", "read"),
    ("GET", "/v1/deviations", "read"),
    ("GET", "/v1/limits", "none"),
    ("GET", "/go/reestr.local/langpack/bo/@v/list", "none"),
    ("GET", "/pypi/simple/reestr-langpack-bo/", "none"),
    ("GET", "/composer/packages.json", "none"),
    ("GET", "/npm/package.json?environment=front", "none"),
    ("POST", "/langpack/go/latest/", "langpack"),
]
IDS = [f"{m} {p.split('?')[0]}" for m, p, _ in ROUTES]


@pytest.fixture(scope="module")
def collector(tmp_path_factory):
    data = tmp_path_factory.mktemp("bounds") / "data"

    def create(*args):
        out = subprocess.run([REESTR, "keys", "create", *args, "--data", str(data)],
                             capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    keys = {"write": create("example-service", "partner-feed", "example-android"),
            "read": create("dashboard", "--read"),
            "pub": create("web", "--publishable", "--environment", "front", "--origin", ORIGIN)}
    server = support.Server(support.EXAMPLES, data, [
        "--header-deadline", str(HEADER_DEADLINE), "--request-deadline", str(REQUEST_DEADLINE),
        "--max-connections-per-ip", str(PER_IP), "--max-body-bytes", str(MAX_BODY)],
        insecure=False)
    server.start()
    yield server, keys
    server.stop()


def headers_for(kind, keys):
    """What lets a request of this route get as far as its body."""
    return {
        "events": {"Authorization": "Bearer " + keys["write"], "Content-Type": "application/json"},
        "beacon": {"Origin": ORIGIN, "Content-Type": "text/plain"},
        "mobile": {"Authorization": "Bearer " + keys["write"],
                   "Content-Type": "application/x-protobuf"},
        "external": {"Authorization": "Bearer " + keys["write"], "Content-Type": "application/json"},
        "read": {"Authorization": "Bearer " + keys["read"]},
        "langpack": {"Content-Type": "application/json"},
        "none": {},
    }[kind]


def target(path, kind, keys):
    return path + "?key=" + keys["pub"] if kind == "beacon" else path


def raw_request(method, path, headers, body=b"", extra=b"", length=None):
    """The request's bytes; length: the Content-Length announced, when
    not the body's."""
    head = f"{method} {path} HTTP/1.1\r\nHost: collector\r\n".encode()
    for k, v in headers.items():
        head += f"{k}: {v}\r\n".encode()
    if length is None and (body or method == "POST"):
        length = len(body)
    if length is not None:
        head += b"Content-Length: %d\r\n" % length
    return head + extra + b"\r\n" + body


def answer(port, data, timeout=20):
    """Sends data from the attacker's address; the status answered, or
    None when the connection was closed without an answer."""
    s = socket.socket()
    s.bind((limits.ATTACKER, 0))
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    try:
        try:
            s.sendall(data)
        except OSError:
            pass  # the server may answer and close before taking it all
        resp = http.client.HTTPResponse(s)
        try:
            resp.begin()
        except (http.client.HTTPException, OSError):
            return None, b""
        return resp.status, resp.read()
    finally:
        s.close()


def stored(server):
    q = support.query(server.data, "SELECT (SELECT count(*) FROM events) AS e, "
                      "(SELECT count(*) FROM failed_events) AS f")
    return q[0]["e"], q[0]["f"]


def still_serves(server, keys):
    """Another client is answered at once, a write included."""
    ev = support.clickstream()
    started = time.monotonic()
    resp = server.request("POST", "/v1/events", json.dumps({"events": [ev]}).encode(),
                          {"Content-Type": "application/json",
                           "Authorization": "Bearer " + keys["write"]}, timeout=5)
    assert resp.status == 200 and resp.json()["accepted"] == 1, resp.raw
    assert server.request("GET", "/v1/limits", timeout=5).status == 200
    took = time.monotonic() - started
    assert took < 2, f"the other client waited {took:.2f} s"
    return ev


def padded_batch(size):
    """A valid batch of one event, padded with spaces to size bytes: were
    it read, its event would be stored."""
    ev = support.clickstream()
    body = json.dumps({"events": [ev]}).encode()
    return body[:-1] + b" " * (size - len(body)) + b"}", ev


@pytest.mark.parametrize("method,path,kind", ROUTES, ids=IDS)
def test_oversize_url_header_and_body(collector, method, path, kind):
    server, keys = collector
    before = stored(server)
    h = headers_for(kind, keys)
    url = target(path, kind, keys)
    sep = "&" if "?" in url else "?"
    # a URL over libmicrohttpd's 32 KiB for the request line and headers
    st, _ = answer(server.port, raw_request(method, url + sep + "pad=" + "a" * 40000, h))
    assert st == 414, st
    # a header over it, and many small ones adding up
    st, _ = answer(server.port, raw_request(method, url, h, extra=b"X-Big: " + b"a" * 40000 + b"\r\n"))
    assert st == 431, st
    st, _ = answer(server.port, raw_request(
        method, url, h, extra=b"".join(b"X-H%d: v\r\n" % i for i in range(4000))))
    assert st == 431, st
    # a body over the route's limit
    limit = {"events": MAX_BODY, "beacon": MAX_BODY, "mobile": MAX_BODY, "external": MAX_BODY,
             "langpack": 4096}.get(kind, 0)
    body, ev = padded_batch(limit + 1 if limit else 64)
    st, text = answer(server.port, raw_request(method, url, h, body))
    assert st == 413, (st, text)
    if kind in ("read", "none", "langpack"):
        err = json.loads(text)["error"]
        assert ("takes no body" in err) if kind != "langpack" else ("4096 bytes" in err), err
    # the same with the body announced but never sent: refused on the
    # headers, the body not waited for
    st, _ = answer(server.port, raw_request(method, url, h, length=limit + (10 << 20)),
                   timeout=REQUEST_DEADLINE + 5)
    assert st in (413, None), st
    still_serves(server, keys)
    assert stored(server)[0] == before[0] + 1 and stored(server)[1] == before[1], \
        "only the other client's event is stored"
    assert not server.query(f"SELECT 1 FROM events WHERE uuid = '{ev['uuid']}'")


def test_slow_headers_are_cut_on_every_route(collector):
    """One connection per route sends its request a byte every 0.2 s: each
    is cut at the header deadline, while another client is served."""
    server, keys = collector
    before = stored(server)
    conns = []
    for method, path, kind in ROUTES:
        body, _ = padded_batch(200)
        conns.append((attacker_socket(server.port),
                      raw_request(method, target(path, kind, keys), headers_for(kind, keys), body)))
    opened = time.monotonic()
    stop = threading.Event()

    def trickle():
        at = 0
        while not stop.is_set():
            for c, data in conns:
                if at < len(data):
                    try:
                        c.send(data[at:at + 1])
                    except OSError:
                        pass
            at += 1
            stop.wait(0.2)

    t = threading.Thread(target=trickle)
    t.start()
    try:
        still_serves(server, keys)
        wait_for(lambda: all(is_closed(c) for c, _ in conns), HEADER_DEADLINE + 3,
                 "the header deadline to cut every route's slow headers")
        took = time.monotonic() - opened
        assert took >= HEADER_DEADLINE - 0.5, f"cut after {took:.2f} s"
    finally:
        stop.set()
        t.join()
        for c, _ in conns:
            c.close()
    still_serves(server, keys)
    assert stored(server)[0] == before[0] + 2


def test_slow_bodies_are_cut_on_every_route(collector):
    """Headers whole, then a body byte every 0.2 s (the idle timeout never
    fires): every route's connection is cut at the request deadline (or
    refused 413); nothing of it is stored."""
    server, keys = collector
    before = stored(server)
    conns = []
    for method, path, kind in ROUTES:
        c = attacker_socket(server.port)
        head = raw_request(method, target(path, kind, keys), headers_for(kind, keys),
                           length=1000)
        c.setblocking(True)
        c.sendall(head)
        c.setblocking(False)
        conns.append((c, kind))
    opened = time.monotonic()
    stop = threading.Event()
    answered = {}

    def trickle():
        while not stop.is_set():
            for i, (c, _) in enumerate(conns):
                try:
                    c.send(b" ")
                except OSError:
                    pass
                try:
                    data = c.recv(4096)
                    if data:
                        answered.setdefault(i, data)
                except (BlockingIOError, OSError):
                    pass
            stop.wait(0.2)

    t = threading.Thread(target=trickle)
    t.start()
    try:
        still_serves(server, keys)
        wait_for(lambda: all(i in answered or is_closed(c) for i, (c, _) in enumerate(conns)),
                 REQUEST_DEADLINE + 3, "every slow body to be cut or refused")
        took = time.monotonic() - opened
    finally:
        stop.set()
        t.join()
        for c, _ in conns:
            c.close()
    # a route that takes no body may refuse it (413) rather than wait for
    # it; no route answers anything else, and none holds on past the
    # deadline
    for i, data in answered.items():
        assert data.startswith(b"HTTP/1.1 413"), (ROUTES[i], data[:80])
    if len(answered) < len(conns):
        assert took >= REQUEST_DEADLINE - 0.5, f"cut after {took:.2f} s"
    still_serves(server, keys)
    assert stored(server)[0] == before[0] + 2


@pytest.mark.parametrize("method,path,kind", ROUTES, ids=IDS)
def test_one_address_holds_at_most_its_connections(collector, method, path, kind):
    """PER_IP * 3 connections from one address, each with the route's
    request begun: at most PER_IP stay open, and another address is
    served on that route meanwhile."""
    server, keys = collector
    before = stored(server)
    h = headers_for(kind, keys)
    start = raw_request(method, target(path, kind, keys), h).split(b"\r\n", 1)[0] + b"\r\n"
    conns = []
    try:
        for _ in range(PER_IP * 3):
            try:
                c = attacker_socket(server.port)
                c.send(start)
                conns.append(c)
            except OSError:
                pass
        wait_for(lambda: sum(not is_closed(c) for c in conns) <= PER_IP, 5,
                 "the connections over the per-address limit to close")
        # the route itself still answers another client
        auth = {k: v for k, v in h.items() if k == "Authorization"}
        if method == "GET":
            assert server.request("GET", target(path, kind, keys), headers=auth, timeout=5).status == 200
        still_serves(server, keys)
    finally:
        for c in conns:
            c.close()
    assert stored(server)[0] == before[0] + 1


def test_replies_in_flight_are_held_to_the_budget(make_server, tmp_path):
    """A package route's reply is a copy held until sent: counted in a
    budget as large as --max-inflight-bytes, and refused (503 with
    Retry-After) past it. /v1/registry's snapshot is sent as it is, not
    copied, so it is served whatever its size."""
    data = tmp_path / "data"
    read = subprocess.run([REESTR, "keys", "create", "dashboard", "--read", "--data", str(data)],
                          capture_output=True, text=True).stdout.strip()
    budget = 2000
    server = make_server(data=data, extra_args=["--max-inflight-bytes", str(budget)])
    small = server.request("GET", "/go/reestr.local/langpack/bo/@v/list")
    assert small.status == 200 and len(small.raw) < budget
    big = server.request("GET", "/composer/dist/bo/1.0.0.zip")
    assert big.status == 503, big.status
    assert big.headers.get("Retry-After") == "5"
    assert "--max-inflight-bytes" in json.loads(big.raw)["error"]
    reg = server.request("GET", "/v1/registry", headers={"Authorization": "Bearer " + read})
    assert reg.status == 200 and len(reg.raw) > budget, (reg.status, len(reg.raw))
    json.loads(reg.raw)
    # what the small replies took is given back: served again and again
    for _ in range(20):
        assert server.request("GET", "/go/reestr.local/langpack/bo/@v/list").status == 200
