"""The sink conformance suite (issue 11): every case of
tests/conformance/sinks/*.json runs against every store, and the stores
must agree:

  sqlite      reestr serve (the embedded SQLite store)
  clickhouse  reestr serve --sink kafka, then reestr load --to clickhouse
  kafka-sqlite  the same Kafka topics, reestr load --to sqlite

Each case posts its requests, in order, to a `reestr serve` on SQLite and
to a `reestr serve --sink kafka` (own topic prefix, on the session's
shared cluster), checks every answer against the case, then drains the
topics with two `reestr load --until-caught-up` (one per store, each its
own consumer group) and runs the case's queries through `reestr query` on
the three stores: the rows must be the same. The cases run side by side
(all collectors, then all loaders, at once); each case's test reports its
own failures. On ClickHouse every table a
query reads is read with FINAL, the exactly-once read of docs/scale-out.md
("The ClickHouse store"). `received_at` (when each store got the event)
is left out of the comparison. tests/conformance/sinks/README.md describes
a case.
"""

import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from clusterlib import REESTR, ROOT

CASES = sorted((ROOT / "tests" / "conformance" / "sinks").glob("*.json"))
STATUSES = ("accepted", "duplicate", "rejected")


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Collector:
    """One `reestr serve` with its own port, data folder and log."""

    def __init__(self, name, folder, args):
        self.name, self.folder = name, folder
        self.port = free_port()
        self.log = folder / f"{name}.log"
        folder.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as logf:
            self.proc = subprocess.Popen(
                [str(REESTR), "serve", "--insecure-local", "--dev", "--listen", f"127.0.0.1:{self.port}", *map(str, args)],
                stdout=logf, stderr=logf)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def wait_healthy(self, seconds=60):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"{self.name}: reestr serve exited {self.proc.returncode}:\n"
                            f"{self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        pytest.fail(f"{self.name}: /healthz not 200 after {seconds}s:\n"
                    f"{self.log.read_text()[-3000:]}")

    def post(self, body):
        req = urllib.request.Request(self.url + "/v1/events", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                pytest.fail(f"{self.name}: reestr serve did not stop on SIGTERM")
            assert rc == 0, f"{self.name} exited {rc}:\n{self.log.read_text()[-3000:]}"


def request_body(req):
    if "body" in req:
        return req["body"].encode()
    return json.dumps({"events": req["events"]}, ensure_ascii=False).encode()


def kafka_answers(req):
    """The answers the Kafka sink must give: the case's, except where the
    case names the documented exception (a redelivery in a later request is
    `duplicate` on SQLite and `accepted` through Kafka)."""
    answers = req.get("answers")
    kafka = req.get("answers_kafka", answers)
    assert len(kafka) == len(answers), "answers_kafka must have one answer per event"
    for mine, theirs in zip(answers, kafka):
        assert mine == theirs or (mine, theirs) == ("duplicate", "accepted"), \
            "answers_kafka may differ only by duplicate -> accepted"
    return kafka


def check_answer(store, i, req, status, raw, expected):
    want_status = req.get("status", 200)
    assert status == want_status, f"{store}: request {i}: {status} {raw[:500]!r}"
    if status != 200:
        return raw
    answer = json.loads(raw)
    got = [r["status"] for r in answer["results"]]
    assert got == expected, f"{store}: request {i}: answers {got}, case says {expected}"
    for s in STATUSES:
        assert answer[s] == expected.count(s), f"{store}: request {i}: {answer}"
    return answer


def load(name, args, folder):
    log = folder / f"{name}.log"
    logf = open(log, "wb")
    proc = subprocess.Popen([str(REESTR), "load", *map(str, args), "--until-caught-up"],
                            stdout=logf, stderr=logf)
    logf.close()
    return name, proc, log


def wait_loaded(loaders, seconds=120):
    for name, proc, log in loaders:
        try:
            rc = proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            pytest.fail(f"{name}: reestr load --until-caught-up still ran after {seconds}s:\n"
                        f"{log.read_text()[-3000:]}")
        assert rc == 0, f"{name}: reestr load exited {rc}:\n{log.read_text()[-3000:]}"


def final(sql):
    """Every table a query reads, read with FINAL (ClickHouse's exactly-once
    read of a ReplacingMergeTree)."""
    return re.sub(r"\b(FROM|JOIN)\s+(\w+)", r"\1 \2 FINAL", sql, flags=re.IGNORECASE)


def query(args, sql):
    r = subprocess.run([str(REESTR), "query", *map(str, args), "--format", "json", sql],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"reestr query {' '.join(map(str, args))} {sql!r}:\n{r.stderr}"
    rows = json.loads(r.stdout)
    for row in rows:
        row.pop("received_at", None)  # when each store got it: differs by design
    return rows


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return f"row {i}:\n  sqlite: {x}\n  other:  {y}"
    return f"{len(a)} rows against {len(b)}"


class Run:
    """One case's stores: its collectors, what they answered, its loaders."""

    def __init__(self, path, root, cluster):
        self.path, self.case = path, json.loads(path.read_text())
        self.tmp = root / path.stem
        self.registry = ROOT / self.case.get("registry", "examples/registry")
        tag = f"{path.stem}-{os.getpid()}-{int(time.time() * 1000) % 1000000}"
        self.prefix = f"conformance-{tag}"
        self.database = "conformance_" + re.sub(r"\W", "_", tag)
        self.brokers = cluster.brokers
        self.ch_url = cluster.vars["REESTR_CLICKHOUSE_URL"]
        self.answers = []   # (sqlite status, body, kafka status, body) per request
        self.error = None   # what went wrong before the checks, raised by the case's test
        self.collectors = self.loaders = []

    def start(self):
        self.collectors = [
            Collector("sqlite", self.tmp, ["--registry", self.registry,
                                           "--data", self.tmp / "sqlite"]),
            # one partition per topic: a small case needs no more, and the
            # topics are created faster
            Collector("kafka", self.tmp, [
                "--registry", self.registry, "--data", self.tmp / "kafka-collector",
                "--sink", "kafka", "--kafka-brokers", self.brokers,
                "--kafka-topic-prefix", self.prefix, "--kafka-partitions", 1])]

    def post(self):
        try:
            for c in self.collectors:
                c.wait_healthy()
            sqlite, kafka = self.collectors
            for req in self.case["requests"]:
                body = request_body(req)
                self.answers.append((*sqlite.post(body), *kafka.post(body)))
        finally:
            for c in self.collectors:
                c.stop()

    def load(self):
        common = ["--from", "kafka", "--kafka-brokers", self.brokers,
                  "--kafka-topic-prefix", self.prefix, "--registry", self.registry]
        self.loaders = [
            load("load-clickhouse", common + ["--to", "clickhouse", "--group", self.prefix + "-ch",
                                              "--clickhouse", self.ch_url,
                                              "--clickhouse-database", self.database], self.tmp),
            load("load-sqlite", common + ["--to", "sqlite", "--group", self.prefix + "-sqlite",
                                          "--data", self.tmp / "kafka-sqlite"], self.tmp)]

    def step(self, what):
        """Runs one stage unless an earlier one failed; keeps the failure
        for this case's test (pytest.fail raises an outcome, not an Exception)."""
        if self.error is None:
            try:
                what()
            except BaseException as e:
                self.error = e


@pytest.fixture(scope="module")
def runs(shared_cluster, tmp_path_factory):
    """Every case through every store at once: their waits (topic creation,
    consumer group joins) overlap instead of adding up."""
    root = tmp_path_factory.mktemp("sinks")
    runs = {p.stem: Run(p, root, shared_cluster) for p in CASES}
    start = time.monotonic()
    for r in runs.values():
        r.step(r.start)
    for r in runs.values():
        r.step(r.post)
    posted = time.monotonic()
    for r in runs.values():
        r.step(r.load)
    for r in runs.values():
        r.step(lambda r=r: wait_loaded(r.loaders))
    print(f"\n{len(runs)} cases posted to both collectors in {posted - start:.1f}s, "
          f"loaded in {time.monotonic() - posted:.1f}s")
    return runs


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_sink_conformance(path, runs):
    run = runs[path.stem]
    if run.error is not None:
        raise run.error
    case = run.case
    for i, (req, (s_status, s_raw, k_status, k_raw)) in enumerate(
            zip(case["requests"], run.answers)):
        s = check_answer("sqlite", i, req, s_status, s_raw, req.get("answers"))
        k = check_answer("kafka", i, req, k_status, k_raw,
                         kafka_answers(req) if "answers" in req else None)
        if s_status != 200:
            assert s == k, f"request {i}: sqlite said {s!r}, kafka {k!r}"
            continue
        # the same reasons for the same rejections
        for j, (a, b) in enumerate(zip(s["results"], k["results"])):
            if a["status"] == b["status"]:
                assert a == b, f"request {i}, event {j}: sqlite {a}, kafka {b}"
    assert len(run.answers) == len(case["requests"])

    for q in case["queries"]:
        want = query(["--data", run.tmp / "sqlite"], q["sql"])
        if "rows" in q:
            assert want == q["rows"], f"{q['name']}: sqlite gave {want}"
        assert want, f"{q['name']}: no rows on SQLite (a query must show something)"
        via_sqlite = query(["--data", run.tmp / "kafka-sqlite"], q["sql"])
        assert via_sqlite == want, \
            f"{q['name']}: kafka -> sqlite differs, {first_difference(want, via_sqlite)}"
        via_ch = query(["--clickhouse", run.ch_url, "--clickhouse-database", run.database],
                       final(q["sql"]))
        assert via_ch == want, \
            f"{q['name']}: kafka -> clickhouse differs, {first_difference(want, via_ch)}"
