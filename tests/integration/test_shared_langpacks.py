"""Stateless collectors share one langpacks database (docs/scale-out.md,
"Stateless collectors and langpacks.db"): two `reestr serve`, each with its
own data folder and registry checkout and the same `--langpacks FILE`,
started at the same moment, record each langpack version once — the same
version numbers, no duplicate, none skipped — and serve byte-identical
archives and native package indexes; after a registry change the collector
restarted first publishes the new version and the other, restarted, serves
the same one without making another."""

import json
import re
import shutil
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from conftest import (EXAMPLES, REESTR, free_port, langpack_lines,
                      new_langpack_versions)

LANGS = ["go", "python", "php", "ts"]
ENVS = ["bo", "front", "mobile", "partners"]  # the example registry's environments
# TypeScript langpacks are made only for browser-facing environments (those
# listing origins: front in the example registry)
PACKS = [(lang, env) for env in ENVS for lang in LANGS
         if lang != "ts" or env == "front"]


def langs_of(env):
    return [lang for lang, e in PACKS if e == env]
PUBLIC_URL = "https://collectors.example.com"
ROUNDS = 4


class Collector:
    def __init__(self, tmp, name, registry, langpacks):
        self.registry, self.langpacks = registry, langpacks
        self.data = tmp / f"data-{name}"
        self.log = tmp / f"serve-{name}.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def start_lines(self):
        if not self.log.exists():
            return []
        return re.findall(r"^reestr serve: listening on ",
                          self.log.read_text(), re.M)

    def spawn(self):
        self.starts = len(self.start_lines())
        with open(self.log, "ab") as logf:
            self.proc = subprocess.Popen(
                [REESTR, "serve", "--insecure-local", "--dev", "--registry", str(self.registry),
                 "--data", str(self.data), "--langpacks",
                 str(self.langpacks), "--listen",
                 f"127.0.0.1:{self.port}", "--public-url", PUBLIC_URL],
                stdout=logf, stderr=logf)

    def wait_ready(self):
        """Until /healthz answers and the start line is logged (it is
        written just after the server starts answering); the langpacks
        are made after it, in the background (new_versions waits)."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                with urllib.request.urlopen(self.url + "/healthz",
                                            timeout=1) as r:
                    if (r.status == 200 and
                            len(self.start_lines()) > self.starts):
                        return
            except OSError:
                pass
            time.sleep(0.02)
        raise AssertionError(f"did not start: {self.log.read_text()}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            assert self.proc.wait(timeout=30) == 0, self.log.read_text()
        self.proc = None

    def new_versions(self):
        """What the last start's langpack lines say it recorded."""
        found = self.start_lines()
        assert len(found) > self.starts, self.log.read_text()
        return new_langpack_versions(langpack_lines(self.log, self.proc))

    def get(self, path, body=None):
        req = urllib.request.Request(
            self.url + path, data=body,
            headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()


def start_together(*collectors):
    for c in collectors:
        c.spawn()
    for c in collectors:
        c.wait_ready()


def everything_served(c):
    """Every page and archive of the langpacks, as bytes, by its path."""
    pages = {}

    def get(path, body=None):
        status, got = c.get(path, body)
        assert status == 200, (c.url, path, got)
        pages[path] = got
        return got

    listed = {}
    for lang, env in PACKS:
        v = json.loads(get(f"/langpack/{lang}/versions?environment={env}"))
        listed[lang, env] = [x["langpack_version"] for x in v["versions"]]
        for n in listed[lang, env]:
            pages[f"/langpack/{lang}/{n}/ {env}"] = get(
                f"/langpack/{lang}/{n}/",
                json.dumps({"environment": env}).encode())
    get("/pypi/simple/")
    get("/composer/packages.json")
    for env in ENVS:
        get(f"/go/reestr.local/langpack/{env}/@v/list")
        get(f"/go/reestr.local/langpack/{env}/@latest")
        get(f"/pypi/simple/reestr-langpack-{env}/")
        for n in listed["go", env]:
            get(f"/go/reestr.local/langpack/{env}/@v/v1.{n}.0.info")
            get(f"/go/reestr.local/langpack/{env}/@v/v1.{n}.0.zip")
        for n in listed["python", env]:
            get(f"/pypi/files/reestr_langpack_{env}-1.{n}.0-py3-none-any.whl")
        for n in listed["php", env]:
            get(f"/composer/dist/{env}/1.{n}.0.zip")
        for n in listed.get(("ts", env), []):
            get(f"/npm/reestr-langpack-{env}-1.{n}.0.tgz")
    return listed, pages


def assert_same(a, b):
    listed_a, pages_a = everything_served(a)
    listed_b, pages_b = everything_served(b)
    assert listed_a == listed_b
    assert pages_a.keys() == pages_b.keys()
    differ = [p for p in pages_a if pages_a[p] != pages_b[p]]
    assert not differ, f"served differently: {differ}"
    return listed_a


def stored_versions(langpacks):
    with sqlite3.connect(langpacks) as db:
        return db.execute("SELECT lang, environment, version FROM "
                          "langpack_versions ORDER BY 1, 2, 3").fetchall()


def add_bo_version(registry, n):
    """A new version of an event of `bo` alone (not of `front` or
    `mobile`)."""
    path = registry / "events" / "messenger_message.yaml"
    path.write_text(path.read_text() + (
        f"      - version: {n}\n        fields:\n          user: user\n"
        f"          user_agent: {{type: string, max_length: {1000 + n}}}\n"))


@pytest.fixture
def checkouts(tmp_path):
    """Two registry checkouts of the same commit, one per collector."""
    regs = []
    for name in "ab":
        reg = tmp_path / f"registry-{name}"
        shutil.copytree(EXAMPLES, reg)
        regs.append(reg)
    return regs


def test_two_collectors_started_together_record_each_version_once(
        tmp_path, checkouts):
    every = len(PACKS)
    for round_ in range(ROUNDS):
        shared = tmp_path / f"shared-{round_}" / "langpacks.db"
        shared.parent.mkdir()
        a = Collector(tmp_path / f"shared-{round_}", "a", checkouts[0], shared)
        b = Collector(tmp_path / f"shared-{round_}", "b", checkouts[1], shared)
        try:
            start_together(a, b)
            listed = assert_same(a, b)
            assert all(v == [0] for v in listed.values()), listed
            # each version recorded by exactly one of them
            assert a.new_versions() + b.new_versions() == every, (
                a.log.read_text(), b.log.read_text())
        finally:
            a.stop()
            b.stop()
        assert not (a.data / "langpacks.db").exists()
        assert not (b.data / "langpacks.db").exists()
        assert len(stored_versions(shared)) == every


def test_after_a_registry_change_both_serve_the_same_new_version(
        tmp_path, checkouts):
    shared = tmp_path / "langpacks.db"
    a = Collector(tmp_path, "a", checkouts[0], shared)
    b = Collector(tmp_path, "b", checkouts[1], shared)
    try:
        start_together(a, b)
        before = assert_same(a, b)

        # the change reaches both checkouts; A is restarted, and B, which
        # watches its checkout, reloads it: between them each of bo's new
        # versions is recorded once, by whichever decided it first
        for reg in checkouts:
            add_bo_version(reg, 1)
        a.stop()
        a.spawn()
        a.wait_ready()
        by_b = new_langpack_versions(langpack_lines(
            b.log, b.proc, after="reloaded registry"))
        assert a.new_versions() + by_b == len(langs_of("bo")), (
            a.log.read_text(), b.log.read_text())
        # both serve the same
        after = assert_same(a, b)
        for lang in langs_of("bo"):
            assert after[lang, "bo"] == [0, 1]
            assert after[lang, "front"] == before[lang, "front"] == [0]
        served = everything_served(a)[1]

        # B restarted on the changed checkout: the same version, not another
        b.stop()
        b.spawn()
        b.wait_ready()
        assert b.new_versions() == 0, b.log.read_text()
        assert assert_same(a, b) == after
        assert everything_served(b)[1] == served

        # a second change, and both restarted at the same moment (stopped
        # first, so that neither reloads it)
        a.stop()
        b.stop()
        for reg in checkouts:
            add_bo_version(reg, 2)
        start_together(a, b)
        assert a.new_versions() + b.new_versions() == len(langs_of("bo"))
        final = assert_same(a, b)
        for lang in langs_of("bo"):
            assert final[lang, "bo"] == [0, 1, 2]
    finally:
        a.stop()
        b.stop()
    assert len(stored_versions(shared)) == len(PACKS) + 2 * len(langs_of("bo"))


def test_langpacks_file_in_a_missing_folder_is_named(tmp_path):
    missing = tmp_path / "nowhere" / "langpacks.db"
    out = subprocess.run(
        [REESTR, "serve", "--insecure-local", "--dev", "--registry", str(EXAMPLES), "--data",
         str(tmp_path / "data"), "--langpacks", str(missing), "--listen",
         f"127.0.0.1:{free_port()}"], capture_output=True, text=True,
        timeout=60)
    assert out.returncode == 1
    assert str(missing) in out.stderr, out.stderr


def test_the_shared_file_needs_no_data_folder_lock(tmp_path, checkouts):
    # A keeps its langpacks in its own data folder, which it has locked;
    # B, with a data folder of its own, shares that file all the same
    a = Collector(tmp_path, "a", checkouts[0], None)
    a.langpacks = a.data / "langpacks.db"
    a.data.mkdir()  # B may open the file before A has made its folder
    b = Collector(tmp_path, "b", checkouts[1], a.langpacks)
    try:
        start_together(a, b)
        assert (a.data / ".lock").exists() and (b.data / ".lock").exists()
        assert a.new_versions() + b.new_versions() == len(PACKS)
        assert_same(a, b)
    finally:
        a.stop()
        b.stop()
    assert not (b.data / "langpacks.db").exists()


def test_kafka_collectors_share_a_data_folder(tmp_path):
    """With --sink kafka the data folder holds no store: two collectors
    on one --data (langpacks.db inside it by default) both start, take no
    .lock, and serve the same langpacks. No broker answers here, so both
    answer 503 on /healthz (they start anyway and wait for Kafka)."""
    data = tmp_path / "shared-data"
    procs, urls = [], []
    try:
        for name in ("a", "b"):
            port = free_port()
            urls.append(f"http://127.0.0.1:{port}")
            procs.append(subprocess.Popen(
                [REESTR, "serve", "--insecure-local", "--dev", "--registry", str(EXAMPLES), "--data",
                 str(data), "--sink", "kafka", "--kafka-brokers",
                 f"127.0.0.1:{free_port()}", "--listen", f"127.0.0.1:{port}"],
                stdout=subprocess.DEVNULL, stderr=open(tmp_path / f"{name}.log", "w")))
        for p, url, name in zip(procs, urls, ("a", "b")):
            deadline = time.monotonic() + 60
            while True:
                assert p.poll() is None, (tmp_path / f"{name}.log").read_text()
                try:
                    urllib.request.urlopen(url + "/healthz", timeout=1)
                    raise AssertionError("healthy without a broker")
                except urllib.error.HTTPError as e:
                    assert e.code == 503
                    break
                except OSError:
                    assert time.monotonic() < deadline, "did not start"
                    time.sleep(0.05)
        assert not (data / ".lock").exists()
        assert (data / "langpacks.db").exists()
        served = []
        for url in urls:
            with urllib.request.urlopen(
                    url + "/langpack/go/versions?environment=bo", timeout=30) as r:
                served.append(json.loads(r.read()))
        assert served[0] == served[1] and served[0]["versions"], served
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            assert p.wait(timeout=30) == 0
