"""The langpacks' senders and keys (docs/security.md, "Senders and the
agent"): each real runtime (Go, Python, PHP, TypeScript on Node), in the
`bo` langpack `reestr gen` makes, sends a clickstream_event to a collector
run without --insecure-local. With a write key for its source, from
REESTR_KEY or from the sender's configuration (which wins), the event is
delivered and stored; without a key it is dropped (401, not retried), and
with a key of another source rejected (403, per event): nothing stored,
not even in failed_events. The key shows in none of the program's output
(its results' reasons, its log)."""

import os
import subprocess
import uuid

import pytest

from conftest import support

REESTR = support.REESTR
LANGS = ["go", "python", "php", "ts"]

GO_PROGRAM = '''package main

import (
	"context"
	"fmt"
	"os"
	"time"

	bo "reestr.local/langpack/bo"
	"reestr.local/langpack/bo/reestr"
)

func main() {
	sender, err := bo.NewSender(reestr.Config{
		CollectorURL: os.Args[1],
		Source:       "example-service",
		Key:          os.Getenv("APP_CONFIG_KEY"), // the app's configuration; empty: $REESTR_KEY
		MaxAttempts:  3,
		BackoffBase:  10 * time.Millisecond,
		OnResult: func(r reestr.Result) {
			fmt.Printf("result %s %s %s\\n", r.UUID, r.Outcome, r.Reason)
		},
	})
	if err != nil {
		panic(err)
	}
	e := bo.NewClickstreamEventV0(bo.NewUser(413), bo.NewGeo(20.22, -10.11), "keys")
	e.SetEventUUID(os.Args[2])
	if err := sender.Send(e); err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sender.Close(ctx); err != nil {
		fmt.Println("close:", err)
	}
}
'''

PY_PROGRAM = '''import os
import sys

import reestr_bo as bo

sender = bo.Sender(sys.argv[1], "example-service",
                   key=os.environ.get("APP_CONFIG_KEY") or None,
                   max_attempts=3, backoff_base=0.01,
                   on_result=lambda r: print("result", r.uuid, r.outcome,
                                             r.reason, flush=True))
e = bo.ClickstreamEventV0(user=bo.User(id=413),
                          geo=bo.Geo(latitude=20.22, longitude=-10.11),
                          user_agent="keys")
e.event_uuid = sys.argv[2]
assert sender.send(e)
print("close:", sender.close(30))
'''

PHP_PROGRAM = '''<?php

declare(strict_types=1);

spl_autoload_register(function (string $class): void {
    $prefix = 'Reestr\\\\Langpack\\\\Bo\\\\';
    if (str_starts_with($class, $prefix)) {
        require getenv('LANGPACK') . '/src/' . str_replace('\\\\', '/', substr($class, strlen($prefix))) . '.php';
    }
});

use Reestr\\Langpack\\Bo\\ClickstreamEventV0;
use Reestr\\Langpack\\Bo\\Geo;
use Reestr\\Langpack\\Bo\\Langpack;
use Reestr\\Langpack\\Bo\\Runtime;
use Reestr\\Langpack\\Bo\\User;

$config = getenv('APP_CONFIG_KEY');
$sender = new Runtime\\Sender(new Runtime\\Config(
    collectorUrl: $argv[1],
    source: 'example-service',
    environment: Langpack::ENVIRONMENT,
    maxAttempts: 3,
    backoffBase: 0.01,
    onResult: function (Runtime\\Result $r): void {
        echo "result {$r->uuid} {$r->outcome} {$r->reason}\\n";
    },
    key: $config === false || $config === '' ? null : $config,
));
$e = new ClickstreamEventV0(user: new User(id: 413), geo: new Geo(latitude: 20.22, longitude: -10.11), userAgent: 'keys');
$e->setEventUuid($argv[2]);
$sender->send($e);
$rc = $sender->close();
echo "close: $rc\\n";
'''

TS_PROGRAM = '''import { ClickstreamEventV0, Geo, Sender, User } from "%(langpack)s/index.js";

const sender = new Sender({
  collectorUrl: process.argv[2],
  source: "example-service",
  key: process.env.APP_CONFIG_KEY || undefined, // the app's configuration; none: REESTR_KEY
  maxAttempts: 3,
  backoffBaseMs: 10,
  onResult: (r) => console.log(`result ${r.uuid} ${r.outcome} ${r.reason}`),
});
const e = new ClickstreamEventV0({
  user: new User({ id: 413 }),
  geo: new Geo({ latitude: 20.22, longitude: -10.11 }),
  userAgent: "keys",
});
e.eventUuid = process.argv[3];
sender.send(e);
console.log("close:", await sender.close());
process.exit(0);
'''


def tool(name):
    from shutil import which
    path = which(name)
    assert path, f"{name} is not installed: run scripts/install-deps"
    return path


def check(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)
    assert p.returncode == 0, f"{cmd} failed:\n{p.stdout}\n{p.stderr}"
    return p


@pytest.fixture(scope="module")
def programs(tmp_path_factory):
    """lang -> (command before the arguments, extra environment)."""
    base = tmp_path_factory.mktemp("programs")
    out = {}
    for lang in LANGS:
        pack = base / f"langpack-{lang}"
        check([REESTR, "gen", "--registry", str(support.EXAMPLES), "--env", "bo",
               "--lang", lang, "--out", str(pack)])
        app = base / f"app-{lang}"
        app.mkdir()
        if lang == "go":
            (app / "go.mod").write_text(
                "module example.com/app\n\ngo 1.22\n\n"
                "require reestr.local/langpack/bo v0.0.0\n\n"
                f"replace reestr.local/langpack/bo => {pack}\n")
            (app / "main.go").write_text(GO_PROGRAM)
            env = dict(os.environ, GOFLAGS="-mod=mod")
            env.setdefault("GOCACHE", str(base / "gocache"))
            env.setdefault("GOPATH", str(base / "gopath"))
            check([tool("go"), "build", "-o", "app", "."], cwd=app, env=env)
            out[lang] = ([str(app / "app")], {})
        elif lang == "python":
            (app / "app.py").write_text(PY_PROGRAM)
            out[lang] = ([tool("python3"), str(app / "app.py")], {"PYTHONPATH": str(pack)})
        elif lang == "php":
            (app / "app.php").write_text(PHP_PROGRAM)
            out[lang] = ([tool("php"), str(app / "app.php")], {"LANGPACK": str(pack)})
        else:
            (app / "app.mjs").write_text(TS_PROGRAM % {"langpack": pack})
            out[lang] = ([tool("node"), str(app / "app.mjs")], {})
    return out


@pytest.fixture(scope="module")
def keyed(tmp_path_factory):
    """A collector without --insecure-local, and its keys: a write key for
    example-service in bo, one for billing-worker, and a revoked one."""
    data = tmp_path_factory.mktemp("keyed") / "data"

    def create(*args):
        return check([REESTR, "keys", "create", *args, "--data", str(data)]).stdout.strip()

    keys = {"good": create("example-service", "--environment", "bo"),
            "other": create("billing-worker")}
    server = support.Server(support.EXAMPLES, data, insecure=False)
    server.start()
    yield server, keys
    server.stop()


def send_one(programs, lang, server, env_key=None, config_key=None):
    """Runs the language's program; returns (event uuid, outcome, reason,
    everything it printed)."""
    cmd, extra = programs[lang]
    env = {k: v for k, v in os.environ.items() if k not in ("REESTR_KEY", "APP_CONFIG_KEY")}
    env.update(extra)
    if env_key:
        env["REESTR_KEY"] = env_key
    if config_key:
        env["APP_CONFIG_KEY"] = config_key
    event = str(uuid.UUID(int=uuid.uuid4().int & ~(0xF << 76) | (7 << 76)))
    p = check(cmd + [server.url, event], env=env)
    printed = p.stdout + p.stderr
    results = [line.split(" ", 3) for line in p.stdout.splitlines() if line.startswith("result ")]
    assert len(results) == 1, printed
    _, got_uuid, outcome, *reason = results[0]
    assert got_uuid == event, printed
    for key in (env_key, config_key):
        if key:
            assert key not in printed and key.rsplit("_", 1)[1] not in printed, \
                f"the key is shown:\n{printed}"
    return event, outcome, reason[0] if reason else "", printed


def stored(server, event):
    rows = server.query(f"SELECT source FROM events WHERE uuid = '{event}'")
    failed = server.query(f"SELECT count(*) AS n FROM failed_events WHERE payload LIKE '%{event}%'")
    return [r["source"] for r in rows], failed[0]["n"]


@pytest.mark.parametrize("lang", LANGS)
def test_key_from_environment_delivers(lang, programs, keyed):
    server, keys = keyed
    event, outcome, reason, printed = send_one(programs, lang, server, env_key=keys["good"])
    assert outcome == "delivered", printed
    assert stored(server, event) == (["example-service"], 0)


@pytest.mark.parametrize("lang", LANGS)
def test_configured_key_wins_over_environment(lang, programs, keyed):
    server, keys = keyed
    event, outcome, reason, printed = send_one(programs, lang, server,
                                               env_key=keys["other"], config_key=keys["good"])
    assert outcome == "delivered", printed
    assert stored(server, event) == (["example-service"], 0)


@pytest.mark.parametrize("lang", LANGS)
def test_no_key_is_refused_and_not_retried(lang, programs, keyed):
    server, _ = keyed
    before = server.request("GET", "/healthz").status
    assert before == 200
    event, outcome, reason, printed = send_one(programs, lang, server)
    assert outcome == "dropped", printed
    assert "collector refused the key" in reason and "401" in reason and "missing key" in reason, printed
    assert "gave up after" not in printed, "a 401 is not retried"
    assert stored(server, event) == ([], 0)


@pytest.mark.parametrize("lang", LANGS)
def test_other_source_key_is_refused_per_event(lang, programs, keyed):
    server, keys = keyed
    event, outcome, reason, printed = send_one(programs, lang, server, env_key=keys["other"])
    assert outcome == "rejected", printed
    assert "forbidden, not stored" in reason and "billing-worker" in reason, printed
    assert stored(server, event) == ([], 0)


@pytest.mark.parametrize("lang", LANGS)
def test_unknown_key_is_refused(lang, programs, keyed):
    server, keys = keyed
    good = keys["good"]
    forged = good[:-64] + ("0" if good[-64] != "0" else "1") + good[-63:]
    event, outcome, reason, printed = send_one(programs, lang, server, env_key=forged)
    assert outcome == "dropped", printed
    assert "401" in reason, printed
    assert stored(server, event) == ([], 0)
