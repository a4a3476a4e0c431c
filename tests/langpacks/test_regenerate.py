"""Regenerating into the folder of an earlier `reestr gen`: files it no
longer generates are removed, files the user added are kept, and the list
in .reestr-gen-files is never followed outside the folder."""

import shutil
from pathlib import Path

import pytest

from conftest import EXAMPLES, LANGS, gen

MANIFEST = ".reestr-gen-files"


def files(root):
    return {p.relative_to(root).as_posix() for p in Path(root).rglob("*") if p.is_file()}


def decommission(registry, event_file):
    path = registry / "events" / event_file
    text = path.read_text()
    assert "status: deprecated" in text
    path.write_text(text.replace("status: deprecated", "status: decommissioned"))


@pytest.mark.parametrize("lang", LANGS)
def test_regeneration_removes_what_is_no_longer_generated(lang, tmp_path):
    registry = tmp_path / "registry"
    shutil.copytree(EXAMPLES, registry)
    out = gen(registry, "bo", lang, tmp_path / "out")
    before = files(out)
    assert MANIFEST in before
    assert set((out / MANIFEST).read_text().splitlines()) == before - {MANIFEST}
    (out / "NOTES.md").write_text("the team's own notes\n")
    (out / "custom").mkdir()
    (out / "custom" / "helper.txt").write_text("kept\n")

    decommission(registry, "legacy_item_favorite.yaml")
    gen(registry, "bo", lang, out)
    fresh = files(gen(registry, "bo", lang, tmp_path / "fresh"))

    assert files(out) == fresh | {"NOTES.md", "custom/helper.txt"}
    if lang != "python":  # Python keeps every event in one module
        removed = before - fresh
        assert removed and all("egacy" in f for f in removed), removed


def test_the_list_is_never_followed_outside_the_folder(tmp_path):
    out = gen(EXAMPLES, "bo", "php", tmp_path / "out")
    victim = tmp_path / "victim.txt"
    victim.write_text("not ours\n")
    (tmp_path / "out" / "keep.txt").write_text("not ours either\n")
    with (out / MANIFEST).open("a") as f:
        f.write("../victim.txt\n/" + str(victim).lstrip("/") + "\n"
                "src/../keep.txt\n./keep.txt\n\n")
    gen(EXAMPLES, "bo", "php", out)
    assert victim.exists() and (out / "keep.txt").exists()
