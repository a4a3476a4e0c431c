"""Browsers at the collector (docs/proxy.md, "The site's frontend"): CORS
on POST /v1/events for the origins an environment lists, the preflight,
the text/plain beacon route, and the per-event check that a browser sends
only events of environments listing its origin. Requests without an Origin
header (backends) are untouched. The real browser is tests/browser/."""

import json
import signal
import socket
import textwrap
import time

import pytest

from conftest import run, uuid7, now_rfc3339

WEB = "https://shop.example.com"
ADMIN = "http://localhost:8000"
EVIL = "https://evil.example.net"

REGISTRY = textwrap.dedent("""\
    owners:
      web_team: {contact: web@example.com}
    sources:
      web-frontend: {owner: web_team}
      api: {owner: web_team}
    environments:
      front:
        origins: ["https://shop.example.com", "http://localhost:8000"]
        events: [page_view]
      admin:
        origins: ["http://localhost:8000"]
        events: [page_view]
      bo:
        events: [page_view, payment]
    events:
      page_view:
        id: 1
        owner: web_team
        versions:
          - version: 0
            fields:
              path: {type: string}
      payment:
        id: 2
        owner: web_team
        versions:
          - version: 0
            fields:
              amount: {type: int}
    """)


@pytest.fixture
def registry(tmp_path):
    d = tmp_path / "registry"
    d.mkdir()
    (d / "registry.yaml").write_text(REGISTRY)
    return d


@pytest.fixture
def srv(make_server, registry):
    return make_server(registry=registry)


def event(env="front", event_id=1, **fields):
    return {
        "event_id": event_id, "version": 0, "uuid": uuid7(),
        "time": now_rfc3339(), "environment": env, "source": "web-frontend",
        "fields": fields or ({"path": "/"} if event_id == 1 else {"amount": 5}),
    }


def body(*events):
    return json.dumps({"events": list(events)}).encode()


def stored(srv, uuid):
    return srv.query(f"SELECT environment FROM events WHERE uuid = '{uuid}'")


def failed(srv):
    return srv.query("SELECT reason FROM failed_events")


def cors_headers(r):
    return {k.lower(): v for k, v in r.headers.items()
            if k.lower().startswith("access-control-")}


def preflight(srv, origin, method="POST", headers="content-type",
              path="/v1/events"):
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers is not None:
        h["Access-Control-Request-Headers"] = headers
    return srv.request("OPTIONS", path, None, h)


def send_all_or_reset(sock, data):
    try:
        sock.sendall(data)
    except (ConnectionResetError, BrokenPipeError):
        pass  # refused while still sending: the answer, if any, is read


# --- the preflight ----------------------------------------------------------

def test_preflight_allowed(srv):
    r = preflight(srv, WEB, headers="Content-Type, content-encoding")
    assert r.status == 204, r.raw
    assert r.headers["Access-Control-Allow-Origin"] == WEB
    assert r.headers["Vary"] == "Origin"
    assert r.headers["Access-Control-Allow-Methods"] == "POST"
    allowed = r.headers["Access-Control-Allow-Headers"].lower()
    assert "content-type" in allowed and "content-encoding" in allowed
    assert int(r.headers["Access-Control-Max-Age"]) > 0
    assert r.raw == b""
    assert "Access-Control-Expose-Headers" not in r.headers
    assert "Access-Control-Allow-Credentials" not in r.headers
    # the beacon route answers a preflight the same way
    r = preflight(srv, ADMIN, path="/v1/beacon")
    assert r.status == 204 and r.headers["Access-Control-Allow-Origin"] == ADMIN


def test_preflight_refused_origin(srv):
    r = preflight(srv, EVIL)
    assert r.status == 403
    assert "not allowed" in r.json()["error"] and EVIL in r.json()["error"]
    assert cors_headers(r) == {}


def test_preflight_refused_method_and_header(srv):
    r = preflight(srv, WEB, method="PUT")
    assert r.status == 403 and "PUT" in r.json()["error"]
    assert cors_headers(r) == {}
    r = preflight(srv, WEB, headers="content-type, x-secret")
    assert r.status == 403 and "x-secret" in r.json()["error"]
    assert cors_headers(r) == {}
    r = srv.request("OPTIONS", "/v1/events", None,
                    {"Origin": WEB})  # no method asked for
    assert r.status == 403 and "Access-Control-Request-Method" in r.json()["error"]
    r = srv.request("OPTIONS", "/v1/events")  # not a preflight at all
    assert r.status == 400 and "Origin" in r.json()["error"]


def test_huge_preflight_header(srv):
    # many small tokens, inside libmicrohttpd's header memory: answered,
    # the message bounded
    many = ",".join(["content-type"] * 500 + ["x-" + "a" * 2000])
    r = preflight(srv, WEB, headers=many)
    assert r.status == 403 and len(r.raw) < 400
    assert cors_headers(r) == {}
    # beyond what a connection may hold for its headers: refused whole,
    # the collector stays up and answers the next preflight
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        send_all_or_reset(s, b"OPTIONS /v1/events HTTP/1.1\r\nHost: x\r\nOrigin: " +
                  WEB.encode() + b"\r\nAccess-Control-Request-Method: POST"
                  b"\r\nAccess-Control-Request-Headers: " + b"a," * 200000 +
                  b"\r\n\r\n")
        answer = b""
        try:
            while chunk := s.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
    # libmicrohttpd answers 431 (or resets a connection still sending)
    assert answer == b"" or answer.split(b" ")[1] == b"431", answer[:200]
    assert b"Access-Control-Allow-Origin" not in answer
    assert preflight(srv, WEB).status == 204


# --- actual requests ----------------------------------------------------------

def test_allowed_origin_stores_with_cors_headers(srv):
    ev = event()
    r = srv.request("POST", "/v1/events", body(ev),
                    {"Content-Type": "application/json", "Origin": WEB})
    assert r.status == 200, r.raw
    assert r.json()["accepted"] == 1
    assert r.headers["Access-Control-Allow-Origin"] == WEB
    assert r.headers["Vary"] == "Origin"
    assert "Retry-After" in r.headers["Access-Control-Expose-Headers"]
    assert stored(srv, ev["uuid"]) == [{"environment": "front"}]


def test_allowed_origin_error_answers_readable(srv):
    # a page may read why a request was refused: the error carries CORS
    r = srv.request("POST", "/v1/events", b"{", {
        "Content-Type": "application/json", "Origin": WEB})
    assert r.status == 400 and "malformed JSON" in r.json()["error"]
    assert r.headers["Access-Control-Allow-Origin"] == WEB
    r = srv.request("POST", "/v1/events", body(event()), {
        "Content-Type": "text/plain", "Origin": WEB})
    assert r.status == 415
    assert r.headers["Access-Control-Allow-Origin"] == WEB


def test_disallowed_origin_refused_nothing_stored(srv):
    ev = event()
    r = srv.request("POST", "/v1/events", body(ev),
                    {"Content-Type": "application/json", "Origin": EVIL})
    assert r.status == 403
    assert "no environment lists it" in r.json()["error"]
    assert cors_headers(r) == {} and "Vary" not in r.headers
    assert stored(srv, ev["uuid"]) == []
    assert failed(srv) == []
    assert "answered 403" in srv.log.read_text()


def test_no_origin_is_a_backend(srv):
    # bo lists no origins: a backend sends its events as before, with no
    # CORS headers in the answer
    ev, pay = event("bo"), event("bo", event_id=2)
    r = srv.request("POST", "/v1/events", body(ev, pay),
                    {"Content-Type": "application/json"})
    assert r.status == 200 and r.json()["accepted"] == 2
    assert cors_headers(r) == {} and "Vary" not in r.headers
    assert stored(srv, pay["uuid"]) == [{"environment": "bo"}]


def test_event_of_other_environment_rejected_per_event(srv):
    # WEB is listed by front only: its bo and admin events are rejected
    # one by one, with the reason stored in failed_events; front's is kept
    ok, bo, admin = event(), event("bo", event_id=2), event("admin")
    r = srv.request("POST", "/v1/events", body(ok, bo, admin),
                    {"Content-Type": "application/json", "Origin": WEB})
    assert r.status == 200, r.raw
    res = r.json()
    assert (res["accepted"], res["rejected"]) == (1, 2)
    assert [x["status"] for x in res["results"]] == [
        "accepted", "rejected", "rejected"]
    assert res["results"][1]["error"].startswith(
        "environment: bo does not list origin https://shop.example.com")
    assert "environments.admin.origins" in res["results"][2]["error"]
    assert stored(srv, ok["uuid"]) == [{"environment": "front"}]
    assert stored(srv, bo["uuid"]) == stored(srv, admin["uuid"]) == []
    reasons = [row["reason"] for row in failed(srv)]
    assert len(reasons) == 2 and all("does not list origin" in x
                                     for x in reasons)
    # ADMIN is listed by both front and admin: both accepted
    r = srv.request("POST", "/v1/events", body(event("admin"), event()),
                    {"Content-Type": "application/json", "Origin": ADMIN})
    assert r.json()["accepted"] == 2


@pytest.mark.parametrize("origin,status", [
    ("null", 403),                       # a sandboxed frame, a file: page
    ("shop.example.com", 400),           # no scheme
    ("https://shop.example.com/", 400),  # a path
    ("https://SHOP.example.com", 400),   # not as a browser spells it
    ("https://shop.example.com:443", 400),
    ("https://a\x7fb.com", 400),
    ("https://" + "a" * 300 + ".com", 400),
    ("*", 400),
])
def test_malformed_origin_header(srv, origin, status):
    ev = event()
    r = srv.request("POST", "/v1/events", body(ev),
                    {"Content-Type": "application/json", "Origin": origin})
    assert r.status == status, r.raw
    msg = r.json()["error"]
    assert msg.startswith("Origin header '") and len(msg) < 400
    assert cors_headers(r) == {}
    assert stored(srv, ev["uuid"]) == []
    assert preflight(srv, origin).status == status


# --- the beacon route --------------------------------------------------------

def test_beacon_text_plain_stored(srv):
    ev, bo = event(), event("bo", event_id=2)
    r = srv.request("POST", "/v1/beacon", body(ev, bo), {
        "Content-Type": "text/plain;charset=UTF-8", "Origin": WEB})
    assert r.status == 200, r.raw
    assert [x["status"] for x in r.json()["results"]] == [
        "accepted", "rejected"]
    assert r.headers["Access-Control-Allow-Origin"] == WEB
    assert stored(srv, ev["uuid"]) == [{"environment": "front"}]
    assert "does not list origin" in failed(srv)[0]["reason"]


def test_beacon_refusals(srv):
    ev = event()
    # a backend has /v1/events; the beacon route is for browsers only
    r = srv.request("POST", "/v1/beacon", body(ev),
                    {"Content-Type": "text/plain"})
    assert r.status == 403 and "/v1/events" in r.json()["error"]
    r = srv.request("POST", "/v1/beacon", body(ev),
                    {"Content-Type": "text/plain", "Origin": EVIL})
    assert r.status == 403 and cors_headers(r) == {}
    # form types are not the wire format
    r = srv.request("POST", "/v1/beacon", b"events=1", {
        "Content-Type": "application/x-www-form-urlencoded", "Origin": WEB})
    assert r.status == 415 and "text/plain" in r.json()["error"]
    r = srv.request("GET", "/v1/beacon", None, {"Origin": WEB})
    assert r.status == 405
    r = srv.request("POST", "/v1/beacon", b"not json", {
        "Content-Type": "text/plain", "Origin": WEB})
    assert r.status == 400 and "malformed JSON" in r.json()["error"]
    assert stored(srv, ev["uuid"]) == []


# --- the registry ------------------------------------------------------------

def test_check_reports_bad_origins(tmp_path):
    d = tmp_path / "reg"
    d.mkdir()
    (d / "registry.yaml").write_text(REGISTRY.replace(
        'origins: ["http://localhost:8000"]',
        'origins: ["http://localhost:8000", "https://x.com/", '
        '"https://*.x.com", "http://localhost:8000", "http://a.com:80"]'))
    out = run("check", str(d))
    assert out.returncode != 0
    lines = [x for x in out.stderr.splitlines() if "origin" in x]
    assert lines == [
        "registry.yaml:11:41: environment 'admin': origin 'https://x.com/' "
        "ends with '/': an origin has no path",
        "registry.yaml:11:59: environment 'admin': origin 'https://*.x.com' "
        "has a wildcard: list each origin exactly",
        "registry.yaml:11:78: environment 'admin' lists origin "
        "'http://localhost:8000' twice",
        "registry.yaml:11:103: environment 'admin': origin 'http://a.com:80' "
        "names port 80, http's default: browsers leave it out, so write the "
        "origin without it",
    ], out.stderr
    (d / "registry.yaml").write_text(REGISTRY.replace(
        'origins: ["http://localhost:8000"]', "origins: []"))
    out = run("check", str(d))
    assert out.returncode != 0
    assert "registry.yaml:11:5: origins of environment 'admin' must be a " \
           "non-empty list" in out.stderr


def test_origin_removed_by_a_reload_is_refused(srv, registry):
    """A cached preflight only says a page may send: each request is
    checked against the registry being served, so a reload that removes
    an origin refuses that page's next request."""
    def post(origin):
        return srv.request("POST", "/v1/events", body(event()), {
            "Content-Type": "application/json", "Origin": origin})
    assert post(WEB).status == 200
    (registry / "registry.yaml").write_text(REGISTRY.replace(
        '["https://shop.example.com", "http://localhost:8000"]',
        '["http://localhost:8000"]'))
    srv.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 20
    while time.time() < deadline and \
            "reloaded registry" not in srv.log.read_text():
        time.sleep(0.1)
    assert "reloaded registry" in srv.log.read_text()
    r = post(WEB)
    assert r.status == 403 and cors_headers(r) == {}
    assert post(ADMIN).status == 200
