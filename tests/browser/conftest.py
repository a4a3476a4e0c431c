"""The browser stage's summary names what the browser cannot check as
the other runtimes do (test_conformance_browser.BROWSER_DIFFERS), so no
difference is silent."""

import sys


def pytest_terminal_summary(terminalreporter):
    mod = sys.modules.get("test_conformance_browser")
    for case, (key, why, instead) in getattr(mod, "BROWSER_DIFFERS", {}).items():
        terminalreporter.write_line(
            f"conformance in chromium: {case}: {key} not checked as written: "
            f"{why}; checked instead: {instead}")
