"""The contract's checks (README.md, "Expectations"), in one place for
every way a case is run: test_conformance.py (each runtime's adapter),
check_case.py (the TypeScript runtime in Node's test runner) and
tests/browser (the same runtime in headless Chromium). Standard library
only."""

import socket


def closed_port_url():
    """A loopback URL where nothing listens: a port the kernel gave us, then
    closed."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# The line each runtime's logger writes, by default, for a lost event of each
# kind: at most one per kind every 10 s, so once in any case (each runs for
# less than that).
LOSS_LINES = {"rejected": "reestr: event rejected", "dropped": "reestr: event dropped"}


def check(expect, got, requests, log, key=None):
    """key: the case's config key, if any, which no reason and no log line
    may show."""
    if "authorization" in expect:
        assert [r.authorization for r in requests] == [expect["authorization"]] * len(requests), \
            "every request carries the Authorization header the case expects"
    if "requests" in expect:
        assert len(requests) == expect["requests"], \
            f"requests: {[len(r.events) for r in requests]}"
    if "requests_at_least" in expect:
        assert len(requests) >= expect["requests_at_least"], \
            f"requests: {[len(r.events) for r in requests]}"
    if "batch_sizes" in expect:
        assert [len(r.events) for r in requests] == expect["batch_sizes"]
    if "max_body_bytes" in expect:
        sizes = [r.size for r in requests]
        assert max(sizes, default=0) <= expect["max_body_bytes"], f"body sizes: {sizes}"
    if "flush_ok" in expect:
        assert got.get("flush_ok") == expect["flush_ok"], \
            f"what flush/close reported: {got.get('flush_ok')}"
    for group in expect.get("same_uuids", []):
        first = requests[group[0]].uuids
        assert all(u for u in first), "every event carries a uuid"
        for i in group[1:]:
            assert requests[i].uuids == first, f"request {i} resent other events"
    for i, ms in expect.get("min_gap_ms", []):
        gap = (requests[i + 1].at - requests[i].at) * 1000
        assert gap >= ms, f"request {i + 1} came {gap:.0f} ms after request {i}"
    if "send_returns" in expect:
        assert got["send_returns"] == expect["send_returns"]
    results = got["results"]
    assert [r["n"] for r in results] == list(range(len(results))), "one result per send, in order"
    if "outcomes" in expect:
        assert [r["outcome"] for r in results] == expect["outcomes"], results
    for n, text in expect.get("reasons", {}).items():
        assert text in results[int(n)]["reason"], results[int(n)]
    for name, value in expect.get("stats", {}).items():
        assert got["stats"][name] == value, f"stats.{name}: {got['stats']}"
    for name, value in expect.get("checkpoints", {}).items():
        assert got["checkpoints"].get(name) == value, f"checkpoint {name}: {got['checkpoints']}"
    # Every event is accounted for, whatever the case.
    s = got["stats"]
    assert s["delivered"] + s["rejected"] + s["dropped"] == len(results), s
    # The key is never shown, nor its secret part alone.
    if key:
        secret = key.rsplit("_", 1)[-1]
        for text in [log] + [r["reason"] for r in results]:
            assert key not in text and secret not in text, f"the key is shown: {text!r}"
    # No loss is silent, and none is logged twice within the rate limit:
    # whatever the case, one log line per kind of loss that happened.
    for kind, line in LOSS_LINES.items():
        lines = [x for x in log.splitlines() if line in x]
        want = 1 if s[kind] else 0
        assert len(lines) == want, \
            f"{s[kind]} events {kind}: {len(lines)} log lines saying {line!r}, want {want}:\n{log}"
