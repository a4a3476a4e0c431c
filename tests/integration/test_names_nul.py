"""A NUL escaped in JSON (\\u0000) must not cut a name short: every name on
the wire (the batch's key, the envelope's keys, source, environment, field
keys at any depth, the environment asked of the langpack server) is refused
when it holds one, with a per-event reason, instead of being read as the
name before the NUL. NUL inside a string *value* stays allowed."""

import json

import pytest

from conftest import page_view

NUL = "\x00"


def results(resp):
    assert resp.status == 200, resp.raw
    return resp.json()["results"]


def rename(d, old, new):
    return {(new if k == old else k): v for k, v in d.items()}


CASES = [
    # (what, make the event, words of the reason)
    ("source", lambda: page_view() | {"source": "test-service" + NUL + "evil"},
     ["source", "NUL"]),
    ("environment", lambda: page_view() | {"environment": "bo" + NUL + "evil"},
     ["environment", "NUL"]),
    ("envelope key", lambda: rename(page_view(), "source", "source" + NUL + "x"),
     ["source\\u0000x", "NUL"]),
    ("field key", lambda: page_view() | {
        "fields": rename(page_view()["fields"], "url", "url" + NUL + "x")},
     ["fields", "url\\u0000x", "NUL"]),
    ("nested field key", lambda: page_view(user={"id" + NUL + "x": 7}),
     ["fields.user", "id\\u0000x", "NUL"]),
]


@pytest.mark.parametrize("what,make,words", CASES, ids=[c[0] for c in CASES])
def test_nul_in_a_name_rejects_the_event_alone(test_server, what, make, words):
    bad = make()
    # NUL inside a string value is fine (an email without a pattern)
    good = page_view(user={"id": 7, "email": "a" + NUL + "b"})
    resp = test_server.post_events([good, bad])
    res = results(resp)
    assert [r["status"] for r in res] == ["accepted", "rejected"], res
    for w in words:
        assert w in res[1]["error"], (w, res[1]["error"])
    # nothing was stored under the cut name
    rows = test_server.query("SELECT source, environment, fields FROM events")
    assert len(rows) == 1
    assert (rows[0]["source"], rows[0]["environment"]) == ("test-service", "bo")
    assert json.loads(rows[0]["fields"])["user"]["email"] == "a" + NUL + "b"
    failed = test_server.query("SELECT source, reason FROM failed_events")
    assert len(failed) == 1 and "NUL" in failed[0]["reason"]
    # a rejected event with a NUL source is not counted as the cut source
    if what == "source":
        assert failed[0]["source"] is None


def test_nul_in_an_enum_value_is_not_the_member(test_server):
    res = results(test_server.post_events([page_view(kind="home" + NUL + "x")]))
    assert res[0]["status"] == "rejected", res
    assert "fields.kind" in res[0]["error"]


def test_nul_in_the_batch_key_is_400(test_server):
    body = json.dumps({"events" + NUL + "x": [page_view()]}).encode()
    resp = test_server.post_raw(body)
    assert resp.status == 400, resp.raw
    assert "events\\u0000x" in resp.json()["error"]
    assert test_server.query("SELECT count(*) AS n FROM events") == [{"n": 0}]


def test_nul_in_the_langpack_environment_is_refused(test_server):
    ok = test_server.request("POST", "/langpack/python/latest/",
                             json.dumps({"environment": "bo"}).encode(),
                             {"Content-Type": "application/json"})
    assert ok.status == 200, ok.raw
    resp = test_server.request(
        "POST", "/langpack/python/latest/",
        json.dumps({"environment": "bo" + NUL + "evil"}).encode(),
        {"Content-Type": "application/json"})
    assert resp.status == 400, resp.raw
    assert b"NUL" in resp.raw
