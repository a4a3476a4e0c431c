"""The conformance adapter (tests/conformance/README.md):

    python conformance.py CASE_FILE COLLECTOR_URL

runs the case's steps with this runtime's sender and prints what happened
as one JSON object."""

from __future__ import annotations

import json
import sys
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reestr_runtime import Event, Result, Sender  # noqa: E402


class ConformanceEvent(Event):
    """The contract's test event: id 1, version 0, one int field n."""

    EVENT_ID = 1
    EVENT_VERSION = 0
    EVENT_NAME = "conformance_event"

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def validate(self) -> None:
        pass

    def _encode_fields(self, out: list[str]) -> None:
        out.append('{"n":%d}' % self.n)


def main() -> None:
    case = json.loads(Path(sys.argv[1]).read_text())
    url = sys.argv[2]
    cfg = case.get("config", {})
    options: dict[str, float | int | str] = {}
    for key, name, scale in (("batch_size", "batch_size", None),
                             ("max_batch_bytes", "max_batch_bytes", None),
                             ("queue_capacity", "queue_capacity", None),
                             ("max_attempts", "max_attempts", None),
                             ("batch_age_ms", "batch_age", 1000),
                             ("backoff_base_ms", "backoff_base", 1000),
                             ("backoff_max_ms", "backoff_max", 1000),
                             ("request_timeout_ms", "request_timeout", 1000)):
        if key in cfg:
            options[name] = cfg[key] / scale if scale else cfg[key]
    if "key" in cfg:
        options["key"] = cfg["key"]
    lock = threading.Lock()
    by_uuid: dict[str, Result] = {}

    def on_result(r: Result) -> None:
        with lock:
            by_uuid[r.uuid] = r

    sender = Sender(url, "conformance-adapter", "conformance",
                    on_result=on_result, **options)  # type: ignore[arg-type]
    uuids: list[str] = []
    returns: list[bool] = []
    flush_ok: list[bool] = []
    checkpoints: dict[str, int] = {}
    for step in case["steps"]:
        if "send" in step:
            for _ in range(step["send"]):
                e = ConformanceEvent(len(uuids))
                uuids.append(e.event_uuid)
                returns.append(sender.send(e))
        elif "sleep_ms" in step:
            time.sleep(step["sleep_ms"] / 1000)
        elif "flush" in step:
            flush_ok.append(sender.flush())
        elif "close" in step:
            flush_ok.append(sender.close())
        elif "checkpoint" in step:
            with urllib.request.urlopen(url + "/_count") as r:
                checkpoints[step["checkpoint"]] = json.load(r)["count"]
    s = sender.stats()
    with lock:
        results = [{"n": n, "outcome": by_uuid[u].outcome if u in by_uuid
                    else "none", "reason": by_uuid[u].reason
                    if u in by_uuid else ""} for n, u in enumerate(uuids)]
    print(json.dumps({
        "send_returns": returns,
        "flush_ok": flush_ok,
        "results": results,
        "stats": {"queued": s.queued, "delivered": s.delivered,
                  "rejected": s.rejected, "dropped": s.dropped,
                  "dropped_queue_full": s.dropped_queue_full,
                  "retries": s.retries, "requests": s.requests},
        "checkpoints": checkpoints,
    }))


if __name__ == "__main__":
    main()
