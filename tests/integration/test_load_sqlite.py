"""reestr load --from sqlite (docs/scale-out.md, "Moving an SQLite
deployment onto the cluster") without a cluster: a store written by the
collector — every event of the wire-format vectors (tests/vectors: every
type, nested objects, arrays, escapes, large and small floats) and
rejected events — copied into another store gives the same rows, each
event passing the loader's check of its version again; a rerun copies
nothing twice (events collapse by (time, uuid)). The flags' errors."""

import json
import uuid
from pathlib import Path

from conftest import EXAMPLES, ROOT, query, run

VECTORS = sorted((ROOT / "tests" / "vectors").glob("*.json"))

EVENT_COLUMNS = ("uuid, event_id, version, time, received_at, environment, "
                 "source, fields")
FAILED_COLUMNS = ("received_at, reason, payload, event_id, version, source, "
                  "payload_length, payload_sha256")


def load(src, dst, *extra):
    return run("load", "--from", "sqlite", "--from-data", str(src), "--to",
               "sqlite", "--data", str(dst), "--registry", str(EXAMPLES),
               *extra)


def test_copy_gives_the_same_rows(server, tmp_path):
    events = []
    for path in VECTORS:
        ev = json.loads(json.loads(path.read_text())["wire"])
        ev["uuid"] = str(uuid.uuid4())  # the vectors share a few
        events.append(ev)
    bad = dict(events[0], version=99)
    r = server.post_events(events + [bad, {"event_id": "x"}])
    assert r.status == 200, r.raw
    assert r.json()["accepted"] == len(VECTORS)
    assert r.json()["rejected"] == 2
    server.stop()
    dst = tmp_path / "copy"
    r = load(server.data, dst, "--batch-rows", "4")
    assert r.returncode == 0, r.stderr
    assert f"stored {len(VECTORS)}, duplicate 0, failed 2," in r.stderr
    order = " ORDER BY uuid"
    assert query(dst, f"SELECT {EVENT_COLUMNS} FROM events{order}") == \
        query(server.data, f"SELECT {EVENT_COLUMNS} FROM events{order}")
    order = " ORDER BY reason"
    assert query(dst, f"SELECT {FAILED_COLUMNS} FROM failed_events{order}") \
        == query(server.data,
                 f"SELECT {FAILED_COLUMNS} FROM failed_events{order}")
    # a rerun: every event a duplicate
    r = load(server.data, dst)
    assert r.returncode == 0, r.stderr
    assert f"stored 0, duplicate {len(VECTORS)}," in r.stderr


def test_flags(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    cases = [
        (["--from", "sqlite", "--to", "sqlite", "--data", str(d)],
         "--registry DIR is required"),
        (["--from", "kafka", "--to", "sqlite", "--data", str(d),
          "--registry", str(EXAMPLES)], "--kafka-brokers is required"),
        (["--from", "sqlite", "--to", "sqlite", "--from-data", str(d),
          "--data", str(d), "--registry", str(EXAMPLES)],
         "--from-data and --data are the same folder"),
        (["--from", "sqlite", "--to", "clickhouse", "--from-data", str(d),
          "--registry", str(EXAMPLES)], "--clickhouse URL is required"),
        (["--from", "files", "--to", "sqlite"], "--from is kafka or sqlite"),
        (["--from", "kafka", "--to", "sqlite", "--data", str(d),
          "--registry", str(EXAMPLES), "--kafka-brokers", "h:1",
          "--kafka-topic-prefix", "a b"], "character 2"),
        (["--from", "sqlite", "--to", "sqlite", "--from-data", str(d),
          "--data", str(tmp_path / "e"), "--registry", str(EXAMPLES),
          "--batch-rows", "0"], "--batch-rows wants a positive number"),
    ]
    for args, why in cases:
        r = run("load", *args)
        assert r.returncode == 2, (args, r.stderr)
        assert why in r.stderr, (args, r.stderr)
    # no store where --from-data points
    r = load(tmp_path / "nothing", tmp_path / "out")
    assert r.returncode == 1 and "reestr.db" in r.stderr, r.stderr
    assert not Path(tmp_path / "nothing").exists()
