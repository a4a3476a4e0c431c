"""`reestr send` (issue 9, points 2 and 6): an agent that has not reached the
collector still takes events, the agent can be given the registry at start,
and send never loses an event silently: it prints a summary and its exit
status says what became of the events."""

import http.server
import shutil
import subprocess
import threading
import urllib.request

from conftest import EXAMPLES, REESTR, Server, free_port, query, run
from test_agent import Agent, wait_for

FIELDS = '{"user":{"id":%d},"geo":{"latitude":1,"longitude":2},"user_agent":"%s"}'


def send_args(target, where, event="clickstream_event"):
    return ["send", target, where, "--environment", "bo", "--source", "example-service",
            "--event", event, "--version", "0"]


def stored(data, tag):
    return query(data,
        "SELECT count(*) AS n, count(DISTINCT uuid) AS d FROM clickstream_event_v0 "
        f"WHERE user_agent = '{tag}'")[0]


def test_an_agent_that_never_reached_the_collector_keeps_every_event(tmp_path):
    """The collector is down from the start (a host booting): the agent has
    no registry snapshot, yet takes 20,000 events from `reestr send`, is
    killed twice (once while send is running, once after), and delivers
    every event exactly once when the collector comes up."""
    collector = Server(EXAMPLES, tmp_path / "data")  # not started yet
    agent = Agent(tmp_path, collector.url).start()
    total = 20000
    lines = [FIELDS % (i + 1, "boot") for i in range(total)]
    try:
        send = subprocess.Popen(
            [REESTR, *send_args("--agent", agent.socket, event="100"), "--ndjson"],
            stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        send.stdin.write("\n".join(lines[:total // 2]) + "\n")
        send.stdin.flush()
        wait_for(lambda: agent.status()["accepted"] == total // 2, timeout=30,
                 what="the first half in the spool")
        # Killed while send holds its connection: send's next batch finds
        # the agent gone, waits for the restarted one and resends it.
        agent.kill9()
        agent.start()
        send.stdin.write("\n".join(lines[total // 2:]) + "\n")
        send.stdin.close()
        err = send.stderr.read()
        assert send.wait(timeout=60) == 0, err
        assert err.count("could not check the events locally") == 1, err
        assert (f"{total} events: {total} taken by the agent (on its disk; it delivers "
                "them to the collector later), 0 rejected, 0 invalid, 0 undeliverable") in err
        agent.kill9()  # after the sends, before the collector was ever reached
        agent.start()
        collector.start()
        wait_for(lambda: stored(collector.data, "boot")["n"] >= total, timeout=60,
                 what="delivery")
        agent.stop()
        assert stored(collector.data, "boot") == {"n": total, "d": total}
    finally:
        agent.stop()
        collector.stop()


def test_without_a_snapshot_an_event_name_is_refused_with_the_way_out(tmp_path):
    agent = Agent(tmp_path, f"http://127.0.0.1:{free_port()}").start()
    try:
        out = run(*send_args("--agent", agent.socket), "--json", FIELDS % (1, "x"))
        assert out.returncode == 3
        assert "give the id (--event N)" in out.stderr
        assert "--registry DIR or --snapshot FILE" in out.stderr
        assert "nothing was sent" in out.stderr
        assert agent.status()["accepted"] == 0
    finally:
        agent.stop()


def check_through(agent):
    """send checks against the agent's snapshot by the event's name."""
    ok = run(*send_args("--agent", agent.socket), "--json", FIELDS % (1, "given"))
    assert ok.returncode == 0, ok.stderr
    assert "could not check" not in ok.stderr
    bad = run(*send_args("--agent", agent.socket), "--json", FIELDS % (0, "given"))
    assert bad.returncode == 1
    assert "clickstream_event v0: fields.user.id: 0 is less than min 1" in bad.stderr
    assert "1 event: 0 taken by the agent" in bad.stderr and "1 invalid" in bad.stderr


def test_agent_given_the_registry_folder_answers_at_once(tmp_path):
    agent = Agent(tmp_path, f"http://127.0.0.1:{free_port()}",
                  "--registry", str(EXAMPLES)).start()
    try:
        check_through(agent)
        assert agent.status()["accepted"] == 1
    finally:
        agent.stop()


def test_agent_given_a_snapshot_file_answers_at_once(tmp_path, make_server):
    collector = make_server()
    with urllib.request.urlopen(collector.url + "/v1/registry") as r:
        (tmp_path / "registry.json").write_bytes(r.read())
    collector.stop()
    agent = Agent(tmp_path, collector.url, "--snapshot", str(tmp_path / "registry.json")).start()
    try:
        check_through(agent)
    finally:
        agent.stop()


def test_agent_refuses_a_broken_snapshot_or_registry(tmp_path):
    base = ["agent", "--socket", str(tmp_path / "s"), "--spool", str(tmp_path / "spool"),
            "--collector", "http://127.0.0.1:1"]
    bad = tmp_path / "bad.json"
    bad.write_text('{"files":[{"path":"a.yaml","content":"events: [\\n"}]}')
    out = run(*base, "--snapshot", str(bad), timeout=30)
    assert out.returncode == 1
    assert f"--snapshot {bad}: registry snapshot: a.yaml:2:" in out.stderr
    out = run(*base, "--snapshot", str(tmp_path / "missing.json"), timeout=30)
    assert out.returncode == 1 and "missing.json: No such file" in out.stderr
    out = run(*base, "--registry", str(tmp_path), timeout=30)
    assert out.returncode == 1 and "no events there" in out.stderr
    out = run(*base, "--registry", str(EXAMPLES), "--snapshot", str(bad), timeout=30)
    assert out.returncode == 2


def test_send_to_a_wrong_port_says_so_and_exits_3():
    url = f"http://127.0.0.1:{free_port()}"
    out = run(*send_args("--collector", url), "--json", FIELDS % (1, "x"))
    assert out.returncode == 3
    assert out.stderr.splitlines() == [
        f"reestr send: cannot reach the collector: {url}/v1/registry: "
        "Couldn't connect to server; nothing was sent"]


def test_send_to_an_agent_that_is_not_running_exits_3(tmp_path):
    agent = Agent(tmp_path, "http://127.0.0.1:1").start()
    agent.kill9()  # its socket file stays, nobody answers
    for sock in [agent.socket, str(tmp_path / "never.sock")]:
        out = run(*send_args("--agent", sock), "--ndjson", input=FIELDS % (1, "x") + "\n")
        assert out.returncode == 3, out.stderr
        assert f"reestr send: cannot reach the agent at {sock}: " in out.stderr
        assert "nothing was sent" in out.stderr


class Proxy:
    """In front of a collector: answers GET /v1/registry with the snapshot
    given (an older one, as a cache in front of collectors mid-rollout
    would), answers the first `unavailable` POSTs 503 (all when -1), and
    passes everything else through."""

    def __init__(self, snapshot, upstream, unavailable=0):
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def relay(self, body=None):
                req = urllib.request.Request(upstream + self.path, data=body,
                                             method=self.command,
                                             headers={"Content-Type": "application/json"})
                try:
                    with urllib.request.urlopen(req) as r:
                        status, data = r.status, r.read()
                except urllib.error.HTTPError as e:
                    status, data = e.code, e.read()
                self.answer(status, data)

            def answer(self, status, data):
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if self.path == "/v1/registry":
                    self.answer(200, proxy.snapshot)
                else:
                    self.relay()

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with proxy.lock:
                    proxy.posts += 1
                    refuse = proxy.unavailable < 0 or proxy.posts <= proxy.unavailable
                if refuse:
                    self.answer(503, b'{"error":"the store cannot commit"}')
                else:
                    self.relay(body)

        self.snapshot = snapshot
        self.unavailable = unavailable
        self.posts = 0
        self.lock = threading.Lock()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def registry_snapshot(collector):
    with urllib.request.urlopen(collector.url + "/v1/registry") as r:
        return r.read()


def test_a_rejection_by_the_collector_is_reported(tmp_path, make_server):
    """send checked against a snapshot older than the collector's registry
    (which has since capped user_agent at 16 characters): the collector
    rejects what send let through, and send says so."""
    old = make_server()
    snapshot = registry_snapshot(old)
    old.stop()
    newer = tmp_path / "newer"
    shutil.copytree(EXAMPLES, newer)
    event = newer / "events" / "clickstream_event.yaml"
    event.write_text(event.read_text().replace("max_length: 512", "max_length: 16"))
    collector = make_server(registry=newer)
    proxy = Proxy(snapshot, collector.url)
    try:
        lines = [FIELDS % (1, "short"), FIELDS % (2, "short"),
                 FIELDS % (3, "a user agent longer than sixteen")]
        out = run(*send_args("--collector", proxy.url), "--ndjson", input="\n".join(lines) + "\n")
        assert out.returncode == 1, out.stderr
        assert out.stderr.splitlines() == [
            "reestr send: 3 events: 2 accepted, 0 duplicate, 1 rejected (first: line 3: "
            "fields.user_agent: 32 characters, more than max_length 16), 0 invalid, "
            "0 undeliverable"]
        assert collector.query("SELECT count(*) AS n FROM failed_events") == [{"n": 1}]
        # one event: the same outcome and status without --ndjson
        out = run(*send_args("--collector", proxy.url), "--json", lines[2])
        assert out.returncode == 1
        assert "1 rejected (first: fields.user_agent: 32 characters" in out.stderr
    finally:
        proxy.close()


def test_a_batch_the_collector_does_not_answer_is_resent_then_undeliverable(make_server):
    """Two 503s, then the collector takes the batch: every event stored
    once, exit 0. A collector that keeps answering 503: after 10 s of
    retries send stops, says which line it stopped at, and exits 3."""
    collector = make_server()
    lines = "\n".join(FIELDS % (i + 1, "retried") for i in range(600)) + "\n"
    proxy = Proxy(registry_snapshot(collector), collector.url, unavailable=2)
    try:
        out = run(*send_args("--collector", proxy.url), "--ndjson", input=lines)
        assert out.returncode == 0, out.stderr
        assert "600 events: 600 accepted, 0 duplicate, 0 rejected" in out.stderr
        assert proxy.posts == 4  # 500 + 100 events; the first batch thrice
        assert stored(collector.data, "retried") == {"n": 600, "d": 600}
    finally:
        proxy.close()
    proxy = Proxy(registry_snapshot(collector), collector.url, unavailable=-1)
    try:
        out = run(*send_args("--collector", proxy.url), "--ndjson", input=lines)
        assert out.returncode == 3, out.stderr
        assert out.stderr.splitlines() == [
            "reestr send: 500 events: 0 accepted, 0 duplicate, 0 rejected, 0 invalid, "
            '500 undeliverable (line 1: collector: 503 {"error":"the store cannot commit"}); '
            "stopped at line 1: it and the lines after it may not have been taken"]
    finally:
        proxy.close()


def test_success_prints_one_line(tmp_path, make_server):
    """Issue 12, point 8: a send that worked says so, in one line on
    stdout (the long summary on stderr stays for failures and --ndjson)."""
    collector = make_server()
    out = run(*send_args("--collector", collector.url), "--json", FIELDS % (1, "said"))
    assert out.returncode == 0, out.stderr
    assert out.stdout == "reestr send: sent 1, accepted 1\n"
    assert out.stderr == ""
    assert stored(collector.data, "said") == {"n": 1, "d": 1}
    agent = Agent(tmp_path, collector.url, "--registry", str(EXAMPLES)).start()
    try:
        out = run(*send_args("--agent", agent.socket), "--json", FIELDS % (2, "said"))
        assert out.returncode == 0, out.stderr
        assert out.stdout == ("reestr send: spooled 1 (on the agent's disk; it "
                              "delivers it to the collector)\n")
        assert out.stderr == ""
    finally:
        agent.stop()
    # a failure prints no success line
    bad = run(*send_args("--collector", collector.url), "--json", FIELDS % (0, "said"))
    assert bad.returncode == 1 and bad.stdout == ""
