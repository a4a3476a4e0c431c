"""A newcomer's first minutes (issue 12): `make run` is quiet and says
where it runs and what to try next, a port in use says how to pick another,
and the path from a new event to a typed row in the store, replayed for Go,
Python and PHP with each language's own installer, counted in commands and
seconds ("Measure it")."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import EXAMPLES, REESTR, ROOT, Server, free_port, query


def serve_help():
    return subprocess.run([REESTR, "serve", "--help"], capture_output=True,
                          text=True).stdout


# What the collector this test runs can do: the reload on file changes and
# --dev come from other parts of issue 12; without the reload the path
# restarts the collector (one more command). Server (conftest) passes --dev
# itself where serve has it; the bare serve below needs it too.
RELOADS = "SIGHUP" in serve_help()
DEV = ["--dev"] if "--dev" in serve_help() else []


# ---- point 5: a port in use -----------------------------------------------

def test_a_port_in_use_says_how_to_pick_another(tmp_path):
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    held.listen()
    port = held.getsockname()[1]
    try:
        out = subprocess.run(
            [REESTR, "serve", "--registry", str(EXAMPLES), "--data", str(tmp_path / "d"),
             "--listen", f"127.0.0.1:{port}", *DEV],
            capture_output=True, text=True, timeout=120)
    finally:
        held.close()
    assert out.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in out.stderr
    m = re.search(rf"another program already listens on 127\.0\.0\.1:{port} .*: pick "
                  r"another port, e\.g\. --listen 127\.0\.0\.1:(\d+) \(make run "
                  r"LISTEN=127\.0\.0\.1:(\d+)\)", out.stderr)
    assert m, out.stderr
    assert m.group(1) == m.group(2) and int(m.group(1)) != port
    # the port it names is free: serve starts there
    s = Server(EXAMPLES, tmp_path / "d2")
    s.port = int(m.group(1))
    s.start()
    s.stop()


def test_readme_says_how_to_change_make_runs_port_registry_and_data():
    readme = (ROOT / "README.md").read_text()
    assert "make run LISTEN=127.0.0.1:8081 REGISTRY=" in readme
    assert "DATA=" in readme


# ---- point 9: make run ----------------------------------------------------

def make_run(tmp_path, *args, until, timeout=300):
    """`make run ARGS` in the source tree, its output read until a line
    matches until (or it ends); then stopped. Returns the lines and the
    exit status (None when it was still running)."""
    # as typed in a shell, not as a sub-make of `make test`
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEFILES")}
    proc = subprocess.Popen(["make", "--no-print-directory", "run", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True, env=env)
    lines, deadline = [], time.time() + timeout
    try:
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if until(line) or time.time() > deadline:
                break
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        rc = proc.wait(timeout=60)
    return lines, rc


def test_make_run_is_quiet_and_ends_with_where_it_runs_and_what_next(tmp_path):
    port = free_port()
    data = tmp_path / "data"
    lines, _ = make_run(tmp_path, f"LISTEN=127.0.0.1:{port}", f"DATA={data}",
                        until=lambda l: "reestr new event" in l)
    text = "\n".join(lines)
    assert lines and "reestr new event" in lines[-1], text
    for noise in ["Building C object", "Built target", "-- Configuring", "Linking C"]:
        assert noise not in text
    start = next(i for i, l in enumerate(lines) if l.startswith("reestr serve: listening"))
    assert start <= 3, text  # install/build, built, make's echo of the serve command
    tail = "\n".join(lines[start + 1:])
    assert f"reestr is running at http://127.0.0.1:{port}" in tail
    assert "registry:  examples/registry" in tail
    assert f"data:      {data}" in tail
    assert "make run LISTEN=127.0.0.1:8081 REGISTRY=" in tail
    assert lines[-1].strip() == \
        "build/reestr new event my_first_event --env bo --registry examples/registry"


def test_make_run_shows_the_log_when_a_step_fails(tmp_path):
    # a build folder of its own, and a --jobs value cmake refuses: the
    # build step fails at once
    build = tmp_path / "build"
    lines, rc = make_run(tmp_path, f"BUILD={build}", "JOBS=many",
                         f"LISTEN=127.0.0.1:{free_port()}", f"DATA={tmp_path / 'data'}",
                         until=lambda l: False)
    text = "\n".join(lines)
    assert rc not in (0, None), text
    assert f"make run: building (cmake --build {build}) failed; its output " \
           f"({build}/make-run.log):" in text
    assert "many" in text  # cmake's own complaint, from the log
    assert "reestr serve" not in text


# ---- Measure it: from a new event to a typed row ---------------------------
#
# The path is the README's quick start, read from README.md: its commands,
# its edit of the event and its programs, run as written but for the
# addresses (the collector's URL, the registry and data folders: this
# test's own).

HEADERS = {"Python": "python", "Go": "go", "PHP": "php"}
PROGRAMS = {"python": "app.py", "go": "main.go", "php": "app.php"}
# the project as it exists before (not counted: a newcomer's service has one)
PROJECT = {
    "go": ["go mod init example.com/app"],
    "python": [f"{sys.executable} -m venv .venv"],
    "php": [],  # the install makes it
}


def quick_start():
    """The README's quick start: its fenced blocks by language tag, the
    shell commands per language."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Quick start"):]
    section = section[:section.index("\n## ", 1)]
    blocks = re.findall(r"```(\w+)[^\n]*\n(.*?)```", section, re.S)
    sh = [b for tag, b in blocks if tag == "sh"]
    code = {tag: b for tag, b in blocks if tag in ("python", "go", "php", "yaml")}
    new_event = [l for l in sh[0].splitlines() if "reestr new event" in l]
    return new_event, code, by_language(sh[1]), by_language(sh[2])


def by_language(block):
    """The commands of a shell block under its "# Python", "# Go", "# PHP"
    comments (any other comment: "all")."""
    steps, lang = {}, None
    for line in block.splitlines():
        if line.startswith("# "):
            word = line[2:].split(" ")[0].rstrip(",")
            lang = HEADERS.get(word, "all")
            continue
        if line.strip():
            steps.setdefault(lang, []).append(line.strip())
    return steps


def label(cmd):
    """A command's first two words, after any VAR=value."""
    words = cmd.split(" ")
    while "=" in words[0] and len(words) > 1:
        words = words[1:]
    return " ".join([os.path.basename(words[0]), *words[1:2]])


def served(server, text):
    """Whether a file of the collector's registry (GET /v1/registry) holds
    text."""
    with urllib.request.urlopen(f"{server.url}/v1/registry", timeout=10) as r:
        return any(text in f["content"] for f in json.loads(r.read())["files"])


def wait_served(server, text):
    deadline = time.time() + 30
    while not served(server, text):
        assert time.time() < deadline, f"the collector did not reload ({text!r})"
        time.sleep(0.05)


@pytest.mark.parametrize("which", ["first", "next"])
@pytest.mark.parametrize("lang", ["go", "python", "php"])
def test_newcomer_path_from_new_event_to_typed_row(lang, which, tmp_path, capsys,
                                                   record_property):
    """which "first": the project exists but has no langpack yet; "next":
    it has the langpack (installed before the new event, not counted) and
    updates it."""
    tool = {"go": "go", "python": "python3", "php": "composer"}[lang]
    assert shutil.which(tool), f"{tool} is not installed: run scripts/install-deps"
    new_event, code, steps, updates = quick_start()
    assert len(new_event) == 1 and steps.get(lang) and steps.get("all"), steps
    assert updates.get(lang), updates
    # the commands counted after the edit: install (or update), then run
    counted = steps[lang] if which == "first" else updates[lang] + steps[lang][-1:]
    registry = tmp_path / "registry"
    shutil.copytree(EXAMPLES, registry)
    data = tmp_path / "data"
    server = Server(registry, data).start()
    app = tmp_path / "app"
    app.mkdir()
    # the machine's own caches stay out of it: a fresh module, wheel and
    # package cache, as on a newcomer's machine (the Go build cache is
    # content-addressed, shared); the virtualenv is active
    env = dict(os.environ, GOPATH=str(tmp_path / "gopath"), GOFLAGS="-mod=mod",
               PIP_NO_CACHE_DIR="1", PIP_DISABLE_PIP_VERSION_CHECK="1",
               COMPOSER_HOME=str(tmp_path / "composer"), COMPOSER_NO_INTERACTION="1",
               PATH=f"{app}/.venv/bin:{os.environ['PATH']}")
    commands = []

    def sh(cmd, count=True):
        cmd = (cmd.replace("http://127.0.0.1:8080", server.url)
               .replace("build/reestr", REESTR)
               .replace("examples/registry", str(registry))
               .replace("--data var", f"--data {data}"))
        if count:  # "a && b" is two commands
            commands.extend(c.strip() for c in cmd.split(" && "))
        out = subprocess.run(cmd, shell=True, cwd=app, env=env, capture_output=True,
                             text=True, timeout=600)
        assert out.returncode == 0, f"{cmd}\n{out.stdout}\n{out.stderr}"
        return out

    try:
        for cmd in PROJECT[lang]:
            sh(cmd, count=False)
        if which == "next":  # the langpack as it was before the new event
            for cmd in steps[lang][:-1]:
                sh(cmd, count=False)
        t0 = time.monotonic()
        sh(new_event[0])
        if RELOADS:  # the scaffold is served before the newcomer's edit
            wait_served(server, "  search_performed:\n")
        # the edit: the README's fields in place of the scaffold's
        path = registry / "events" / "search_performed.yaml"
        text = path.read_text()
        path.write_text(text[:text.index("        fields:\n")] + code["yaml"])
        if RELOADS:
            wait_served(server, code["yaml"])
        else:
            commands.append("make run  (a restart: Ctrl-C, then again)")
            server.stop()
            server.start()
        (app / PROGRAMS[lang]).write_text(
            code[lang].replace("http://127.0.0.1:8080", server.url))
        for cmd in counted:
            sh(cmd)
        (query_cmd,) = steps["all"]
        out = sh(query_cmd.replace(" query ", " query --format json ", 1))
        seconds = time.monotonic() - t0
        assert json.loads(out.stdout) == [
            {"query": "red shoes", "sort": "price", "filters_category_id": 7}]
        assert query(data, "SELECT count(*) AS n FROM failed_events") == [{"n": 0}]
    finally:
        server.stop()
    # a figure: printed, and kept in the JUnit XML as the property
    # "figure", which scripts/test-all shows (the output of a test run by
    # a pytest-xdist worker does not reach the run's output)
    figure = (f"newcomer path, {lang} ({which} event): {len(commands)} commands from "
              f"'new event' to "
              f"the typed row, {seconds:.1f} s"
              f"{'' if RELOADS else ' (no reload yet: one of them is a restart)'}: "
              + " | ".join(label(c) for c in commands))
    record_property("figure", figure)
    with capsys.disabled():
        print("\n" + figure)
