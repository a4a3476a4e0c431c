"""The local agent (issue 5) and `reestr send`, on loopback: events survive
the agent's kill -9, a collector outage, a full spool and damaged spool
segments; every event is stored exactly once."""

import json
import os
import signal
import socket
import struct
import subprocess
import time
from pathlib import Path

import pytest

from conftest import EXAMPLES, REESTR, Server, run, uuid7


class Agent:
    def __init__(self, tmp, collector_url, *extra):
        self.socket = str(tmp / "agent.sock")
        self.spool = tmp / "spool"
        self.collector_url = collector_url
        self.extra = extra
        self.log = tmp / "agent.log"
        self.proc = None

    def start(self):
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [REESTR, "agent", "--socket", self.socket, "--spool", str(self.spool),
             "--collector", self.collector_url, *self.extra], stdout=logf, stderr=logf)
        logf.close()
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.connect(self.socket)
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"agent did not start: {self.log.read_text()}")

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            assert self.proc.wait(timeout=60) == 0, self.log.read_text()

    def send_lines(self, lines):
        """Sends lines, returns the answer lines (one per line sent)."""
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(self.socket)
            s.sendall(("\n".join(lines) + "\n").encode())
            data = b""
            while data.count(b"\n") < len(lines):
                chunk = s.recv(1 << 20)
                if not chunk:
                    break
                data += chunk
        return data.decode().splitlines()

    def status(self):
        out = run("agent", "status", "--socket", self.socket)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)


def event(n, agent_tag="agent"):
    return json.dumps({
        "event_id": 100, "version": 0, "uuid": uuid7(),
        "time": "2026-11-25T10:00:00.000000Z", "environment": "bo",
        "source": "example-service",
        "fields": {"user": {"id": n + 1}, "geo": {"latitude": 1.5, "longitude": 2.5},
                   "user_agent": agent_tag}})


def wait_for(predicate, timeout=120, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def stored(server, tag):
    return server.query(
        f"SELECT count(*) AS n, count(DISTINCT uuid) AS d FROM clickstream_event_v0 "
        f"WHERE user_agent = '{tag}'")[0]


@pytest.fixture
def collector(make_server):
    return make_server()


def test_events_through_the_agent_reach_the_store(collector, tmp_path):
    agent = Agent(tmp_path, collector.url).start()
    try:
        answers = agent.send_lines([event(i, "basic") for i in range(10)] + ["{not json", "[1]"])
        assert answers[:10] == ["ok"] * 10
        assert answers[10].startswith("error malformed JSON at column 2")
        assert answers[11] == "error an event must be a JSON object"
        wait_for(lambda: stored(collector, "basic")["n"] == 10, what="delivery")
        wait_for(lambda: agent.status()["queue_depth"] == 0, what="an empty queue")
        st = agent.status()
        assert (st["accepted"], st["delivered"], st["invalid"]) == (10, 10, 2)
    finally:
        agent.stop()


def test_kill9_five_times_loses_nothing_and_stores_each_once(collector, tmp_path):
    total, sent, uuids = 100_000, 0, set()
    agent = Agent(tmp_path, collector.url).start()
    try:
        for kill in range(5):
            for _ in range(20):  # 1,000 events per connection
                lines = [event(sent + i, "kill9") for i in range(1000)]
                answers = agent.send_lines(lines)
                assert answers == ["ok"] * 1000
                sent += 1000
            agent.kill9()          # acknowledged events are on disk
            agent.start()
        assert sent == total
        wait_for(lambda: stored(collector, "kill9")["d"] == total, timeout=300,
                 what="all 100,000 events")
        got = stored(collector, "kill9")
        assert got == {"n": total, "d": total}, got
    finally:
        agent.stop()


def test_collector_outage_of_60_seconds(collector, tmp_path):
    agent = Agent(tmp_path, collector.url).start()
    try:
        assert agent.send_lines([event(i, "outage") for i in range(2000)]) == ["ok"] * 2000
        collector.stop()
        start = time.time()
        n = 2000
        while time.time() - start < 60:   # load continues while it is away
            assert agent.send_lines([event(n + i, "outage") for i in range(500)]) == ["ok"] * 500
            n += 500
            time.sleep(1)
        assert agent.status()["failed_requests"] > 0
        collector.start()
        wait_for(lambda: stored(collector, "outage")["d"] == n, timeout=120, what="delivery after the outage")
        assert stored(collector, "outage")["n"] == n
    finally:
        agent.stop()


def test_full_spool_refuses_with_a_counted_error(make_server, tmp_path):
    # a collector that is not there: nothing leaves the spool
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    agent = Agent(tmp_path, f"http://127.0.0.1:{port}", "--spool-max-bytes", "64K").start()
    try:
        answers = []
        for i in range(30):
            answers += agent.send_lines([event(i * 10 + k, "full") for k in range(10)])
        ok = answers.count("ok")
        refused = [a for a in answers if a != "ok"]
        assert 0 < ok < 300 and refused
        assert all(a.startswith("error spool full") for a in refused), refused[:3]
        st = agent.status()
        assert st["refused"] == len(refused) and st["accepted"] == ok
        assert st["spool_bytes"] <= 64 * 1024
        agent.stop()
        # the collector comes: everything accepted before is delivered
        server = Server(EXAMPLES, tmp_path / "data", extra_args=())
        server.port = port
        server.start()
        try:
            agent2 = Agent(tmp_path, server.url, "--spool-max-bytes", "64K").start()
            wait_for(lambda: stored(server, "full")["n"] == ok, what="delivery")
            agent2.stop()
        finally:
            server.stop()
    finally:
        agent.stop()


def segments(spool):
    return sorted(p for p in Path(spool).glob("*.seg") if p.stat().st_size)


def test_damaged_segments_are_reported_and_the_rest_delivered(collector, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    agent = Agent(tmp_path, f"http://127.0.0.1:{port}", "--segment-bytes", "8K").start()
    for k in range(10):  # appends of 20: the 8K segments fill and rotate
        assert agent.send_lines([event(k * 20 + i, "damage") for i in range(20)]) == ["ok"] * 20
    agent.stop()
    segs = segments(agent.spool)
    assert len(segs) >= 2
    # a bit flipped inside the first record of one segment ...
    data = bytearray(segs[0].read_bytes())
    data[40] ^= 0x08
    segs[0].write_bytes(bytes(data))
    # ... and another cut in the middle of its last record (a torn write)
    last = segs[1].read_bytes()
    segs[1].write_bytes(last[:-25])
    agent = Agent(tmp_path, collector.url, "--segment-bytes", "8K").start()
    try:
        wait_for(lambda: stored(collector, "damage")["n"] == 198, what="the undamaged events")
        wait_for(lambda: agent.status()["queue_depth"] == 0, what="an empty queue")
        assert agent.status()["corrupt"] == 2
        assert stored(collector, "damage") == {"n": 198, "d": 198}
        assert "damaged spool record" in agent.log.read_text()
    finally:
        agent.stop()


FIELDS = '{"user":{"id":7},"geo":{"latitude":1,"longitude":2},"user_agent":"%s"}'


def send_args(*target):
    return ["send", *target, "--environment", "bo", "--source", "example-service",
            "--event", "clickstream_event", "--version", "0"]


def test_reestr_send_through_the_agent_and_straight(collector, tmp_path):
    agent = Agent(tmp_path, collector.url).start()
    try:
        wait_for(lambda: run("send", "--agent", agent.socket, "--environment", "bo",
                             "--source", "example-service", "--event", "clickstream_event",
                             "--version", "0", "--json", FIELDS % "cron").returncode == 0,
                 timeout=30, what="the agent's registry snapshot")
        out = run(*send_args("--collector", collector.url), "--json", FIELDS % "direct")
        assert out.returncode == 0, out.stderr
        bad = run(*send_args("--agent", agent.socket), "--json",
                  '{"user":{"id":7},"geo":{"latitude":1,"longitude":2}}')
        assert bad.returncode == 1
        assert "clickstream_event v0: fields.user_agent: missing required field" in bad.stderr
        lines = "\n".join([FIELDS % "bulk"] * 3 + ['{"user":{"id":0},"geo":{"latitude":1,"longitude":2},"user_agent":"bulk"}'])
        out = run(*send_args("--agent", agent.socket), "--ndjson", input=lines + "\n")
        assert out.returncode == 1
        assert "line 4: clickstream_event v0: fields.user.id: 0 is less than min 1" in out.stderr
        assert "4 events: 3 taken by the agent" in out.stderr and "1 invalid" in out.stderr
        wait_for(lambda: stored(collector, "bulk")["n"] == 3, what="bulk delivery")
        assert stored(collector, "cron")["n"] == 1
        assert stored(collector, "direct")["n"] == 1
    finally:
        agent.stop()


PHP_SCRIPT = r'''<?php
declare(strict_types=1);
spl_autoload_register(function (string $c): void {
    $p = 'Reestr\\Langpack\\Bo\\';
    if (str_starts_with($c, $p)) {
        require getenv('LANGPACK') . '/src/' . str_replace('\\', '/', substr($c, strlen($p))) . '.php';
    }
});
use Reestr\Langpack\Bo\{ClickstreamEventV0, Geo, Langpack, User};
use Reestr\Langpack\Bo\Runtime\Result;
$outcomes = [];
// no collector URL: the agent's socket ($REESTR_AGENT_SOCKET) is the transport
$s = Langpack::sender('', 'example-service', function (Result $r) use (&$outcomes): void {
    $outcomes[$r->outcome] = ($outcomes[$r->outcome] ?? 0) + 1;
});
$n = (int) $argv[1];
$start = hrtime(true);
for ($i = 0; $i < $n; $i++) {
    $s->send(new ClickstreamEventV0(user: new User(id: $i + 1), geo: new Geo(latitude: 1.0, longitude: 2.0),
        userAgent: 'php-agent'));
}
$took = (hrtime(true) - $start) / 1e3 / $n;
$s->close();
echo json_encode(['outcomes' => $outcomes, 'us_per_send' => $took]), "\n";
'''


def test_php_runtime_sends_through_the_agent_socket(collector, tmp_path):
    langpack = tmp_path / "langpack"
    out = run("gen", "--registry", str(EXAMPLES), "--env", "bo", "--lang", "php", "--out", str(langpack))
    assert out.returncode == 0, out.stderr
    (tmp_path / "app.php").write_text(PHP_SCRIPT)
    agent = Agent(tmp_path, collector.url).start()
    try:
        env = dict(os.environ, REESTR_AGENT_SOCKET=agent.socket, LANGPACK=str(langpack))
        proc = subprocess.run(["php", str(tmp_path / "app.php"), "2000"], env=env,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        result = json.loads(proc.stdout)
        assert result["outcomes"] == {"delivered": 2000}, result
        wait_for(lambda: stored(collector, "php-agent")["n"] == 2000, what="delivery")
    finally:
        agent.stop()


GO_MAIN = '''package main

import (
	"context"
	"fmt"

	bo "reestr.local/langpack/bo"
	"reestr.local/langpack/bo/reestr"
)

func main() {
	delivered := 0
	// no collector URL: $REESTR_AGENT_SOCKET names the agent
	s, err := bo.NewSender(reestr.Config{Source: "example-service", OnResult: func(r reestr.Result) {
		if r.Outcome == reestr.Delivered {
			delivered++
		}
	}})
	if err != nil {
		panic(err)
	}
	for i := 0; i < 1000; i++ {
		e := bo.NewClickstreamEventV0(bo.NewUser(int64(i+1)), bo.NewGeo(1, 2), "go-agent")
		if err := s.Send(e); err != nil {
			panic(err)
		}
	}
	if err := s.Close(context.Background()); err != nil {
		panic(err)
	}
	fmt.Println(delivered)
}
'''

PY_MAIN = '''
import reestr_bo as bo
delivered = []
s = bo.Sender("", "example-service", on_result=lambda r: delivered.append(r.outcome))
for i in range(1000):
    s.send(bo.ClickstreamEventV0(user=bo.User(id=i + 1), geo=bo.Geo(latitude=1.0, longitude=2.0),
                                 user_agent="py-agent"))
s.close(60)
print(delivered.count("delivered"))
'''


def test_go_and_python_runtimes_can_use_the_agent(collector, tmp_path):
    agent = Agent(tmp_path, collector.url).start()
    try:
        env = dict(os.environ, REESTR_AGENT_SOCKET=agent.socket,
                   GOCACHE=os.environ.get("GOCACHE", str(tmp_path / "gocache")),
                   GOPATH=str(tmp_path / "gopath"))
        gopack, pypack = tmp_path / "go", tmp_path / "py"
        for lang, out in (("go", gopack), ("python", pypack)):
            r = run("gen", "--registry", str(EXAMPLES), "--env", "bo", "--lang", lang, "--out", str(out))
            assert r.returncode == 0, r.stderr
        app = tmp_path / "app"
        app.mkdir()
        (app / "go.mod").write_text("module example.com/app\n\ngo 1.22\n\nrequire reestr.local/langpack/bo v0.0.0\n\n"
                                    f"replace reestr.local/langpack/bo => {gopack}\n")
        (app / "main.go").write_text(GO_MAIN)
        r = subprocess.run(["go", "run", "."], cwd=app, env=env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0 and r.stdout.strip() == "1000", r.stdout + r.stderr
        env["PYTHONPATH"] = str(pypack)
        r = subprocess.run(["python3", "-c", PY_MAIN], env=env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0 and r.stdout.strip() == "1000", r.stdout + r.stderr
        wait_for(lambda: stored(collector, "go-agent")["n"] == 1000, what="Go's events")
        wait_for(lambda: stored(collector, "py-agent")["n"] == 1000, what="Python's events")
    finally:
        agent.stop()
