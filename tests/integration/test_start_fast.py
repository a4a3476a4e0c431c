"""Starts touch only what changed (issue 12, point 1): a restart of `reestr
serve` with nothing changed rebuilds no typed view and generates no
langpack; a changed registry replaces only the views of its changed event
versions, and langpack versions are still decided by content. The figures
are `make bench`'s (scripts/bench-start)."""

import shutil
import sqlite3

from conftest import EXAMPLES, Server, new_langpack_versions, run


def views(data):
    """(rowid, name, sql) of every view, and the schema version."""
    db = sqlite3.connect(data / "reestr.db")
    try:
        rows = db.execute("SELECT rowid, name, sql FROM sqlite_master "
                          "WHERE type = 'view' ORDER BY name").fetchall()
        return rows, db.execute("PRAGMA schema_version").fetchone()[0]
    finally:
        db.close()


def new_versions(server):
    """The langpack versions the last start made (in the background)."""
    return new_langpack_versions(server.langpacks())


def restart(server, change=lambda: None):
    """Stops the server once its langpacks are made (a stop before would
    leave the rest to the next start), makes the change to its registry
    while it is stopped (a running one would reload it), and starts it."""
    server.langpacks()
    server.stop()
    change()
    server.start()
    return server


def add_version(registry):
    """Adds item_view v1 (one field) to a copy of the example registry."""
    path = registry / "events" / "item_view.yaml"
    path.write_text(path.read_text() +
                    "      - version: 1\n"
                    "        fields:\n"
                    "          item_id: {type: int, min: 1}\n")


def test_restart_with_nothing_changed_touches_no_view(tmp_path):
    registry = tmp_path / "registry"
    shutil.copytree(EXAMPLES, registry)
    s = Server(registry, tmp_path / "data").start()
    try:
        before = views(s.data)
        assert len(before[0]) >= 9
        restart(s)
        # same views, same rowids, and no schema change at all
        assert views(s.data) == before
        assert new_versions(s) == 0

        restart(s, lambda: add_version(registry))
        rows, schema = views(s.data)
        assert schema != before[1]
        names = [r[1] for r in rows]
        assert "item_view_v1" in names
        # the other views are the same rows, untouched
        assert [r for r in rows if r[1] != "item_view_v1"] == before[0]
        assert new_versions(s) > 0

        # an event version removed: its view is dropped, no other touched
        def remove():
            (registry / "events" / "legacy_item_favorite.yaml").unlink()
            env = registry / "environments.yaml"
            env.write_text(env.read_text().replace(
                "      - legacy_item_favorite\n", ""))
            assert run("check", str(registry)).returncode == 0
        restart(s, remove)
        after = views(s.data)[0]
        assert not [r for r in after if r[1].startswith("legacy_item")]
        assert after == [r for r in rows
                         if not r[1].startswith("legacy_item")]
    finally:
        s.stop()


def test_langpack_hash_comes_from_the_cache_only_for_the_same_inputs(
        tmp_path):
    registry = tmp_path / "registry"
    shutil.copytree(EXAMPLES, registry)
    s = Server(registry, tmp_path / "data").start()
    try:
        first = new_versions(s)
        assert first > 0
        s.stop()  # new_versions waited for the langpacks
        # Mark the latest bo/go version and its cached hash as another
        # content: a restart that generated the langpack would see that
        # its content differs and record a new version; one that takes
        # the hash from the cache (same executable, same registry bytes)
        # generates nothing and records none.
        db = sqlite3.connect(s.data / "langpacks.db")
        with db:
            db.execute("UPDATE langpack_versions SET content_sha256 = 'x' "
                       "WHERE lang = 'go' AND environment = 'bo'")
            n = db.execute("UPDATE langpack_inputs SET content_sha256 = "
                           "'x' WHERE lang = 'go' AND environment = 'bo'"
                           ).rowcount
        db.close()
        assert n == 1
        s.start()
        assert new_versions(s) == 0

        # Other inputs: generated again, and the content decides.
        original = (registry / "events" / "item_view.yaml").read_text()
        restart(s, lambda: add_version(registry))
        assert new_versions(s) > 0
        # Back to the first bytes: the cache knows their content, but it
        # is not the latest version's, so a version is recorded again.
        restart(s, lambda: (registry / "events" / "item_view.yaml")
                .write_text(original))
        assert new_versions(s) > 0
        restart(s)
        assert new_versions(s) == 0
    finally:
        s.stop()
