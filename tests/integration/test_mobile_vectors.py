"""tests/vectors/mobile: the same event as a mobile app sends it (protobuf,
string params) and as a backend sends it (the JSON wire format) stores the
same row, and that row is the vector's "stored"."""

import json

import pytest
from google.protobuf import json_format

from conftest import EXAMPLES, ROOT
from mobile_common import pb2, post_json

VECTORS = sorted((ROOT / "tests" / "vectors" / "mobile").glob("*.json"))
ROW = ("SELECT event_id, version, uuid, time, environment, source, fields "
       "FROM events")


@pytest.mark.parametrize("path", VECTORS, ids=[p.stem for p in VECTORS])
def test_protobuf_and_json_store_the_vectors_row(make_server, path):
    v = json.loads(path.read_text())
    m = pb2()
    b = m.MobileAppEventBatch(app_id=v["app_id"])
    json_format.ParseDict(v["protobuf"], b.events.add())
    pb_server = make_server(registry=EXAMPLES)
    json_server = make_server(registry=EXAMPLES)
    resp = post_json(pb_server, b)
    assert resp.json()["accepted"] == 1, resp.raw
    resp = json_server.post_events([v["json"]])
    assert resp.json()["accepted"] == 1, resp.raw
    [pb_row] = pb_server.query(ROW)
    [json_row] = json_server.query(ROW)
    assert pb_row == json_row
    if v["stored"] is not None:
        assert pb_row == v["stored"]


def test_there_are_vectors():
    assert len(VECTORS) >= 3
