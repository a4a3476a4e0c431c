"""The command-line interface users' scripts rely on."""

import csv
import io
import shutil

import pytest

from conftest import EXAMPLES, FIXTURE_REGISTRY, clickstream, page_view, query, run


def test_help_describes_every_subcommand():
    out = run("--help")
    assert out.returncode == 0
    for cmd in ["serve", "check", "query", "gen", "publish", "diff", "agent", "send", "new", "keys"]:
        assert cmd in out.stdout
        sub = run(cmd, "--help")
        assert sub.returncode == 0, sub.stderr
        assert f"usage: reestr {cmd}" in sub.stdout


def test_serve_help_lists_every_flag():
    out = run("serve", "--help").stdout
    for flag in ["--registry", "--data", "--listen", "--max-body-bytes",
                 "--max-batch-events", "--max-string-bytes", "--max-depth",
                 "--insecure-local", "--keys", "--private-packages",
                 "--tls-cert FILE", "--tls-key FILE", "--allow-plaintext"]:
        assert flag in out


def test_send_and_agent_help_name_their_options_and_exit_statuses():
    send = run("send", "--help").stdout
    assert "--event NAME|ID" in send and "--cacert FILE" in send
    for status in ["0  every event was taken", "1  some events were invalid or rejected",
                   "2  bad usage", "3  some events are undeliverable"]:
        assert status in send
    agent = run("agent", "--help").stdout
    for flag in ["--registry DIR", "--snapshot FILE", "--cacert FILE"]:
        assert flag in agent


def test_unknown_command_and_flags_exit_2():
    assert run("frobnicate").returncode == 2
    assert run("serve", "--no-such-flag").returncode == 2
    assert run("serve", "--listen", "nowhere").returncode == 2
    assert run("serve", "--max-depth", "-1").returncode == 2
    assert run("query").returncode == 2


def test_check_example_registry_is_clean():
    out = run("check", str(EXAMPLES))
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""


def test_check_reports_problems_with_positions(tmp_path):
    reg = tmp_path / "reg"
    shutil.copytree(FIXTURE_REGISTRY, reg)
    (reg / "team_b.yaml").write_text(
        "events:\n"
        "  BadName:\n"
        "    id: 1\n"
        "    owner: nobody\n"
        "    versions:\n"
        "      - version: 0\n"
        "        fields:\n"
        "          x: {type: strnig}\n")
    out = run("check", str(reg))
    assert out.returncode == 1
    lines = out.stderr.splitlines()
    assert any(l.startswith("team_b.yaml:2:3:") and "snake_case" in l
               for l in lines), out.stderr
    assert any(l.startswith("team_b.yaml:3:9:") and "event id 1" in l
               for l in lines), out.stderr
    assert any(l.startswith("team_b.yaml:4:12:") and "nobody" in l
               for l in lines), out.stderr
    assert any(l.startswith("team_b.yaml:8:21:") and "strnig" in l
               for l in lines), out.stderr


def test_check_refuses_names_longer_than_64(tmp_path):
    """Generated file and type names are made from registry names: a name
    over 64 characters is refused (each kind of name), one of 64 is fine."""
    reg = tmp_path / "reg"
    reg.mkdir()
    ok, long = "a" * 64, "b" * 65
    (reg / "r.yaml").write_text(
        f"owners:\n  {ok}: {{contact: a@example.com}}\n  {long}: {{contact: a@example.com}}\n"
        f"sources:\n  {ok}: {{owner: {ok}}}\n  {'s' * 65}: {{owner: {ok}}}\n"
        f"environments:\n  {ok}: {{events: [{ok}]}}\n  {long}: {{events: [{ok}]}}\n"
        f"objects:\n  {ok}: {{fields: {{{ok}: int}}}}\n  {long}: {{fields: {{x: int}}}}\n"
        f"events:\n  {ok}:\n    id: 1\n    owner: {ok}\n    versions:\n"
        f"      - version: 0\n        fields:\n          {ok}: {{type: enum, values: [{ok}, {long}]}}\n"
        f"          {long}: int\n          o: {ok}\n"
        f"  {long}:\n    id: 2\n    owner: {ok}\n    versions: [{{version: 0, fields: {{x: int}}}}]\n")
    out = run("check", str(reg))
    assert out.returncode == 1
    problems = [l for l in out.stderr.splitlines() if "more than the limit of 64" in l]
    kinds = sorted(l.split(": ", 1)[1].split(" name ")[0] for l in problems)
    assert kinds == ["enum value", "environment", "event", "field", "object", "owner",
                     "source"], out.stderr
    assert all("is 65 characters long" in l for l in problems), out.stderr
    assert "'" + "a" * 64 + "'" not in out.stderr, out.stderr


def test_serve_refuses_a_broken_registry(tmp_path):
    reg = tmp_path / "reg"
    shutil.copytree(FIXTURE_REGISTRY, reg)
    (reg / "broken.yaml").write_text("events: [\n")
    out = run("serve", "--registry", str(reg), "--data", str(tmp_path / "d"),
              "--listen", "127.0.0.1:0", timeout=30)
    assert out.returncode == 1
    assert "broken.yaml:" in out.stderr


def test_query_formats(server):
    ev = clickstream()
    ev["fields"]["user_agent"] = 'a "quoted", agent'
    assert server.post_events([ev]).json()["accepted"] == 1
    data = server.data
    table = query(data, "SELECT user_id, user_agent FROM clickstream_event_v0",
                  fmt="table")
    lines = table.splitlines()
    assert lines[0].split() == ["user_id", "user_agent"]
    assert "413" in lines[2] and 'a "quoted", agent' in lines[2]
    rows = list(csv.reader(io.StringIO(query(
        data, "SELECT user_id, user_agent FROM clickstream_event_v0",
        fmt="csv"))))
    assert rows == [["user_id", "user_agent"], ["413", 'a "quoted", agent']]
    assert query(data, "SELECT 1 AS one, 2.5 AS f, NULL AS n, 'x' AS s") == [
        {"one": 1, "f": 2.5, "n": None, "s": "x"}]


def test_query_errors(tmp_path, server):
    out = run("query", "--data", str(tmp_path / "nothing"), "SELECT 1")
    assert out.returncode == 1 and "reestr.db" in out.stderr
    out = run("query", "--data", str(server.data), "SELEKT 1")
    assert out.returncode == 1 and "syntax" in out.stderr
    # The store is opened read-only: analysts cannot damage it.
    out = run("query", "--data", str(server.data), "DELETE FROM events")
    assert out.returncode == 1
