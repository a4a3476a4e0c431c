"""The ClickHouse store (docs/scale-out.md, "The ClickHouse store"): batches
written through rs_clickhouse_sink (tests/tools/store_tool.c, which feeds a
store the way a loader does) into Debian's ClickHouse 18.16 of the shared
cluster, and the same batches into the SQLite store, read back with
`reestr query` from both: every type (nested objects, arrays, optional
nulls), redeliveries collapsing under FINAL, an unknown version refused, a
ClickHouse that stops answering failing the write, and the same DDL and
queries on a current ClickHouse through chdb.
"""

import json
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from clusterlib import REESTR

STORE_TOOL = REESTR.parent / "store_tool"

REGISTRY = """\
owners:
  store_team:
    contact: store@example.com
sources:
  shop:
    owner: store_team
environments:
  prod:
    events: [order, ping]
objects:
  address:
    fields:
      city: {type: string, max_length: 40}
      zip: {type: string, max_length: 10, required: false}
      geo:
        type: object
        required: false
        fields:
          lat: float
          lon: float
events:
  order:
    id: 10
    owner: store_team
    versions:
      - version: 0
        fields:
          amount: int
          price: float
          paid: bool
          note: {type: string, max_length: 100}
          status: {type: enum, values: [new, paid]}
          at: timestamp
          ship_to: address
          lines:
            type: array
            max_items: 5
            items:
              type: object
              fields: {sku: {type: string, max_length: 9}, qty: int}
          tags: {type: array, items: string, max_items: 5, max_length: 10,
                 required: false}
          discount: {type: float, required: false}
          gift: {type: bool, required: false}
  ping:
    id: 11
    owner: store_team
    versions:
      - version: 0
        fields:
          n: int
      - version: 1
        fields:
          n: int
          m: {type: int, required: false}
"""

ORDER_COLUMNS = ["uuid", "event_id", "version", "time", "received_at",
                 "environment", "source", "amount", "price", "paid", "note",
                 "status", "at", "ship_to_city", "ship_to_zip",
                 "ship_to_geo_lat", "ship_to_geo_lon", "lines", "tags",
                 "discount", "gift"]
FAILED_COLUMNS = "received_at, reason, payload, event_id, version, source, " \
                 "payload_length, payload_sha256"
T0 = 1795600800000000  # 2026-11-25T10:00:00Z in microseconds


def canonical(v):
    """JSON as the collector's canonical form writes it (compact, floats
    in their shortest form, integral floats without a fraction)."""
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e21:
        return str(int(v))
    if isinstance(v, dict):
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" +
                              canonical(x) for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ",".join(canonical(x) for x in v) + "]"
    return json.dumps(v, ensure_ascii=False)


def uuid(n):
    return f"018f2c3a-7b1d-7c3e-9f00-{n:012x}"


def order(n, time_, **fields):
    f = {"amount": n, "price": 1.5, "paid": True, "note": f"note {n}",
         "status": "new", "at": "2026-11-26T09:00:00.000000Z",
         "ship_to": {"city": "Riga"}, "lines": [{"sku": "a-1", "qty": 1}]}
    f.update(fields)
    return {"uuid": uuid(n), "time": time_, "event_id": 10, "version": 0,
            "environment": "prod", "source": "shop", "fields": f}


def ping(n, time_, version=0, **fields):
    return {"uuid": uuid(n), "time": time_, "event_id": 11,
            "version": version, "environment": "prod", "source": "shop",
            "fields": dict({"n": n}, **fields)}


def batch_line(events=(), failed=(), received_at_us=T0):
    evs = ",".join(
        "{" + ",".join(f'"{k}":' + (canonical(v) if k == "fields"
                                    else json.dumps(v))
                       for k, v in e.items()) + "}" for e in events)
    return (f'{{"received_at_us":{received_at_us},"events":[{evs}],'
            f'"failed":{json.dumps(list(failed))}}}\n')


# Every type: nested objects (an optional one holding required fields),
# arrays of strings and of objects, absent optional fields, strings that
# TSV and JSON escape, floats exact to the bit and integral ones.
BATCH_1 = [
    order(1, "2026-11-26T09:59:59.000001Z", price=0.30000000000000004,
          note='tab\there "quoted" back\\slash\nnew line, comma',
          ship_to={"city": "Tartu", "zip": "50090",
                   "geo": {"lat": 58.38, "lon": 26.72}},
          lines=[{"sku": "b-2", "qty": 3}, {"sku": "c\"3", "qty": -4}],
          tags=["x", "ü", ""], discount=2.0, gift=False),
    order(2, "2026-11-26T09:59:59.000002Z", price=2.0, paid=False,
          status="paid", amount=-9223372036854775808,
          note="ünïcødé ☃", lines=[]),
    order(3, "2026-11-26T09:59:59.000003Z", price=1e300,
          amount=9223372036854775807, discount=-0.5, gift=True),
    ping(4, "2026-11-26T10:00:00.000000Z"),
    ping(5, "2026-11-26T10:00:00.000001Z", version=1, m=7),
    ping(6, "2026-11-26T10:00:00.000002Z", version=1),
    # another month: another partition
    ping(7, "1999-12-31T23:59:59.999999Z"),
]
FAILED_1 = [
    {"event_id": 10, "version": 0, "source": "shop",
     "reason": "fields.amount: not an int", "payload": '{"x":1}',
     "payload_sha256": "ab" * 32, "failure_id": uuid(100),
     "received_at_us": T0},
    {"event_id": -1, "version": -1, "reason": "event_id: missing",
     "payload": "{}", "payload_sha256": "cd" * 32, "received_at_us": T0 + 1},
]
# The second batch: a redelivery of event 1 (same time and uuid, received
# later: a sender's retry), of both failures (a loader's redelivery: the same
# received time), and event 4's uuid at another time (another event by the
# (time, uuid) rule).
BATCH_2 = [
    order(1, "2026-11-26T09:59:59.000001Z", price=0.30000000000000004,
          note='tab\there "quoted" back\\slash\nnew line, comma',
          ship_to={"city": "Tartu", "zip": "50090",
                   "geo": {"lat": 58.38, "lon": 26.72}},
          lines=[{"sku": "b-2", "qty": 3}, {"sku": "c\"3", "qty": -4}],
          tags=["x", "ü", ""], discount=2.0, gift=False),
    ping(4, "2026-11-26T10:00:01.000000Z"),
]
LINES = [batch_line(BATCH_1, FAILED_1),
         batch_line(BATCH_2, FAILED_1, received_at_us=T0 + 5_000_000)]


def run(*args, input=None, check=True, timeout=120):
    r = subprocess.run([str(a) for a in args], input=input,
                       capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        pytest.fail(f"{' '.join(map(str, args))} exited {r.returncode}:\n"
                    f"{r.stdout}\n{r.stderr}")
    return r


def store(registry, *args, input, check=True):
    if not STORE_TOOL.exists():
        pytest.fail(f"{STORE_TOOL} is missing (built with reestr)")
    return run(STORE_TOOL, "--registry", registry, *args, input=input,
               check=check)


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    d = tmp_path_factory.mktemp("registry")
    (d / "registry.yaml").write_text(REGISTRY)
    return d


@pytest.fixture(scope="module")
def url(shared_cluster):
    return shared_cluster.vars["REESTR_CLICKHOUSE_URL"]


@pytest.fixture(scope="module")
def stores(shared_cluster, url, registry, tmp_path_factory):
    """Both batches written to ClickHouse (database store_test) and to an
    SQLite store; returns the SQLite data folder."""
    data = tmp_path_factory.mktemp("sqlite")
    for line in LINES:  # two writes: two parts, as two loader batches make
        r = store(registry, "--clickhouse", url, "--clickhouse-database",
                  "store_test", "--data", data, input=line)
        assert r.stdout == "ok\n"
    return data


def query_ch(url, sql, fmt="json", db="store_test"):
    r = run(REESTR, "query", "--clickhouse", url, "--clickhouse-database",
            db, "--format", fmt, sql)
    return json.loads(r.stdout) if fmt == "json" else r.stdout


def query_sqlite(data, sql, fmt="json"):
    r = run(REESTR, "query", "--data", data, "--format", fmt, sql)
    return json.loads(r.stdout) if fmt == "json" else r.stdout


def test_every_type_reads_back_as_from_sqlite(url, stores):
    for table, cols, order_by in [
            ("events", "*", "time, uuid"),
            ("order_v0", "*", "time, uuid"),
            ("ping_v0", "*", "time, uuid"),
            ("ping_v1", "*", "time, uuid")]:
        sql = f"SELECT {cols} FROM {table} {{}} ORDER BY {order_by}"
        assert query_sqlite(stores, sql.format("")), table
        for fmt in ("json", "csv", "table"):
            assert query_ch(url, sql.format("FINAL"), fmt) == \
                query_sqlite(stores, sql.format(""), fmt), (table, fmt)
    # SQLite keeps a redelivered failure twice (it has no failure id)
    sql = f"SELECT {{}} {FAILED_COLUMNS} FROM failed_events {{}} " \
        "ORDER BY received_at, reason"
    assert len(query_sqlite(stores, sql.format("", ""))) == 4
    for fmt in ("json", "csv", "table"):
        assert query_ch(url, sql.format("", "FINAL"), fmt) == \
            query_sqlite(stores, sql.format("DISTINCT", ""), fmt), fmt

    rows = query_ch(url, "SELECT * FROM order_v0 FINAL ORDER BY time, uuid")
    assert [list(r) for r in rows] == [ORDER_COLUMNS] * 3
    first, second, third = rows
    assert first["note"] == 'tab\there "quoted" back\\slash\nnew line, comma'
    assert first["ship_to_geo_lat"] == 58.38
    assert first["ship_to_zip"] == "50090"
    assert first["lines"] == '[{"sku":"b-2","qty":3},{"sku":"c\\"3","qty":-4}]'
    assert first["tags"] == '["x","ü",""]'
    assert (first["paid"], first["gift"], first["discount"]) == (1, 0, 2)
    assert first["price"] == 0.30000000000000004
    # the optional object absent: its required fields are NULL too
    assert (second["ship_to_zip"], second["ship_to_geo_lat"], second["tags"],
            second["discount"], second["gift"]) == (None,) * 5
    assert second["lines"] == "[]" and second["note"] == "ünïcødé ☃"
    assert (second["amount"], third["amount"]) == (-2**63, 2**63 - 1)
    assert third["price"] == 1e300
    # the table output shows floats as SQLite does
    table = query_ch(url, "SELECT amount, price, discount FROM order_v0 "
                     "FINAL ORDER BY time", "table")
    assert [line.split() for line in table.splitlines()[2:]] == [
        ["1", "0.3", "2"], ["-9223372036854775808", "2", "NULL"],
        ["9223372036854775807", "1.0e+300", "-0.5"]]


def test_types_of_the_typed_table(url, stores, shared_cluster):
    got = shared_cluster.clickhouse(
        "SELECT name, type FROM system.columns WHERE database = 'store_test' "
        "AND table = 'order_v0' FORMAT TSV")
    assert got.splitlines() == [
        "uuid\tString", "event_id\tInt64", "version\tInt32", "time\tString",
        "received_at\tString", "environment\tString", "source\tString",
        "amount\tInt64", "price\tFloat64", "paid\tUInt8", "note\tString",
        "status\tString", "at\tString", "ship_to_city\tString",
        "ship_to_zip\tNullable(String)", "ship_to_geo_lat\tNullable(Float64)",
        "ship_to_geo_lon\tNullable(Float64)", "lines\tString",
        "tags\tNullable(String)", "discount\tNullable(Float64)",
        "gift\tNullable(UInt8)", "_received_rank\tUInt64"]


def test_redeliveries_collapse_with_final(url, stores, shared_cluster):
    def ch(sql):
        return shared_cluster.clickhouse(sql + " FORMAT TSV")
    # two parts not merged yet: the redelivered rows are there twice ...
    assert ch("SELECT count() FROM store_test.events") == "9\n"
    # ... FINAL and uniqExact over the key count each event once
    assert ch("SELECT count() FROM store_test.events FINAL") == "8\n"
    assert ch("SELECT uniqExact(time, uuid) FROM store_test.events") == "8\n"
    # event 4's uuid at another time is another event (the SQLite rule)
    assert ch("SELECT uniqExact(uuid) FROM store_test.events") == "7\n"
    assert ch("SELECT count() FROM store_test.order_v0 FINAL") == "3\n"
    # the first delivery's received_at is kept, as SQLite keeps it
    assert ch("SELECT received_at FROM store_test.order_v0 FINAL "
              f"WHERE uuid = '{uuid(1)}'") == "2026-11-25T10:00:00.000000Z\n"
    # failures: by their id (the Kafka key), or by their content
    assert ch("SELECT count() FROM store_test.failed_events") == "4\n"
    assert ch("SELECT count() FROM store_test.failed_events FINAL") == "2\n"
    assert ch("SELECT failure_id FROM store_test.failed_events FINAL "
              "WHERE event_id = 10") == uuid(100) + "\n"
    # once merged, the same SQL as on SQLite gives the same rows
    for t in ("events", "order_v0", "ping_v0", "failed_events"):
        ch(f"OPTIMIZE TABLE store_test.{t} FINAL")
    sql = "SELECT * FROM events ORDER BY time, uuid"
    assert query_ch(url, sql) == query_sqlite(stores, sql)
    assert len(query_ch(url, sql)) == 8


def test_exact_floats_and_far_times(url, registry, shared_cluster):
    # 18.16 reads text floats to a few ulps; the store sends RowBinary
    prices = [2.7715077941825975e-163, -1.1006999387928028e+210,
              5e-324, 1.7976931348623157e+308, -9.548508409040584e-107]
    evs = [order(200 + i, f"{1 + i:04d}-01-01T00:00:00.000000Z", price=p)
           for i, p in enumerate(prices)]
    store(registry, "--clickhouse", url, "--clickhouse-database",
          "store_floats", input=batch_line(evs))
    rows = query_ch(url, "SELECT time, price FROM order_v0 FINAL "
                    "ORDER BY time", db="store_floats")
    assert [r["price"] for r in rows] == prices
    assert rows[0]["time"] == "0001-01-01T00:00:00.000000Z"


def test_unknown_version_fails_the_write(url, registry, shared_cluster):
    line = batch_line([ping(300, "2026-11-26T11:00:00.000000Z"),
                       ping(301, "2026-11-26T11:00:00.000000Z", version=7)])
    r = store(registry, "--clickhouse", url, "--clickhouse-database",
              "store_unknown", input=line, check=False)
    assert r.returncode == 1
    assert r.stderr.startswith("write failed (-5): ClickHouse store: event "
                               f"{uuid(301)} (id 11 version 7) is not in "
                               "the registry"), r.stderr
    # nothing of the batch was sent
    assert shared_cluster.clickhouse(
        "SELECT count() FROM store_unknown.events") == "0\n"


class Proxy:
    """A TCP forwarder to ClickHouse that can stop listening (ClickHouse
    gone: connections refused) or answer nothing (ClickHouse hung)."""

    def __init__(self, port):
        self.target = port
        self.hang = False
        self.conns = []
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.start()

    def start(self):
        if self.sock.fileno() < 0:
            self.sock = socket.socket()
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(16)
        threading.Thread(target=self.accept, args=(self.sock,),
                         daemon=True).start()

    def accept(self, sock):
        while True:
            try:
                c, _ = sock.accept()
            except OSError:
                return
            self.conns.append(c)
            if self.hang:
                continue
            up = socket.create_connection(("127.0.0.1", self.target))
            self.conns.append(up)
            for a, b in ((c, up), (up, c)):
                threading.Thread(target=self.pipe, args=(a, b),
                                 daemon=True).start()

    @staticmethod
    def pipe(a, b):
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self):
        try:  # wakes the thread in accept(), so the port closes
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass
        self.conns = []


def test_clickhouse_gone_fails_the_write(url, registry, shared_cluster):
    port = int(url.rsplit(":", 1)[1].strip("/"))
    proxy = Proxy(port)
    via = f"http://127.0.0.1:{proxy.port}"
    p = subprocess.Popen([str(STORE_TOOL), "--registry", str(registry),
                          "--clickhouse", via, "--clickhouse-database",
                          "store_gone", "--timeout-ms", "3000"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        line = batch_line([ping(400, "2026-11-26T12:00:00.000000Z")])
        p.stdin.write(line)
        p.stdin.flush()
        assert p.stdout.readline() == "ok\n"
        proxy.stop()  # ClickHouse gone: connections refused
        p.stdin.write(line)
        p.stdin.close()
        assert p.wait(timeout=30) == 1
        err = p.stderr.read()
        assert err.startswith(f"write failed (-4): ClickHouse at {via}: "
                              "cannot connect: "), err
    finally:
        p.kill()
        p.wait()
        proxy.stop()

    proxy = Proxy(port)
    proxy.hang = True  # accepts, never answers: the request's time runs out
    try:
        r = store(registry, "--clickhouse", f"http://127.0.0.1:{proxy.port}",
                  "--timeout-ms", "1500", input="", check=False)
        assert r.returncode == 1
        assert r.stderr.startswith(
            f"open failed (-4): ClickHouse at http://127.0.0.1:{proxy.port}: "
            "no answer within 1500 ms"), r.stderr
    finally:
        proxy.stop()
    # the batch that failed, written again (as the loader retries), is
    # stored once
    store(registry, "--clickhouse", url, "--clickhouse-database",
          "store_gone", input=line)
    assert shared_cluster.clickhouse(
        "SELECT count() FROM store_gone.events FINAL") == "1\n"


# The queries run on both engines; their answers must agree.
QUERIES = [
    "SELECT * FROM {db}.events FINAL ORDER BY time, uuid",
    "SELECT * FROM {db}.order_v0 FINAL ORDER BY time, uuid",
    "SELECT * FROM {db}.ping_v1 FINAL ORDER BY time, uuid",
    "SELECT received_at, reason, event_id, failure_id FROM "
    "{db}.failed_events FINAL ORDER BY received_at, failure_id",
    "SELECT uniqExact(time, uuid), count() FROM {db}.events FINAL",
    "SELECT ship_to_city, count(), sum(amount), max(price) "
    "FROM {db}.order_v0 FINAL GROUP BY ship_to_city ORDER BY ship_to_city",
]


def test_same_ddl_and_queries_on_current_clickhouse(
        url, registry, stores, shared_cluster, tmp_path):
    from chdb import session

    ddl = store(registry, "--print-ddl", "--clickhouse-database", "chdb_db",
                input="").stdout
    statements = [s for s in ddl.split(";\n") if s.strip()]
    assert len(statements) == 1 + 2 + 3  # database, events, failed, 3 typed
    # 18.16 renders the store's tables back as DDL the current engine takes
    shown = shared_cluster.clickhouse(
        "SHOW CREATE TABLE store_test.order_v0 FORMAT TSVRaw")
    s = session.Session(str(tmp_path / "chdb"))
    try:
        version = str(s.query("SELECT version()", "TSV")).strip()
        assert int(version.split(".")[0]) >= 24, version
        for sql in statements:
            s.query(sql)
        s.query("CREATE DATABASE shown")
        s.query(shown.replace("store_test.", "shown."))
        # the rows as 18.16 holds them (both parts, duplicates included)
        for t in ("events", "order_v0", "ping_v1", "failed_events"):
            rows = shared_cluster.clickhouse(
                f"SELECT * FROM store_test.{t} FORMAT JSONEachRow")
            s.query(f"INSERT INTO chdb_db.{t} FORMAT JSONEachRow\n{rows}")
        for q in QUERIES:
            old = shared_cluster.clickhouse(
                q.format(db="store_test") + " FORMAT TSVWithNames")
            new = str(s.query(q.format(db="chdb_db"), "TSVWithNames"))
            assert old.count("\n") > 1, q  # a header and rows
            assert new == old, q
    finally:
        s.close()
