"""Every fenced block of README.md and docs/*.md, run against a live
`reestr serve` (issue 12): a snippet that does not work fails `make test`.

How each block is taken, by its info string (docs/testing.md, "Docs
snippets", is the reference):

- ``sh``: run by `bash -euo pipefail` in the document's scratch folder,
  which looks like the repository's root (`build/reestr`, a copy of
  `examples/`, `var` = the live collector's data folder); `reestr`, `pip`
  and `python` (a venv) are on PATH; `$REESTR_URL` is the collector.
- ``python``, ``go``, ``php``: a whole program, run with the environment
  `bo`'s langpack installed the documented way (pip from /pypi/, `go get`
  through /go/, Composer from /composer/project.json); it must exit 0.
- ``ts``: a whole TypeScript module, in an npm project with the environment
  `front`'s langpack installed the documented way (npm from
  /npm/package.json): `tsc --strict` must pass on it, and Node must run
  what tsc made of it with exit status 0.
- ``yaml``: a whole registry file: `reestr check` on a folder holding it.
- ``sql``: `reestr query` on the live store (the example registry's tables).
- ``json``: must parse.
- ``output``: what the ``sh`` block just before it prints on stdout,
  compared as it is (after the address substitution below).
- ``text``: not a program (a diagram, a usage synopsis, output shown): not
  run, counted.
- ``LANG norun: REASON``: shown but not run, for the reason given (counted
  and listed at the end).

In every block run, the address `make run` listens on
(http://127.0.0.1:8080) and the placeholder http://HOST stand for the live
collector's URL.
"""

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REESTR = os.environ.get("REESTR_BIN", str(ROOT / "build" / "reestr"))
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUN = {"sh", "python", "go", "php", "ts", "yaml", "sql", "json"}
TSC = ROOT / "tools" / "node" / "node_modules" / ".bin" / "tsc"
KNOWN = RUN | {"text", "output"}
FENCE = re.compile(r"^(\s*)```(.*)$")

_spec = importlib.util.spec_from_file_location(
    "integration_support", ROOT / "tests" / "integration" / "conftest.py")
_support = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_support)
Server = _support.Server


class Block:
    def __init__(self, doc, line, info, body):
        self.doc, self.line, self.body = doc, line, body
        self.info = info.strip()
        head, _, reason = self.info.partition("norun:")
        self.lang = head.split()[0] if head.split() else ""
        self.norun = reason.strip() if "norun:" in self.info else None

    @property
    def id(self):
        return f"{self.doc.relative_to(ROOT)}:{self.line}"


def blocks_of(doc):
    lines = doc.read_text().split("\n")
    out, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m:
            indent = len(m.group(1))
            j = i + 1
            while not re.match(r"^\s*```\s*$", lines[j]):
                j += 1
            body = "\n".join(l[indent:] for l in lines[i + 1:j]) + "\n"
            out.append(Block(doc, i + 1, m.group(2), body))
            i = j
        i += 1
    return out


BLOCKS = [b for d in DOCS for b in blocks_of(d)]
# docs/langpacks.md's "Install in one command", by a command each block has:
# the python, go and php programs run in projects these blocks made.
INSTALL_MARKS = {"python": "pip install --index-url",
                 "go": "go get reestr.local/langpack/bo",
                 "php": "composer/project.json?environment=bo",
                 "ts": "npm/package.json?environment=front"}
INSTALL = {lang: [b for b in BLOCKS if b.lang == "sh" and b.norun is None
                  and b.doc.name == "langpacks.md" and mark in b.body]
           for lang, mark in INSTALL_MARKS.items()}
RUNNABLE = [b for b in BLOCKS if b.lang in RUN | {"output"} and b.norun is None]


def test_every_block_says_how_it_is_taken():
    """A fence without a known tag, or a norun without a reason, fails."""
    bad = [f"{b.id}: ```{b.info}" for b in BLOCKS
           if b.lang not in KNOWN or (b.norun is not None and not b.norun)]
    assert not bad, "tag these blocks (docs/testing.md, Docs snippets):\n" + "\n".join(bad)
    assert RUNNABLE, "no block to run"
    for lang, found in INSTALL.items():
        assert len(found) == 1, f"docs/langpacks.md: one sh block installs {lang}: {found}"
    for i, b in enumerate(BLOCKS):
        if b.lang == "output":
            before = BLOCKS[i - 1] if i else None
            assert before and before.doc == b.doc and before.lang == "sh" \
                and before.norun is None, f"{b.id}: an output block follows a sh block run"


def substitute(text, url):
    return text.replace("http://127.0.0.1:8080", url).replace("http://HOST", url)


class Live:
    """The collector, and one scratch folder per document."""

    def __init__(self, base):
        self.base = base
        self.examples = base / "examples"
        shutil.copytree(ROOT / "examples", self.examples)
        self.data = base / "data"
        help_text = subprocess.run([REESTR, "serve", "--help"], capture_output=True,
                                   text=True).stdout
        extra = ["--dev"] if "--dev" in help_text else []
        self.server = Server(self.examples / "registry", self.data, extra).start()
        self.url = self.server.url
        self.bin = base / "bin"
        self.bin.mkdir()
        (self.bin / "reestr").symlink_to(REESTR)
        self.venv = base / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(self.venv)], check=True)
        self.env = dict(os.environ,
                        REESTR_URL=self.url,
                        PATH=f"{self.bin}:{self.venv}/bin:{os.environ['PATH']}",
                        VIRTUAL_ENV=str(self.venv),
                        GOPATH=str(base / "gopath"),
                        # the build cache is content-addressed: the
                        # run's own (scripts/test-all) when there is one
                        GOCACHE=os.environ.get("GOCACHE", str(base / "gocache")),
                        GOFLAGS="-modcacherw", GOENV=str(base / "goenv"),
                        COMPOSER_HOME=str(base / "composer-home"),
                        COMPOSER_NO_INTERACTION="1",
                        npm_config_cache=str(base / "npm-cache"),
                        npm_config_update_notifier="false",
                        PIP_DISABLE_PIP_VERSION_CHECK="1")
        self.scratch = {}
        self.stdout = {}  # the last sh block's stdout, per document
        self.projects = {}

    def folder(self, doc):
        """The document's scratch folder, shaped like the repository's root."""
        if doc not in self.scratch:
            d = self.base / "scratch" / doc.stem
            d.mkdir(parents=True)
            (d / "build").mkdir()
            (d / "build" / "reestr").symlink_to(REESTR)
            shutil.copytree(ROOT / "examples", d / "examples")
            (d / "var").symlink_to(self.data)
            self.scratch[doc] = d
        return self.scratch[doc]

    def sh(self, script, cwd, timeout=600):
        return subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd,
                              env=self.env, capture_output=True, text=True,
                              timeout=timeout)

    def project(self, lang):
        """A project using `bo`'s langpack, installed the way
        docs/langpacks.md ("Install in one command") says."""
        if lang in self.projects:
            return self.projects[lang]
        d = self.base / "projects" / lang
        d.mkdir(parents=True)
        out = self.sh(substitute(INSTALL[lang][0].body, self.url), d)
        assert out.returncode == 0, f"installing the {lang} langpack:\n{out.stdout}\n{out.stderr}"
        self.projects[lang] = d
        return d


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    live = Live(tmp_path_factory.mktemp("docs"))
    yield live
    live.server.stop()


def run_block(block, live):
    body = substitute(block.body, live.url)
    cwd = live.folder(block.doc)
    if block.lang == "sh":
        out = live.sh(body, cwd)
        live.stdout[block.doc] = out.stdout
        return out
    if block.lang == "output":
        got = live.stdout.pop(block.doc, None)
        assert got == body, f"{block.id}: the block above printed\n{got}\nnot\n{block.body}"
        return None
    if block.lang == "json":
        json.loads(body)
        return None
    if block.lang == "yaml":
        reg = cwd / f"registry-{block.line}"
        reg.mkdir()
        (reg / "registry.yaml").write_text(body)
        return subprocess.run([REESTR, "check", str(reg)], capture_output=True, text=True)
    if block.lang == "sql":
        return subprocess.run([REESTR, "query", "--data", str(live.data), body],
                              capture_output=True, text=True)
    first = {"go": "package main", "php": "<?php"}.get(block.lang)
    assert not first or body.startswith(first), (
        f"{block.id}: a ```{block.lang} block is a whole program starting with "
        f"{first!r}; mark a fragment `{block.lang} norun: REASON` or make it whole")
    project = live.project(block.lang)
    if block.lang == "ts":
        assert TSC.exists(), f"{TSC} is missing: run scripts/install-deps"
        (project / "snippet.ts").write_text(body)
        out = subprocess.run(
            [str(TSC), "--strict", "--target", "es2022", "--module", "nodenext",
             "--moduleResolution", "nodenext", "--lib", "es2022,dom", "snippet.ts"],
            cwd=project, env=live.env, capture_output=True, text=True, timeout=600)
        if out.returncode:
            return out
        cmd = ["node", "snippet.js"]
    elif block.lang == "python":
        (project / "snippet.py").write_text(body)
        cmd = [str(live.venv / "bin" / "python"), "snippet.py"]
    elif block.lang == "go":
        (project / "main.go").write_text(body)
        cmd = ["go", "run", "."]
    else:
        (project / "snippet.php").write_text(body)
        cmd = ["php", "snippet.php"]
    return subprocess.run(cmd, cwd=project, env=live.env, capture_output=True, text=True,
                          timeout=600)


@pytest.mark.parametrize("block", RUNNABLE, ids=lambda b: b.id)
def test_snippet_runs(block, live):
    started = time.monotonic()
    out = run_block(block, live)
    if out is not None:
        assert out.returncode == 0, (
            f"{block.id} (```{block.info}) exited {out.returncode}:\n{block.body}\n"
            f"--- stdout\n{out.stdout[-3000:]}\n--- stderr\n{out.stderr[-3000:]}")
    print(f"{block.id}: {block.lang} ran in {time.monotonic() - started:.1f} s")
