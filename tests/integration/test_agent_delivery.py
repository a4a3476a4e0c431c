"""The agent never drops what it acknowledged (issue 9): it checks events
against the collector's limits at intake, batches within them, splits a
refused batch down to the events at fault and keeps those in the dead
letter, retries a collector that is misconfigured, takes its spool folder
and socket for itself alone, bounds its connections, and counts its queue
exactly."""

import json
import os
import socket
import stat
import struct
import subprocess
import threading
import time
import zlib
from pathlib import Path

from conftest import REESTR, run, uuid7
from test_agent import Agent, stored, wait_for


def event(n, tag, user_agent=None, **extra_fields):
    fields = {"user": {"id": n + 1}, "geo": {"latitude": 1.5, "longitude": 2.5},
              "user_agent": user_agent if user_agent is not None else tag}
    fields.update(extra_fields)
    return json.dumps({
        "event_id": 100, "version": 0, "uuid": uuid7(),
        "time": "2026-11-25T10:00:00.000000Z", "environment": "bo",
        "source": "example-service", "fields": fields})


def dead_letters(agent):
    path = agent.spool / "dead-letter.ndjson"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


# --- point 1: limits at intake, batches within them, the dead letter --------

def test_a_string_over_the_collectors_limit_is_refused_at_intake(make_server, tmp_path):
    collector = make_server()
    agent = Agent(tmp_path, collector.url).start()
    try:
        lines = [event(i, "str70k") for i in range(10)]
        lines.append(event(99, "str70k", user_agent="x" * 70_000))
        lines += [event(10 + i, "str70k") for i in range(10)]
        answers = agent.send_lines(lines)
        assert answers[:10] == ["ok"] * 10 and answers[11:] == ["ok"] * 10, answers
        assert answers[10].startswith("error over the collector's max_string_bytes of 65536"), answers[10]
        wait_for(lambda: stored(collector, "str70k")["n"] == 20, what="the 20 valid events")
        wait_for(lambda: agent.status()["queue_depth"] == 0, what="an empty queue")
        assert stored(collector, "str70k") == {"n": 20, "d": 20}
        st = agent.status()
        assert (st["accepted"], st["invalid"], st["delivered"], st["rejected"]) == (20, 1, 20, 0)
    finally:
        agent.stop()


def nested(levels):
    value = 1
    for _ in range(levels):
        value = {"a": value}
    return value


def test_an_event_nested_too_deep_is_refused_at_intake(make_server, tmp_path):
    collector = make_server()
    agent = Agent(tmp_path, collector.url).start()
    try:
        lines = [event(i, "deep40") for i in range(20)]
        lines.insert(7, event(99, "deep40", extra=nested(40)))
        answers = agent.send_lines(lines)
        assert answers[7].startswith("error over the collector's max_depth of 32"), answers[7]
        assert answers[:7] + answers[8:] == ["ok"] * 20, answers
        wait_for(lambda: stored(collector, "deep40")["n"] == 20, what="the 20 valid events")
        assert stored(collector, "deep40") == {"n": 20, "d": 20}
    finally:
        agent.stop()


def test_the_deepest_event_the_collector_takes_is_taken(make_server, tmp_path):
    """The envelope's two levels are counted exactly as the collector counts
    them: 30 levels of event pass (and are delivered, as rejected by the
    registry's rules, not by a whole-batch 413), 31 are refused."""
    collector = make_server()
    agent = Agent(tmp_path, collector.url).start()
    try:
        # the event object itself is one level; fields another
        ok = event(0, "depth30", extra=nested(28))
        over = event(1, "depth31", extra=nested(29))
        answers = agent.send_lines([ok, over])
        assert answers[0] == "ok", answers
        assert answers[1].startswith("error over the collector's max_depth of 32: "
                                     "event nested 31 levels deep"), answers[1]
        wait_for(lambda: agent.status()["queue_depth"] == 0, what="an empty queue")
        st = agent.status()
        # the collector answered for it: rejected (unknown field), not 413
        assert st["rejected"] == 1 and st["dead_letter"] == 0, st
    finally:
        agent.stop()


def test_batches_fit_a_collector_with_max_batch_events_100(make_server, tmp_path):
    collector = make_server(extra_args=("--max-batch-events", "100"))
    agent = Agent(tmp_path, collector.url).start()
    try:
        assert agent.send_lines([event(i, "batch100") for i in range(1000)]) == ["ok"] * 1000
        wait_for(lambda: stored(collector, "batch100")["n"] == 1000, what="1,000 events")
        wait_for(lambda: agent.status()["queue_depth"] == 0, what="an empty queue")
        assert stored(collector, "batch100") == {"n": 1000, "d": 1000}
        st = agent.status()
        assert st["delivered"] == 1000 and st["rejected"] == 0 and st["dead_letter"] == 0, st
        assert json.loads((agent.spool / "limits.json").read_text())["max_batch_events"] == 100
    finally:
        agent.stop()


def test_batches_fit_the_collectors_body_limit(make_server, tmp_path):
    """Events of ~600 bytes against an 8 KB body: batched by bytes, not
    only by count."""
    collector = make_server(extra_args=("--max-body-bytes", "8K"))
    agent = Agent(tmp_path, collector.url).start()
    try:
        lines = [event(i, "bytes8k", user_agent="bytes8k" + "y" * 400) for i in range(200)]
        assert agent.send_lines(lines) == ["ok"] * 200
        wait_for(lambda: agent.status()["queue_depth"] == 0, what="an empty queue")
        st = agent.status()
        assert st["delivered"] == 200 and st["dead_letter"] == 0 and st["failed_requests"] == 0, st
        # packed to fit: no batch refused and split on the way
        total = sum(map(len, lines)) + len(lines)
        assert total // (8 * 1024) <= st["requests"] <= total // (8 * 1024) + 3, st
        got = collector.query("SELECT count(*) AS n, count(DISTINCT uuid) AS d FROM clickstream_event_v0 "
                              "WHERE user_agent LIKE 'bytes8k%'")[0]
        assert got == {"n": 200, "d": 200}
    finally:
        agent.stop()


def test_a_refused_batch_is_split_down_to_the_event_at_fault(make_server, tmp_path):
    """The collector comes back with a smaller string limit than the agent
    knew when it took the events: the 413 batch is halved until the one
    event at fault stands alone; it goes to the dead letter, the others are
    stored."""
    collector = make_server()
    agent = Agent(tmp_path, collector.url).start()
    try:
        collector.stop()
        lines = [event(i, "split") for i in range(20)]
        bad = event(99, "split", user_agent="split" + "z" * 2000)
        lines.insert(13, bad)
        assert agent.send_lines(lines) == ["ok"] * 21
        collector.extra_args = ["--max-string-bytes", "1024"]
        collector.start()
        wait_for(lambda: stored(collector, "split")["n"] == 20, what="the 20 valid events")
        wait_for(lambda: agent.status()["queue_depth"] == 0, what="an empty queue")
        assert stored(collector, "split") == {"n": 20, "d": 20}
        st = agent.status()
        if st["rejected"] == 1:
            # a collector that answers a limit per event (failed_events)
            # leaves nothing for the split to find
            assert st["dead_letter"] == 0, st
            return
        assert st["dead_letter"] == 1, st
        [dead] = dead_letters(agent)
        assert dead["payload"] == bad
        assert dead["reason"].startswith("the collector answered 413"), dead
        assert "string longer than 1024 bytes" in dead["reason"]
        assert st["dead_letter_path"] == str(agent.spool / "dead-letter.ndjson")
        # halving 21 down to 1 takes 11 posts that reached the collector
        # (21, 10+11, 5+6, 3+3, 1+2, 1+1), not one per event
        assert st["requests"] - st["failed_requests"] == 11, st
    finally:
        agent.stop()


def spool_record(payload):
    return b"RSPL" + struct.pack("<II", len(payload), zlib.crc32(payload)) + payload


def test_a_spool_record_that_is_not_json_goes_to_the_dead_letter(make_server, tmp_path):
    collector = make_server()
    spool = tmp_path / "spool"
    spool.mkdir()
    good = [event(i, "notjson").encode() for i in range(300)]
    bad = [b"not json {", b"\xff\xfe{\"bytes\":1}", b"[1,2]"]
    records = good[:100] + [bad[0]] + good[100:200] + [bad[1], bad[2]] + good[200:]
    (spool / ("%016d.seg" % 1)).write_bytes(b"".join(spool_record(r) for r in records))
    agent = Agent(tmp_path, collector.url).start()
    try:
        wait_for(lambda: stored(collector, "notjson")["n"] == 300, what="the 300 good events")
        wait_for(lambda: agent.status()["queue_depth"] == 0, what="an empty queue")
        assert stored(collector, "notjson") == {"n": 300, "d": 300}
        dead = dead_letters(agent)
        assert [d.get("payload") for d in dead] == ["not json {", None, "[1,2]"], dead
        assert dead[1]["payload_hex"] == bad[1].hex()
        assert dead[0]["reason"].startswith("not a JSON object: malformed JSON at column 1")
        assert dead[2]["reason"] == "not a JSON object"
        out = run("agent", "status", "--socket", agent.socket)
        st = json.loads(out.stdout)
        assert st["dead_letter"] == 3 and st["dead_letter_path"].endswith("spool/dead-letter.ndjson")
        assert st["corrupt"] == 0 and st["rejected"] == 0
    finally:
        agent.stop()
    # counted again from the file by the next agent
    agent = Agent(tmp_path, collector.url).start()
    try:
        assert agent.status()["dead_letter"] == 3
    finally:
        agent.stop()


def test_a_misconfigured_collector_url_keeps_the_events(make_server, tmp_path):
    """404 (a wrong URL) is the configuration, not the events: retried and
    logged, never dropped; the right URL then delivers them all."""
    collector = make_server()
    agent = Agent(tmp_path, collector.url + "/wrong/prefix").start()
    try:
        assert agent.send_lines([event(i, "wrongurl") for i in range(50)]) == ["ok"] * 50
        wait_for(lambda: agent.status()["requests"] >= 3 or agent.status()["queue_depth"] == 0,
                 timeout=60, what="retries")
        st = agent.status()
        assert (st["queue_depth"], st["delivered"], st["rejected"], st["dead_letter"]) == (50, 0, 0, 0), st
        assert "the collector answered 404" in agent.log.read_text()
    finally:
        agent.stop()
    agent = Agent(tmp_path, collector.url).start()
    try:
        wait_for(lambda: stored(collector, "wrongurl")["n"] == 50, what="the 50 events")
        assert stored(collector, "wrongurl") == {"n": 50, "d": 50}
    finally:
        agent.stop()


# --- point 3: one agent per spool and per socket ---------------------------

class Producers:
    """Threads that send events through the agent, each connection a batch
    of lines, counting what the agent acknowledged."""

    def __init__(self, socket_path, tag, threads=4, per_connection=20):
        self.socket_path, self.tag = socket_path, tag
        self.per_connection = per_connection
        self.acked, self.lock, self.stop = 0, threading.Lock(), threading.Event()
        self.errors = []
        self.threads = [threading.Thread(target=self.run, args=(k,)) for k in range(threads)]

    def run(self, k):
        n = 0
        while not self.stop.is_set():
            lines = [event(k * 1_000_000 + n + i, self.tag) for i in range(self.per_connection)]
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.settimeout(30)
                    s.connect(self.socket_path)
                    s.sendall(("\n".join(lines) + "\n").encode())
                    data = b""
                    while data.count(b"\n") < len(lines):
                        chunk = s.recv(1 << 16)
                        if not chunk:
                            break
                        data += chunk
            except OSError as e:
                self.errors.append(repr(e))
                continue
            answers = data.decode().splitlines()
            with self.lock:
                self.acked += answers.count("ok")
            n += len(lines)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join()


def test_a_second_agent_on_the_same_spool_or_socket_refuses(make_server, tmp_path):
    collector = make_server()
    a = Agent(tmp_path, collector.url).start()
    try:
        with Producers(a.socket, "twoagents") as producers:
            wait_for(lambda: producers.acked >= 2000, what="events taken by A")
            same = subprocess.run(
                [REESTR, "agent", "--socket", a.socket, "--spool", str(a.spool),
                 "--collector", collector.url], capture_output=True, text=True, timeout=30)
            assert same.returncode != 0
            assert f"pid {a.proc.pid}, reestr agent on socket {a.socket}" in same.stderr, same.stderr
            other = subprocess.run(
                [REESTR, "agent", "--socket", a.socket, "--spool", str(tmp_path / "spool2"),
                 "--collector", collector.url], capture_output=True, text=True, timeout=30)
            assert other.returncode != 0
            assert f"{a.socket} answers: another agent listens there" in other.stderr, other.stderr
            assert os.path.exists(a.socket)
            before = producers.acked
            wait_for(lambda: producers.acked >= before + 1000, what="A still taking events")
        assert producers.errors == []
        acked = producers.acked
        wait_for(lambda: stored(collector, "twoagents")["d"] == acked, what="every acknowledged event")
        wait_for(lambda: a.status()["queue_depth"] == 0, what="an empty queue")
        assert stored(collector, "twoagents") == {"n": acked, "d": acked}
    finally:
        a.stop()


def test_a_socket_that_is_not_a_socket_is_left_alone(make_server, tmp_path):
    collector = make_server()
    path = tmp_path / "agent.sock"
    path.write_text("precious")
    out = subprocess.run([REESTR, "agent", "--socket", str(path), "--spool", str(tmp_path / "spool"),
                          "--collector", collector.url], capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    assert "exists and is not a socket" in out.stderr
    assert path.read_text() == "precious"


# --- point 4: the socket's connection cap, idle timeout and mode -----------

def ask_status(s):
    s.sendall(b"status\n")
    data = b""
    while not data.endswith(b"\n"):
        chunk = s.recv(4096)
        assert chunk, "closed"
        data += chunk
    return json.loads(data)


def test_connections_over_the_cap_are_answered_and_closed(make_server, tmp_path):
    collector = make_server()
    agent = Agent(tmp_path, collector.url, "--max-connections", "3").start()
    held = []
    try:
        wait_for(lambda: agent.status() is not None, what="the probe to leave")
        def take():
            # the status probes' connections may still be counted for a
            # moment after they closed (the agent's thread sees the close
            # on its next read): a refusal then is retried, not a failure
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(10)
            s.connect(agent.socket)
            try:
                ask_status(s)  # taken
            except (AssertionError, ValueError):
                s.close()
                return False
            held.append(s)
            return True
        for _ in range(3):
            wait_for(take, timeout=10, what="a connection under the cap")
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(10)
            s.connect(agent.socket)
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        assert data == b"error too many connections (the agent takes 3, --max-connections)\n"
        out = run("agent", "status", "--socket", agent.socket)
        assert out.returncode == 1
        assert out.stderr == "reestr agent status: too many connections (the agent takes 3, --max-connections)\n"
        held.pop().close()

        def room():
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.settimeout(10)
                    s.connect(agent.socket)
                    return ask_status(s)["busy_refused"] >= 1
            except (OSError, AssertionError, ValueError):
                return False
        wait_for(room, timeout=30, what="room after one closed")
    finally:
        for s in held:
            s.close()
        agent.stop()


def test_an_idle_connection_is_closed(make_server, tmp_path):
    collector = make_server()
    agent = Agent(tmp_path, collector.url, "--idle-timeout", "1").start()
    try:
        silent = socket.socket(socket.AF_UNIX)
        partial = socket.socket(socket.AF_UNIX)
        busy = socket.socket(socket.AF_UNIX)
        for s in (silent, partial, busy):
            s.settimeout(15)
            s.connect(agent.socket)
        partial.sendall(b'{"event_id":')  # half a line, then nothing
        start = time.time()
        # a connection that keeps talking stays open past the timeout
        while time.time() - start < 2.5:
            assert ask_status(busy)["idle_closed"] >= 0
            time.sleep(0.3)
        assert silent.recv(100) == b""
        assert partial.recv(100) == b""
        assert time.time() - start < 10
        assert ask_status(busy)["idle_closed"] == 2
        for s in (silent, partial, busy):
            s.close()
    finally:
        agent.stop()


def test_a_producer_that_does_not_read_its_answers_is_closed(make_server, tmp_path):
    collector = make_server()
    agent = Agent(tmp_path, collector.url, "--idle-timeout", "1").start()
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(30)
            s.connect(agent.socket)
            # ~400 bytes of answer each: far more than the socket buffers
            s.sendall(b"status\n" * 5000)
            wait_for(lambda: agent.status()["idle_closed"] == 1, timeout=30,
                     what="the stalled connection closed")
            data = b""
            try:
                while chunk := s.recv(1 << 16):
                    data += chunk
            except ConnectionResetError:
                pass
            assert 0 < data.count(b"\n") < 5000
    finally:
        agent.stop()


def test_the_socket_mode(make_server, tmp_path):
    collector = make_server()
    old = os.umask(0o002)  # would leave it open to everyone
    try:
        agent = Agent(tmp_path, collector.url).start()
        try:
            assert stat.S_IMODE(os.stat(agent.socket).st_mode) == 0o660
        finally:
            agent.stop()
        agent = Agent(tmp_path, collector.url, "--socket-mode", "0600").start()
        try:
            assert stat.S_IMODE(os.stat(agent.socket).st_mode) == 0o600
        finally:
            agent.stop()
    finally:
        os.umask(old)
    bad = run("agent", "--socket", str(tmp_path / "x.sock"), "--spool", str(tmp_path / "s"),
              "--collector", collector.url, "--socket-mode", "rw")
    assert bad.returncode == 2 and "--socket-mode: 'rw' is not an octal mode" in bad.stderr


def test_help_names_the_socket_options():
    out = run("agent", "--help")
    for flag in ("--max-connections N", "--idle-timeout SECONDS", "--socket-mode OCTAL"):
        assert flag in out.stdout


# --- the queue depth --------------------------------------------------------

def test_queue_depth_is_exact_under_concurrent_producers(make_server, tmp_path):
    collector = make_server()
    agent = Agent(tmp_path, collector.url).start()
    try:
        # many small appends racing the forwarder's acknowledgements
        with Producers(agent.socket, "depth", threads=8) as producers:
            wait_for(lambda: producers.acked >= 20_000, timeout=120, what="20,000 events")
        acked = producers.acked
        wait_for(lambda: stored(collector, "depth")["d"] == acked, what="full delivery")
        wait_for(lambda: agent.status()["queue_depth"] == 0, timeout=10, what="queue_depth 0")
        # a quiet point with events waiting: the depth is the spool's count
        collector.stop()
        assert agent.send_lines([event(i, "depth-quiet") for i in range(777)]) == ["ok"] * 777
        assert agent.status()["queue_depth"] == 777
        collector.start()
        wait_for(lambda: stored(collector, "depth-quiet")["n"] == 777, what="the 777")
        wait_for(lambda: agent.status()["queue_depth"] == 0, timeout=10, what="queue_depth 0")
        assert stored(collector, "depth") == {"n": acked, "d": acked}
    finally:
        agent.stop()
