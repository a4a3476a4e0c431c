"""Deviations, unused versions and /v1/stats over both stores
(docs/governance.md, "The store interface"): the known-answer data of
tests/integration/test_deviations.py (its registry and its normal and bad
data, read from that file) written by store_tool into an SQLite store and
into the shared cluster's ClickHouse, one database per case; `reestr
deviations --run` and `reestr unused` give the same items over both, and
the known answers. Hostile: ClickHouse unreachable fails the run naming the
URL and resolves nothing; serve's catalogue still answers without its
figures, saying why."""

import ast
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid as uuidlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from clusterlib import REESTR, ROOT

STORE_TOOL = REESTR.parent / "store_tool"
KNOWN = ROOT / "tests" / "integration" / "test_deviations.py"


def uuid7():
    ms = time.time_ns() // 1_000_000
    value = (ms << 80) | int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)
    value = (value & ~(0x3 << 62)) | (0x2 << 62)
    return str(uuidlib.UUID(int=value))


def known_answers():
    """REGISTRY, H, NOW and the data makers of test_deviations.py, run
    here (one place for the cases)."""
    tree = ast.parse(KNOWN.read_text())
    keep = {"REGISTRY", "H", "NOW", "ts", "ev", "checkout", "normal_data",
            "bad_data"}
    body = [n for n in tree.body
            if (isinstance(n, ast.Assign) and n.targets[0].id in keep)
            or (isinstance(n, ast.FunctionDef) and n.name in keep)]
    ns = {"uuid7": uuid7, "datetime": datetime, "timedelta": timedelta,
          "timezone": timezone}
    exec(compile(ast.Module(body=body, type_ignores=[]), str(KNOWN), "exec"),
         ns)
    return ns


K = known_answers()
H, NOW = K["H"], K["NOW"]


def us(dt):
    return int(dt.timestamp()) * 1_000_000 + dt.microsecond


def run(*args, check=True, timeout=120, input=None):
    r = subprocess.run([str(a) for a in args], capture_output=True,
                       text=True, timeout=timeout, input=input)
    if check and r.returncode != 0:
        pytest.fail(f"{' '.join(map(str, args))} exited {r.returncode}:\n"
                    f"{r.stdout}\n{r.stderr}")
    return r


def batch(events, received_us, failed=()):
    """A store_tool line; each event received at received_us."""
    evs = [dict(e, fields=e["fields"]) for e in events]
    return json.dumps({"received_at_us": received_us, "events": evs,
                       "failed": list(failed)}) + "\n"


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    d = tmp_path_factory.mktemp("gov-registry")
    (d / "registry.yaml").write_text(K["REGISTRY"])
    run(REESTR, "check", d)
    return d


@pytest.fixture(scope="module")
def url(shared_cluster):
    return shared_cluster.vars["REESTR_CLICKHOUSE_URL"]


def failed(reason, n, at_us):
    return [{"event_id": 1, "version": 0, "source": "web", "reason": reason,
             "payload": '{"amount":"many"}', "failure_id": uuid7(),
             "received_at_us": at_us + i} for i in range(n)]


# a rejected payload past the catalogue's 1,024 bytes a sample, with
# characters JSON, TSV and SQL quote
BIG = '{"amount":"ünï\\n\'\t","coupon":"' + "c" * 3000 + '"}'


# The cases: a database each, and the SQLite store beside it. Events are
# received 10 minutes into the hour evaluated (reject_rate counts by
# receipt; the other rules by the events' time).
def cases():
    normal = K["normal_data"]() + [K["ev"](4, H - timedelta(days=2), "web",
                                           {"n": 1})]
    bad = K["bad_data"]()
    t = H + timedelta(minutes=10)
    good = [K["checkout"](t) for _ in range(3)]
    app = [K["checkout"](t, source="app") for _ in range(6)]
    # and one failure of no known event (/v1/stats: its ids are null)
    unknown = {"event_id": -1, "version": -1, "reason": "event_id: missing",
               "payload": "{}", "failure_id": uuid7(), "received_at_us": us(t)}
    rejects = [batch(good + app, us(t),
                     failed("fields.amount: not an int: \"many\"", 3,
                            us(t)) + [unknown])]
    # the catalogue's live figures: the last 24 hours by the real clock
    now = datetime.now(timezone.utc)
    odd = [dict(f, payload=p) for f, p in zip(
        failed("fields.amount: not an int", 2, us(now)),
        [BIG, '{"amount":"x"}'])]
    live = [batch([K["checkout"](now), K["checkout"](now, source="app")],
                  us(now), odd)]
    return {"gov_normal": normal, "gov_bad": bad, "gov_rejects": rejects,
            "gov_live": live}


def lines_of(events):
    if isinstance(events[0], str):
        return "".join(events)
    return batch(events, us(H + timedelta(minutes=10)))


@pytest.fixture(scope="module")
def stores(shared_cluster, url, registry, tmp_path_factory):
    """{database: SQLite data folder}, both stores written."""
    if not STORE_TOOL.exists():
        pytest.fail(f"{STORE_TOOL} is missing (built with reestr)")
    out = {}
    for db, events in cases().items():
        shared_cluster.clickhouse(f"DROP DATABASE IF EXISTS {db}")
        data = tmp_path_factory.mktemp(db)
        run(STORE_TOOL, "--registry", registry, "--clickhouse", url,
            "--clickhouse-database", db, "--data", data,
            input=lines_of(events))
        out[db] = data
    return out


def deviations(registry, data, now, *store):
    r = run(REESTR, "deviations", "--run", "--registry", registry,
            "--data", data, "--now", now, "--json", *store)
    return json.loads(r.stdout)["deviations"]


def items(devs):
    return sorted((d["kind"], d["event"], d["version"], d["source"],
                   d["field"], d["status"], d["detail"]) for d in devs)


def both(registry, stores, url, db, now, tmp):
    """The items of a --run over SQLite and over ClickHouse (the latter's
    deviations.db in tmp)."""
    sqlite = deviations(registry, stores[db], now)
    ch = deviations(registry, tmp, now, "--clickhouse", url,
                    "--clickhouse-database", db)
    assert items(ch) == items(sqlite)
    return ch


def kinds(devs):
    return sorted((d["kind"], d["event"], d["source"]) for d in devs
                  if d["status"] == "open")


def test_deviations_agree_on_both_stores(registry, stores, url, tmp_path):
    # normal data: nothing; an hour later page_hit's volume and freshness
    normal = tmp_path / "normal"
    assert both(registry, stores, url, "gov_normal", NOW, normal) == []
    later = both(registry, stores, url, "gov_normal",
                 "2026-11-20T11:05:00Z", normal)
    assert kinds(later) == [("freshness", "page_hit", "web"),
                            ("volume", "page_hit", "")]
    # bad data: each rule fires (the known answers of test_deviations.py)
    bad = tmp_path / "bad"
    got = both(registry, stores, url, "gov_bad", NOW, bad)
    assert kinds(got) == [
        ("enum_share", "checkout_started", "web"),
        ("freshness", "page_hit", "app"),
        ("null_share", "checkout_started", "web"),
        ("range", "checkout_started", "web"),
        ("relation", "payment_done", "app"),
        ("volume", "page_hit", ""),
        ("volume_change", "page_hit", ""),
    ]
    by = {d["kind"]: d["detail"] for d in got}
    assert by["range"] == ("1 of 8 events with amount outside the range "
                           "(from 1 to 1000) in the hour from "
                           "2026-11-20T09:00Z")
    # rejections by receipt: reject_rate and a new reason
    rej = both(registry, stores, url, "gov_rejects", NOW, tmp_path / "rej")
    assert ("reject_rate", "checkout_started", "web") in kinds(rej)
    assert ("new_reasons", "checkout_started", "") in kinds(rej)
    assert [d["detail"] for d in rej if d["kind"] == "reject_rate"][0] \
        .startswith("3 of 6 rejected (50%)")

    # ClickHouse unreachable: the run fails naming the URL, and the items
    # stay as they were (an hour later the field rules would resolve)
    port = closed_port()
    down = f"http://127.0.0.1:{port}"
    before = json.loads(run(REESTR, "deviations", "--data", bad,
                            "--json").stdout)["deviations"]
    r = run(REESTR, "deviations", "--run", "--registry", registry, "--data",
            bad, "--now", "2026-11-20T11:05:00Z", "--clickhouse", down,
            check=False, timeout=60)
    assert r.returncode == 1
    assert f"ClickHouse at {down}: cannot connect" in r.stderr
    after = json.loads(run(REESTR, "deviations", "--data", bad,
                           "--json").stdout)["deviations"]
    assert after == before


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_unused_agrees_on_both_stores(registry, stores, url):
    def unused(now, *store):
        data = stores["gov_normal"]
        r = run(REESTR, "unused", "--registry", registry, "--data", data,
                "--now", now, "--json", *store)
        return json.loads(r.stdout)["unused"]

    ch = ("--clickhouse", url, "--clickhouse-database", "gov_normal")
    for now, expect in [
            (NOW, [("legacy_ping", 1)]),
            ("2026-11-21T10:00:00Z", [("legacy_ping", 0),
                                      ("legacy_ping", 1)])]:
        got = unused(now, *ch)
        assert got == unused(now)
        assert sorted((u["event"], u["version"]) for u in got) == expect
    later = unused("2026-12-05T09:30:00Z", *ch)
    assert later == unused("2026-12-05T09:30:00Z")
    assert ("page_hit", 0) in [(u["event"], u["version"]) for u in later]
    down = f"http://127.0.0.1:{closed_port()}"
    r = run(REESTR, "unused", "--registry", registry, "--clickhouse", down,
            check=False)
    assert r.returncode == 1 and r.stdout == ""
    assert f"ClickHouse at {down}: cannot connect" in r.stderr


def static_data(site):
    """The catalogue JSON `reestr docs` inlined in site/index.html."""
    html = (site / "index.html").read_text()
    start = html.index('<script id="catalogue-data" type="application/json">')
    return json.loads(html[start:].split(">", 1)[1].split("</script>", 1)[0])


def test_docs_with_data_agrees_on_both_stores(registry, stores, url,
                                              tmp_path):
    """reestr docs --data DIR --clickhouse URL: the static site's live
    figures, samples and unused versions read from ClickHouse equal those
    read from the SQLite store of the same events (deviations.db is the
    data folder's on both)."""
    data = stores["gov_rejects"]
    deviations(registry, data, NOW)  # an item for the pages to carry
    sites = {}
    for name, extra in [("sqlite", ()),
                        ("clickhouse", ("--clickhouse", url,
                                        "--clickhouse-database",
                                        "gov_rejects"))]:
        site = tmp_path / name
        run(REESTR, "docs", "--registry", registry, "--out", site,
            "--data", data, "--now", NOW, *extra)
        sites[name] = static_data(site)
    assert sites["clickhouse"] == sites["sqlite"]
    live = sites["sqlite"]["events"]["checkout_started"]["live"]
    assert any(s["rejected"] for v in live["versions"]
               for s in v["sources"]), live
    assert any(e["open_deviations"] for e in sites["sqlite"]["index"]
               ["events"])
    # ClickHouse down: exit 1 naming the URL, no site half-written over
    down = f"http://127.0.0.1:{closed_port()}"
    r = run(REESTR, "docs", "--registry", registry, "--out",
            tmp_path / "down", "--data", data, "--clickhouse", down,
            check=False, timeout=60)
    assert r.returncode == 1 and f"ClickHouse at {down}" in r.stderr
    assert not (tmp_path / "down" / "index.html").exists()
    r = run(REESTR, "docs", "--registry", registry, "--out",
            tmp_path / "x", "--clickhouse", url, check=False)
    assert r.returncode == 2 and "need --data" in r.stderr


class Serve:
    """`reestr serve` on a free port (its log in tmp), stopped by stop()."""

    def __init__(self, tmp, registry, data, *extra):
        self.port = closed_port()
        self.log = tmp / f"serve-{self.port}.log"
        args = [REESTR, "serve", "--insecure-local", "--dev", "--registry",
                registry, "--data", data, "--listen",
                f"127.0.0.1:{self.port}", *extra]
        with open(self.log, "ab") as logf:
            self.proc = subprocess.Popen([str(a) for a in args],
                                         stdout=logf, stderr=logf)
        deadline = time.monotonic() + 60
        while True:  # any answer: a collector without brokers is unhealthy
            if self.proc.poll() is not None:
                pytest.fail(f"serve exited {self.proc.returncode}:\n"
                            f"{self.log.read_text()}")
            try:
                self.get("/healthz")
                break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    pytest.fail(f"serve did not answer:\n"
                                f"{self.log.read_text()}")
                time.sleep(0.1)

    def get(self, path):
        try:
            with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.port}{path}", timeout=60) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=60)


STATS = "/v1/stats?from=2026-11-20T00:00:00Z&to=2026-11-21T00:00:00Z"


def test_serve_answers_from_clickhouse(shared_cluster, registry, stores, url,
                                       tmp_path):
    """serve --sink kafka --clickhouse URL: /v1/stats as the SQLite
    collector's, /v1/unused and the catalogue from ClickHouse; ClickHouse
    down: the catalogue answers without its figures, saying why."""
    brokers = shared_cluster.vars["REESTR_KAFKA_BROKERS"]
    kafka = ("--sink", "kafka", "--kafka-brokers", brokers,
             "--kafka-topic-prefix", "govstores")
    down = f"http://127.0.0.1:{closed_port()}"
    sqlite = Serve(tmp_path, registry, stores["gov_rejects"])
    ch = Serve(tmp_path, registry, tmp_path / "ch", *kafka, "--clickhouse",
               url, "--clickhouse-database", "gov_rejects",
               "--deviations-every", "1h")
    off = Serve(tmp_path, registry, tmp_path / "down", *kafka,
                "--clickhouse", down)
    none = Serve(tmp_path, registry, tmp_path / "none", *kafka)
    try:
        status, want = sqlite.get(STATS)
        assert status == 200
        assert [(h["event_id"], h["source"], h["accepted"], h["rejected"])
                for h in want["hours"]] == [
            (None, None, 0, 1), (1, "app", 6, 0), (1, "web", 3, 3)]
        assert ch.get(STATS) == (200, want)
        status, err = none.get(STATS)
        assert status == 501 and "--clickhouse URL" in err["error"]
        status, err = off.get(STATS)
        assert status == 503 and f"ClickHouse at {down}" in err["error"]

        path = "/v1/catalogue/events/checkout_started"
        status, page = ch.get(path)
        assert status == 200 and page["live"] is not None
        assert "live_error" not in page
        assert page["live"] == sqlite.get(path)[1]["live"]
        status, page = off.get(path)
        assert status == 200 and page["live"] is None
        assert f"ClickHouse at {down}: cannot connect" in page["live_error"]
        assert page["versions"]  # the rest of the page stands

        # live figures and sample payloads of the last 24 hours
        live_sqlite = Serve(tmp_path, registry, stores["gov_live"])
        live_ch = Serve(tmp_path, registry, tmp_path / "live", *kafka,
                        "--clickhouse", url, "--clickhouse-database",
                        "gov_live")
        try:
            want = live_sqlite.get(path)[1]["live"]
            assert live_ch.get(path)[1]["live"] == want
        finally:
            live_sqlite.stop()
            live_ch.stop()
        samples = want["reasons"][0]["samples"]
        assert [(x["length"], x["truncated"]) for x in samples] == [
            (14, False), (len(BIG.encode()), True)]  # the latest first
        assert samples[1]["payload"].startswith(BIG[:20])
        assert samples[1]["payload"].endswith("c\u2026")

        assert ch.get("/v1/unused") == sqlite.get("/v1/unused")
        # --deviations-every over ClickHouse: its run at start
        deadline = time.monotonic() + 30
        while "deviations: 9 rules" not in ch.log.read_text():
            assert time.monotonic() < deadline, ch.log.read_text()
            time.sleep(0.2)
        status, devs = ch.get("/v1/deviations")
        assert status == 200 and devs["deviations"]
        status, _ = off.get("/v1/unused")
        assert status == 503
    finally:
        for s in (sqlite, ch, off, none):
            s.stop()
