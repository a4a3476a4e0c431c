"""Prints what tests/docs/test_snippets.py did not run, and why."""

from test_snippets import BLOCKS, RUNNABLE


def pytest_terminal_summary(terminalreporter):
    norun = [b for b in BLOCKS if b.norun is not None]
    text = [b for b in BLOCKS if b.lang == "text" and b.norun is None]
    w = terminalreporter.write_line
    w(f"docs snippets: {len(BLOCKS)} blocks, {len(RUNNABLE)} run, "
      f"{len(norun)} not run (norun), {len(text)} text (not programs)")
    for b in norun:
        w(f"  norun {b.id} ({b.lang}): {b.norun}")
