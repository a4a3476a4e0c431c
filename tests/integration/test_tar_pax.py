"""The langpack tar (src/packages/archive.c) holds paths of any length: a
path that ustar's name/prefix fields cannot hold gets a pax extended header.
GNU tar, Go's archive/tar and Python's tarfile must all read back the same
names and contents; and `reestr serve` must start with a registry whose
generated files have such paths (it refused to, "path too long for tar")."""

import hashlib
import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from conftest import REESTR

TAR_WRITE = str(Path(REESTR).parent / "tar_write")


def path_of(length, tag):
    """A path of exactly `length` bytes, components of at most 200."""
    parts, left = [], length - len(tag) - 1
    while left > 201:
        parts.append("p" * 200)
        left -= 201
    parts.append("q" * left)
    return "/".join(parts) + "/" + tag


FILES = [
    ("short.txt", "a short path, plain ustar\n"),
    # 101 bytes, no '/' to split at: pax
    ("n" * 97 + ".txt", "one hundred and one bytes\n"),
    # 150 bytes that ustar's prefix/name split holds: no pax header
    ("d" * 60 + "/" + "e" * 85 + ".txt", "split by ustar\n"),
    # over 255 bytes (no component over 255, so it can be extracted)
    ("/".join(["deep" + "x" * 60] * 4) + "/" + "f" * 40 + ".py", "over 255\n"),
    # one component of 200 bytes: no split works
    ("src/" + "Klass" * 40 + ".php", "<?php\n"),
    # non-ASCII, short and long (UTF-8, cut between characters in ustar)
    ("données/événement_ü.txt", "non-ASCII\n"),
    ("ünïcödé/" + "é" * 60 + "/" + "ß" * 30 + ".txt", "non-ASCII, long\n"),
    # a pax record counts its own length's digits: 998 + 3 digits makes
    # 1001, so 4 digits and 1002 (and 996 + 3 = 999 stays 3 digits)
    *[(path_of(n, "r%d" % n), "boundary %d\n" % n) for n in (989, 990, 991, 992)],
    ("empty", ""),
    ("big.bin", "0123456789abcdef" * 100),
]

GO_READER = """package main

import (
	"archive/tar"
	"encoding/json"
	"io"
	"os"
)

type entry struct {
	Name    string `json:"name"`
	Content string `json:"content"`
}

func main() {
	r := tar.NewReader(os.Stdin)
	var out []entry
	for {
		h, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			panic(err)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			panic(err)
		}
		out = append(out, entry{h.Name, string(b)})
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		panic(err)
	}
}
"""


def write_tar(path, files):
    args = [TAR_WRITE, str(path)]
    for name, content in files:
        args += [name, content]
    subprocess.run(args, check=True)
    return path.read_bytes()


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    d = tmp_path_factory.mktemp("tar")
    data = write_tar(d / "a.tar", FILES)
    assert any(len(n.encode()) > 255 for n, _ in FILES)
    return d / "a.tar", data


def test_the_archive_is_reproducible_and_pax_only_where_needed(archive, tmp_path):
    path, data = archive
    assert write_tar(tmp_path / "b.tar", FILES) == data
    assert len(data) % 512 == 0
    headers = [data[o:o + 512] for o in range(0, len(data), 512)]
    pax = [h for h in headers if h[156:157] == b"x"]
    # exactly the paths no ustar split holds
    long_ones = [n for n, _ in FILES
                 if len(n.encode()) > 100 and not n.startswith("d" * 60)]
    assert len(pax) == len(long_ones)
    # paths that fit ustar are written as before: no pax header
    only_short = write_tar(tmp_path / "c.tar", [FILES[0], FILES[2]])
    assert b"PaxHeader" not in only_short


def test_gnu_tar_reads_names_and_contents(archive, tmp_path):
    path, _ = archive
    run = subprocess.run(["tar", "-tf", str(path)], capture_output=True,
                         check=True)
    assert run.stderr == b""  # no "malformed extended header" or the like
    listed = run.stdout.decode().splitlines()
    assert listed == [n for n, _ in FILES]
    out = tmp_path / "x"
    out.mkdir()
    x = subprocess.run(["tar", "-xf", str(path), "-C", str(out)],
                       capture_output=True, check=True)
    assert x.stderr == b""
    for name, content in FILES:
        assert (out / name).read_text() == content, name


def test_python_tarfile_reads_names_and_contents(archive):
    path, _ = archive
    with tarfile.open(path) as t:
        members = t.getmembers()
        assert [m.name for m in members] == [n for n, _ in FILES]
        for m, (name, content) in zip(members, FILES):
            assert m.isfile() and m.size == len(content.encode())
            assert t.extractfile(m).read().decode() == content, name


def test_go_archive_tar_reads_names_and_contents(archive, tmp_path):
    path, _ = archive
    src = tmp_path / "reader.go"
    src.write_text(GO_READER)
    with open(path, "rb") as f:
        out = subprocess.run(["go", "run", str(src)], stdin=f,
                             capture_output=True, check=True, cwd=tmp_path)
    got = json.loads(out.stdout)
    assert [(e["name"], e["content"]) for e in got] == FILES


LONG_NAME = "analytics_instance_missing_threw_error_" + "x" * 25  # 64 bytes


def long_registry(d):
    """An event, a named object and an inline object with 64-byte names:
    the PHP class of the inline object is a 126-byte file name."""
    d.mkdir()
    n = LONG_NAME
    (d / "registry.yaml").write_text(f"""\
owners:
  t: {{contact: t@example.com}}
sources:
  svc: {{owner: t}}
environments:
  bo: {{events: [{n}]}}
objects:
  {n}:
    fields:
      a: int
events:
  {n}:
    id: 1
    owner: t
    versions:
      - version: 0
        fields:
          {n}: {{type: object, fields: {{{n}: int}}}}
          obj: {n}
""")
    return d


def test_serve_starts_with_long_generated_paths(tmp_path, make_server):
    reg = long_registry(tmp_path / "reg")
    server = make_server(registry=reg)
    for lang in ["go", "python", "php"]:
        resp = server.request("POST", f"/langpack/{lang}/latest/",
                              json.dumps({"environment": "bo"}).encode(),
                              {"Content-Type": "application/json"})
        assert resp.status == 200, resp.raw
        with tarfile.open(fileobj=io.BytesIO(resp.raw)) as t:
            top = f"reestr-langpack-bo-{lang}/"
            names = t.getnames()
            # one top folder, named after the langpack (`curl | tar x`
            # makes one folder, not a dozen files)
            assert all(n.startswith(top) for n in names), names[:3]
            # the tar holds what `reestr gen` writes, byte for byte
            gen = tmp_path / f"gen-{lang}"
            subprocess.run([REESTR, "gen", "-r", str(reg), "-e", "bo", "-l",
                            lang, "-o", str(gen)], check=True,
                           capture_output=True)
            want = sorted(str(p.relative_to(gen)) for p in gen.rglob("*")
                          if p.is_file() and p.name != ".reestr-gen-files")
            assert sorted(n[len(top):] for n in names) == want
            for name in names:
                assert (hashlib.sha256(t.extractfile(name).read()).digest()
                        == hashlib.sha256(
                            (gen / name[len(top):]).read_bytes()).digest())
        if lang == "php":
            assert max(len(n.encode()) for n in names) > 100, names
