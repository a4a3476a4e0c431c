"""`reestr new event NAME --env ENV` (issue 12, the scaffold): a commented
event file with one version, listed in the environment by an edit that keeps
the environment file's comments and layout; what it writes passes `reestr
check`, and whatever it refuses leaves the registry as it was."""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import EXAMPLES, REESTR, run


def tree(root):
    """Every file below root with its bytes: to show nothing changed."""
    return {str(p.relative_to(root)): p.read_bytes()
            for p in sorted(Path(root).rglob("*")) if p.is_file()}


@pytest.fixture
def reg(tmp_path):
    dst = tmp_path / "registry"
    shutil.copytree(EXAMPLES, dst)
    return dst


def new(registry, name, env="bo", *extra):
    return run("new", "event", name, "--env", env, "--registry", str(registry),
               *extra)


def test_new_event_is_written_listed_and_passes_check(reg):
    envs_before = (reg / "environments.yaml").read_text()
    out = new(reg, "search_performed")
    assert out.returncode == 0, out.stderr
    assert "event search_performed, id 601, owner marketplace, version 0" in out.stdout
    assert "added search_performed to environment bo" in out.stdout
    # one line added after bo's last event, at its items' indentation; the
    # file's comments and everything else as they were
    lines = envs_before.splitlines(keepends=True)
    at = lines.index("      - legacy_item_favorite\n") + 1
    assert (reg / "environments.yaml").read_text() == "".join(
        lines[:at] + ["      - search_performed\n"] + lines[at:])
    text = (reg / "events" / "search_performed.yaml").read_text()
    assert text.startswith("# search_performed: written by 'reestr new event'")
    assert "    id: 601  # unique forever" in text
    assert "      - version: 0\n" in text and "# sort:\n" in text
    check = run("check", "--strict", str(reg))
    assert check.returncode == 0, check.stdout + check.stderr
    assert "10 events, 11 event versions" in check.stdout
    # and it is in the environment's langpack
    gen = run("gen", "--registry", str(reg), "--env", "bo", "--lang", "python",
              "--out", str(reg.parent / "py"))
    assert gen.returncode == 0, gen.stderr
    assert "SearchPerformed" in "".join(
        p.read_text() for p in (reg.parent / "py").rglob("*.py"))


def test_owner_can_be_given_and_ids_keep_growing(reg):
    assert new(reg, "first_one", "front", "--owner", "payments").returncode == 0
    assert "owner: payments" in (reg / "events" / "first_one.yaml").read_text()
    out = new(reg, "second_one", "front")
    assert out.returncode == 0, out.stderr
    assert "id 602" in out.stdout
    assert run("check", str(reg)).returncode == 0


def test_an_existing_name_is_refused_and_nothing_changes(reg):
    before = tree(reg)
    out = new(reg, "payment")
    assert out.returncode == 1
    assert "event 'payment' already exists (" in out.stderr
    assert "events/payment.yaml:2, id 300" in out.stderr
    assert "nothing was changed" in out.stderr
    assert tree(reg) == before
    # a second scaffold of the same new name: the first one stands
    assert new(reg, "brand_new").returncode == 0
    after_first = tree(reg)
    again = new(reg, "brand_new")
    assert again.returncode == 1 and "already exists" in again.stderr
    assert tree(reg) == after_first


def test_an_unknown_environment_lists_the_known_ones(reg):
    before = tree(reg)
    out = new(reg, "search_performed", "prod")
    assert out.returncode == 1
    assert "unknown environment 'prod'" in out.stderr
    assert "known: bo, front, mobile" in out.stderr
    assert tree(reg) == before


def test_an_unknown_owner_lists_the_known_ones(reg):
    before = tree(reg)
    out = new(reg, "search_performed", "bo", "--owner", "nobody")
    assert out.returncode == 1
    assert "unknown owner 'nobody'" in out.stderr
    assert "known: analytics_platform, marketplace, payments" in out.stderr
    assert tree(reg) == before


@pytest.mark.parametrize("name,message", [
    ("SearchPerformed", "event name 'SearchPerformed' is not lower snake_case "
                        "(try 'search_performed')"),
    ("search-performed", "(try 'search_performed')"),
    ("../../etc/evil", "event name '../../etc/evil' is not lower snake_case"),
    ("a/b", "is not lower snake_case"),
    ("x y", "(try 'x_y')"),
    ("", "is not lower snake_case"),
    ("double__underscore", "is not lower snake_case"),
    ("é_event", "is not lower snake_case"),
    ("a" * 65, "is 65 characters long, more than the limit of 64"),
])
def test_a_bad_name_is_refused_with_the_registrys_own_message(reg, name, message):
    before = tree(reg)
    out = new(reg, name)
    assert out.returncode == 1, out.stdout
    assert message in out.stderr
    assert tree(reg) == before
    # the same words `reestr check` uses for such a name in a file
    if "/" not in name and name:
        (reg / "events" / "probe.yaml").write_text(
            f'events:\n  "{name}":\n    id: 9999\n    owner: payments\n'
            "    versions: [{version: 0, fields: {a: string}}]\n")
        check = run("check", str(reg))
        assert message in check.stdout + check.stderr


def test_a_read_only_registry_is_left_as_it_was(tmp_path):
    # a folder others may read but not write; root writes anywhere, so the
    # command runs as nobody then
    base = Path(tempfile.mkdtemp(prefix="reestr-ro-"))
    try:
        reg = base / "registry"
        shutil.copytree(EXAMPLES, reg)
        subprocess.run(["chmod", "-R", "a+rX,a-w", str(base)], check=True)
        os.chmod(base, 0o755)
        before = tree(reg)
        cmd = [REESTR, "new", "event", "search_performed", "--env", "bo",
               "--registry", str(reg)]
        if os.geteuid() == 0:
            cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
        out = subprocess.run(cmd, capture_output=True, text=True)
        assert out.returncode == 1
        assert (f"cannot create {reg}/events/search_performed.yaml: "
                "Permission denied; nothing was changed") in out.stderr
        assert tree(reg) == before

        # events/ writable, the environment's folder not: the event file
        # written first is taken back
        os.chmod(reg / "events", 0o777)
        out = subprocess.run(cmd, capture_output=True, text=True)
        assert out.returncode == 1
        assert f"cannot write {reg}/environments.yaml" in out.stderr
        assert "nothing was changed" in out.stderr
        assert tree(reg) == before
        assert not (reg / "events" / "search_performed.yaml").exists()
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(base)], check=True)
        shutil.rmtree(base)


def test_a_registry_with_problems_is_refused(reg):
    (reg / "events" / "payment.yaml").write_text(
        (reg / "events" / "payment.yaml").read_text().replace("owner: payments",
                                                              "owner: payment"))
    before = tree(reg)
    out = new(reg, "search_performed")
    assert out.returncode == 1
    assert "events/payment.yaml:4:12: unknown owner 'payment'" in out.stderr
    assert "has 1 problem: fix it first ('reestr check" in out.stderr
    assert tree(reg) == before


def test_usage():
    out = run("new", "object", "thing", "--env", "bo")
    assert out.returncode == 2 and "only an event can be made" in out.stderr
    out = run("new", "event", "thing")
    assert out.returncode == 2 and "give --env ENV" in out.stderr
    out = run("new", "--help")
    assert out.returncode == 0
    assert "usage: reestr new event NAME --env ENV" in out.stdout


HEAD = """# a registry in one file
owners:
  team:              # the only owner
    contact: t@example.com
sources:
  svc:
    owner: team
"""
TAIL = """environments:
  front:
    events: [first]
events:
  first:
    id: 7
    owner: team
    versions: [{version: 0, fields: {a: string}}]
"""


@pytest.mark.parametrize("before,after", [
    # a flow list, with a comment after it
    ("environments:\n  bo:\n    events: [first]   # the list\n",
     "environments:\n  bo:\n    events: [first, scaffolded]   # the list\n"),
    # a flow list over two lines
    ("environments:\n  bo:\n    events: [\n      first\n      ]\n",
     "environments:\n  bo:\n    events: [\n      first, scaffolded\n      ]\n"),
    # an empty flow list
    ("environments:\n  bo:\n    description: x\n    events: []\n",
     "environments:\n  bo:\n    description: x\n    events: [scaffolded]\n"),
    # no events at all
    ("environments:\n  bo:\n    description: x   # keep\n",
     "environments:\n  bo:\n    events:\n      - scaffolded\n    description: x   # keep\n"),
    # a block list at the key's own indentation, a comment after each item
    ("environments:\n  bo:\n    events:\n    - first  # one\n    # end of list\n"
     "  web:\n    events: [first]\n",
     "environments:\n  bo:\n    events:\n    - first  # one\n    - scaffolded\n"
     "    # end of list\n  web:\n    events: [first]\n"),
])
def test_the_environment_file_is_edited_in_place(tmp_path, before, after):
    reg = tmp_path / "r"
    reg.mkdir()
    (reg / "a.yaml").write_text(HEAD + TAIL)
    (reg / "envs.yaml").write_text(before)
    assert run("check", str(reg)).returncode == 0
    out = new(reg, "scaffolded")
    assert out.returncode == 0, out.stderr
    assert (reg / "envs.yaml").read_text() == after
    assert (reg / "a.yaml").read_text() == HEAD + TAIL
    assert "owner team" in out.stdout and "id 8" in out.stdout
    check = run("check", "--strict", str(reg))
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_last_line_without_newline(tmp_path):
    reg = tmp_path / "r"
    reg.mkdir()
    (reg / "a.yaml").write_text(HEAD + TAIL)
    (reg / "envs.yaml").write_text("environments:\n  bo:\n    events:\n      - first")
    assert run("check", str(reg)).returncode == 0
    out = new(reg, "scaffolded")
    assert out.returncode == 0, out.stderr
    assert (reg / "envs.yaml").read_text() == (
        "environments:\n  bo:\n    events:\n      - first\n      - scaffolded\n")
    assert run("check", "--strict", str(reg)).returncode == 0


def test_concurrent_news_all_land_with_distinct_ids(reg):
    """Eight `reestr new` on one registry at once: each waits for the
    folder's lock, so every event is listed in the environment, each has its
    own id, and the registry passes check (without the lock the environment
    file's read-edit-write lost all but one of them)."""
    names = [f"concurrent_event_{i}" for i in range(8)]
    procs = [subprocess.Popen(
        [REESTR, "new", "event", n, "--env", "bo", "--registry", str(reg)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for n in names]
    outs = [p.communicate(timeout=60) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
    envs = (reg / "environments.yaml").read_text()
    for n in names:
        assert f"      - {n}\n" in envs
    ids = set()
    for n in names:
        text = (reg / "events" / f"{n}.yaml").read_text()
        line = next(x for x in text.splitlines() if x.startswith("    id: "))
        ids.add(int(line.split()[1]))
    assert len(ids) == len(names)
    check = run("check", "--strict", str(reg))
    assert check.returncode == 0, check.stdout + check.stderr
