"""End to end, per language: a small program installs the generated `bo`
langpack the language's own way (go.mod replace, pip, composer), builds a
clickstream_event and a payment (nested objects, an enum, an array, a
timestamp) with the generated classes, and sends them to a live
`reestr serve`. The rows must land in the typed views with identical values
from all three languages. Required fields are constructor arguments (the
type checkers' side is tests/langpacks/test_required.py); a value that breaks
a constraint must still fail in the program before anything is sent."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import EXAMPLES, ROOT, go_env, run, tool

_spec = importlib.util.spec_from_file_location(
    "integration_support", ROOT / "tests" / "integration" / "conftest.py")
support = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(support)

# One UUID pair per language, so each program's rows can be told apart.
UUIDS = {
    "go": ("0192f0c4-8b7a-7cde-8f00-00000000a001", "0192f0c4-8b7a-7cde-8f00-00000000a002"),
    "python": ("0192f0c4-8b7a-7cde-8f00-00000000b001", "0192f0c4-8b7a-7cde-8f00-00000000b002"),
    "php": ("0192f0c4-8b7a-7cde-8f00-00000000c001", "0192f0c4-8b7a-7cde-8f00-00000000c002"),
}
SOURCE = "example-service"
INVALID = "clickstream_event v0: fields.user.email: 300 characters, more than max_length 254"

GO_PROGRAM = '''package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	bo "reestr.local/langpack/bo"
	"reestr.local/langpack/bo/reestr"
)

func main() {
	sender, err := bo.NewSender(reestr.Config{
		CollectorURL: os.Args[1],
		Source:       "%(source)s",
		OnResult: func(r reestr.Result) {
			fmt.Printf("result %%s %%s %%s\\n", r.UUID, r.Outcome, r.Reason)
		},
	})
	if err != nil {
		panic(err)
	}
	at := time.Date(2026, 11, 25, 10, 0, 0, 123456000, time.UTC)

	user := bo.NewUser(413)
	user.SetEmail("user413@example.com")
	geo := bo.NewGeo(20.22, -10.11)

	long := bo.NewUser(413)
	long.SetEmail(strings.Repeat("e", 300))
	if err := sender.Send(bo.NewClickstreamEventV0(long, geo, "ua")); err != nil {
		fmt.Println("error", err)
	}

	click := bo.NewClickstreamEventV0(user, geo, "fluffy_browser/1.0 \\"quoted\\" \\u00e9")
	click.SetEventUUID("%(uuid1)s")
	click.SetEventTime(at)
	if err := sender.Send(click); err != nil {
		panic(err)
	}

	pay := bo.NewPaymentV0(bo.NewUser(9), "pay-1", bo.NewMoney(129900, "RUB"),
		bo.PaymentV0MethodCard, bo.PaymentV0StatusSucceeded, []int64{3, 1, 2},
		time.Date(2026, 11, 25, 13, 0, 0, 500000000, time.FixedZone("", 3600)))
	pay.SetEventUUID("%(uuid2)s")
	pay.SetEventTime(at)
	if err := sender.Send(pay); err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sender.Close(ctx); err != nil {
		panic(err)
	}
}
'''

PY_PROGRAM = '''import sys
from datetime import datetime, timedelta, timezone

import reestr_bo as bo


def on_result(r):
    print("result", r.uuid, r.outcome, r.reason, flush=True)


sender = bo.Sender(sys.argv[1], "%(source)s", on_result=on_result)
at = datetime(2026, 11, 25, 10, 0, 0, 123456, tzinfo=timezone.utc)
user = bo.User(id=413, email="user413@example.com")
geo = bo.Geo(latitude=20.22, longitude=-10.11)
try:
    sender.send(bo.ClickstreamEventV0(
        user=bo.User(id=413, email="e" * 300), geo=geo, user_agent="ua"))
except bo.ValidationError as e:
    print("error", e)

click = bo.ClickstreamEventV0(user=user, geo=geo, user_agent="")
click.user_agent = 'fluffy_browser/1.0 "quoted" \\u00e9'
click.event_uuid = "%(uuid1)s"
click.event_time = at
assert sender.send(click)

pay = bo.PaymentV0(
    user=bo.User(id=9),
    payment_id="pay-1",
    amount=bo.Money(amount_minor=129900, currency="RUB"),
    method=bo.PaymentV0Method.CARD,
    status=bo.PaymentV0Status.SUCCEEDED,
    items=[3, 1, 2],
    paid_at=datetime(2026, 11, 25, 13, 0, 0, 500000,
                     tzinfo=timezone(timedelta(hours=1))),
)
pay.event_uuid = "%(uuid2)s"
pay.event_time = at
assert sender.send(pay)
sender.close(30)
'''

PHP_PROGRAM = '''<?php

declare(strict_types=1);

require __DIR__ . '/vendor/autoload.php';

use Reestr\\Langpack\\Bo\\ClickstreamEventV0;
use Reestr\\Langpack\\Bo\\Geo;
use Reestr\\Langpack\\Bo\\Langpack;
use Reestr\\Langpack\\Bo\\Money;
use Reestr\\Langpack\\Bo\\PaymentV0;
use Reestr\\Langpack\\Bo\\PaymentV0Method;
use Reestr\\Langpack\\Bo\\PaymentV0Status;
use Reestr\\Langpack\\Bo\\Runtime\\Result;
use Reestr\\Langpack\\Bo\\Runtime\\ValidationException;
use Reestr\\Langpack\\Bo\\User;

$sender = Langpack::sender($argv[1], '%(source)s', function (Result $r): void {
    echo "result {$r->uuid} {$r->outcome} {$r->reason}\\n";
});
$at = new DateTimeImmutable('2026-11-25T10:00:00.123456Z');
$user = new User(id: 413, email: 'user413@example.com');
$geo = new Geo(latitude: 20.22, longitude: -10.11);
try {
    $long = new User(id: 413, email: str_repeat('e', 300));
    $sender->send(new ClickstreamEventV0(user: $long, geo: $geo, userAgent: 'ua'));
} catch (ValidationException $e) {
    echo 'error ', $e->getMessage(), "\\n";
}
$click = (new ClickstreamEventV0(user: $user, geo: $geo, userAgent: ''))
    ->setUserAgent("fluffy_browser/1.0 \\"quoted\\" \\u{e9}");
$click->setEventUuid('%(uuid1)s');
$click->setEventTime($at);
$sender->send($click);

$pay = new PaymentV0(
    user: new User(id: 9),
    paymentId: 'pay-1',
    amount: new Money(amountMinor: 129900, currency: 'RUB'),
    method: PaymentV0Method::Card,
    status: PaymentV0Status::Succeeded,
    items: [3, 1, 2],
    paidAt: new DateTimeImmutable('2026-11-25T13:00:00.5+01:00'),
);
$pay->setEventUuid('%(uuid2)s');
$pay->setEventTime($at);
$sender->send($pay);
$sender->close();
'''


def program(text, lang):
    return text % {"source": SOURCE, "uuid1": UUIDS[lang][0], "uuid2": UUIDS[lang][1]}


def run_go(langpack, url, tmp):
    app = tmp / "app"
    app.mkdir()
    (app / "go.mod").write_text(
        "module example.com/app\n\ngo 1.22\n\n"
        "require reestr.local/langpack/bo v0.0.0\n\n"
        f"replace reestr.local/langpack/bo => {langpack}\n")
    (app / "main.go").write_text(program(GO_PROGRAM, "go"))
    env = go_env(tmp)
    run([tool("go"), "build", "-o", "app", "."], cwd=app, env=env)
    return run([str(app / "app"), url], cwd=app).stdout


def run_python(langpack, url, tmp):
    # A wheel built from the generated pyproject.toml (offline, with the
    # project venv's setuptools), installed into a fresh virtual environment.
    wheels = tmp / "wheels"
    run([tool("pip"), "wheel", "-q", "--no-deps", "--no-build-isolation",
         "--no-index", "-w", str(wheels), str(langpack)])
    venv = tmp / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    run([str(venv / "bin" / "pip"), "install", "-q", "--no-index",
         "--find-links", str(wheels), "reestr-langpack-bo"])
    (tmp / "app.py").write_text(program(PY_PROGRAM, "python"))
    return run([str(venv / "bin" / "python"), str(tmp / "app.py"), url], cwd=tmp).stdout


def run_php(langpack, url, tmp):
    app = tmp / "app"
    app.mkdir()
    (app / "composer.json").write_text(json.dumps({
        "name": "example/app",
        "repositories": [{"packagist.org": False},
                         {"type": "path", "url": str(langpack), "options": {"symlink": False}}],
        "require": {"reestr/langpack-bo": "*"},
    }))
    env = dict(os.environ, COMPOSER_HOME=str(tmp / "composer"), COMPOSER_NO_INTERACTION="1")
    run([tool("composer"), "install", "--no-progress", "-q"], cwd=app, env=env)
    (app / "app.php").write_text(program(PHP_PROGRAM, "php"))
    return run([tool("php"), "app.php", url], cwd=app).stdout


RUNNERS = {"go": run_go, "python": run_python, "php": run_php}


@pytest.fixture(scope="module")
def collector(tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    server = support.Server(EXAMPLES, data)
    server.start()
    yield server
    server.stop()


@pytest.mark.parametrize("lang", ["go", "python", "php"])
def test_program_sends_typed_events(lang, example_langpacks, collector, tmp_path):
    out = RUNNERS[lang](example_langpacks[lang], collector.url, tmp_path)
    lines = out.splitlines()
    assert lines[0] == f"error {INVALID}", out
    results = sorted(line for line in lines if line.startswith("result "))
    assert results == sorted(f"result {u} delivered " for u in UUIDS[lang]) or \
        results == sorted(f"result {u} delivered" for u in UUIDS[lang]), out

    rows = collector.query(
        "SELECT user_id, user_email, geo_latitude, geo_longitude, user_agent, time, source "
        f"FROM clickstream_event_v0 WHERE uuid = '{UUIDS[lang][0]}'")
    assert rows == [{"user_id": 413, "user_email": "user413@example.com",
                     "geo_latitude": 20.22, "geo_longitude": -10.11,
                     "user_agent": 'fluffy_browser/1.0 "quoted" \u00e9',
                     "time": "2026-11-25T10:00:00.123456Z", "source": SOURCE}]
    rows = collector.query(
        "SELECT user_id, payment_id, amount_amount_minor, amount_currency, method, status, "
        "failure_reason, items, paid_at FROM payment_v0 "
        f"WHERE uuid = '{UUIDS[lang][1]}'")
    assert rows == [{"user_id": 9, "payment_id": "pay-1", "amount_amount_minor": 129900,
                     "amount_currency": "RUB", "method": "card", "status": "succeeded",
                     "failure_reason": None, "items": "[3,1,2]",
                     "paid_at": "2026-11-25T12:00:00.500000Z"}]


def test_every_language_stored_the_same_fields(collector):
    """Run after the three programs: the canonical fields are byte-identical."""
    rows = collector.query("SELECT uuid, event_id, fields FROM events ORDER BY uuid")
    by_event = {}
    for r in rows:
        by_event.setdefault(r["event_id"], set()).add(r["fields"])
    assert len(rows) == 6, rows
    assert all(len(v) == 1 for v in by_event.values()), by_event
