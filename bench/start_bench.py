"""Start and reload times of `reestr serve` on big registries (issue 12,
point 1; part of `make bench` through scripts/bench-start). For each size
(bench/big_registry.py, published): the first start on a fresh data
folder, restarts with nothing changed, and the time to take a one-event
edit (a reload on SIGHUP when this reestr has one, otherwise a restart;
and the same edit taken by the folder's watch, timed from registry.lock's
write by `reestr publish` to the reload line, the debounce included),
as medians with their range; the collector's peak RSS (VmHWM). A start
ends when serve logs its "listening on" line, a reload when it logs its
"reloaded registry" line; the langpacks are made after those lines, in
the background, and a second figure is when the last environment's
"langpacks ready" line is logged (both measured from the same moment:
the process's start, or the SIGHUP). Each start also gives the process's
CPU time (user + system) at its line, and when an event sent at the line
is answered: one of an unknown event, which the store's writer stores in
failed_events, so it is answered once the store has finished opening
(after the line, on the writer's thread). Figures only: nothing passes or
fails on time.

    python3 bench/start_bench.py REESTR WORKDIR [VERSIONS ...]
"""

import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import big_registry  # noqa: E402

RUNS = int(os.environ.get("BENCH_START_RUNS", "3"))
ENVIRONMENTS = 2  # bo and front (big_registry.py)
# serve's line per environment once its langpacks are decided (ready, or
# not made); older reestrs made them before their start or reload line
PACKS = ("langpacks ready:", "langpacks not made:")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ["--insecure-local"] when the binary has it (main() decides)
INSECURE = []

class Serve:
    running = []  # stopped on the way out, even when interrupted

    def __init__(self, reestr, registry, data):
        self.reestr, self.registry, self.data = reestr, registry, data
        self.log = Path(str(data) + ".log")
        self.proc = None
        Serve.running.append(self)

    def count(self, needles):
        if not self.log.exists():
            return 0
        text = self.log.read_text(errors="replace")
        return sum(text.count(n) for n in needles)

    def wait_line(self, needle, count, start, timeout=900):
        needles = needle if isinstance(needle, tuple) else (needle,)
        while time.monotonic() - start < timeout:
            if self.count(needles) >= count:
                return time.monotonic() - start
            if self.proc.poll() is not None:
                raise RuntimeError(self.log.read_text())
            time.sleep(0.002)
        raise RuntimeError(f"no '{needle}' in {timeout} s")

    def packs(self, seen, t0, background):
        """When the langpacks are made: the last environment's line, or
        (an older reestr) the start or reload line itself."""
        if not background:
            return None
        return self.wait_line(PACKS, seen + ENVIRONMENTS, t0)

    def cpu_s(self):
        """The process's CPU time so far (user + system), in seconds."""
        stat = Path(f"/proc/{self.proc.pid}/stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def first_event(self, t0):
        """Seconds until an event sent at the start line is answered: one
        of an unknown event, rejected and stored in failed_events by the
        store's writer, so answered once the store is open."""
        body = json.dumps({"events": [{
            "event_id": 999999999, "version": 0,
            "uuid": "0192f0c4-8b7a-7cde-8f00-1a2b3c4d5e6f",
            "time": "2026-11-25T10:00:00Z", "environment": "bo",
            "source": "bench", "fields": {}}]}).encode()
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/v1/events", data=body,
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=600) as r:
            answer = json.loads(r.read())
        if answer.get("rejected") != 1:
            raise RuntimeError(f"unexpected answer {answer}")
        return time.monotonic() - t0

    def start(self):
        """(seconds to the start line, seconds to the langpacks); also
        sets self.line_cpu (CPU seconds at the line) and self.stored
        (seconds until an event sent at the line is stored)"""
        seen = self.count(("listening on",))
        packs = self.count(PACKS)
        logf = open(self.log, "a")
        self.port = free_port()
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [self.reestr, "serve", *INSECURE, "--registry", str(self.registry),
             "--data", str(self.data), "--listen",
             f"127.0.0.1:{self.port}"], stdout=logf, stderr=logf)
        logf.close()
        line = self.wait_line("listening on", seen + 1, t0)
        self.line_cpu = self.cpu_s()
        # the event and the langpacks' lines are waited for side by side,
        # so that neither time includes waiting for the other
        stored = []
        sender = threading.Thread(
            target=lambda: stored.append(self.first_event(t0)))
        sender.start()
        background = "langpacks being made" in self.log.read_text()
        made = self.packs(packs, t0, background)
        sender.join()
        if not stored:
            raise RuntimeError("the event sent at the start line failed")
        self.stored = stored[0]
        return line, line if made is None else made

    def reload(self):
        """(seconds to the reload line, seconds to the langpacks)"""
        seen = self.count(("reloaded registry",))
        packs = self.count(PACKS)
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGHUP)
        line = self.wait_line("reloaded registry", seen + 1, t0)
        background = "langpacks being made" in self.log.read_text()
        made = self.packs(packs, t0, background)
        return line, line if made is None else made

    def own_s(self):
        """The last reload line's own count (its "N ms"), in seconds."""
        lines = [l for l in self.log.read_text().splitlines()
                 if "reloaded registry (" in l]
        return int(re.search(r", (\d+) ms\)", lines[-1]).group(1)) / 1000

    def watched_reload(self, registry, reestr):
        """A one-event edit published, reloaded by the watch (no SIGHUP):
        seconds from registry.lock's write (publish renames it into place:
        its mtime) to the reload line, by the wall clock."""
        seen = self.count(("reloaded registry",))
        packs = self.count(PACKS)
        publish(reestr, registry)
        written = (Path(registry) / "registry.lock").stat().st_mtime
        start = time.monotonic()
        while self.count(("reloaded registry",)) < seen + 1:
            if time.monotonic() - start > 900:
                raise RuntimeError("no reload after publish")
            if self.proc.poll() is not None:
                raise RuntimeError(self.log.read_text())
            time.sleep(0.002)
        line = time.time() - written
        if "langpacks being made" in self.log.read_text():
            self.wait_line(PACKS, packs + ENVIRONMENTS, time.monotonic())
        return line

    def hwm_mb(self):
        for line in Path(f"/proc/{self.proc.pid}/status").read_text() \
                .splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=120)


def fmt(xs):
    xs = sorted(xs)
    if len(xs) == 1:
        return f"{xs[0]:.3f} s"
    return (f"{statistics.median(xs):.3f} s (median of {len(xs)}, "
            f"{xs[0]:.3f}-{xs[-1]:.3f})")


def publish(reestr, registry):
    subprocess.run([reestr, "publish", str(registry)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main():
    reestr, work = sys.argv[1], Path(sys.argv[2])
    sizes = [int(a) for a in sys.argv[3:]] or [1000, 10000]
    help_text = subprocess.run([reestr, "serve", "--help"],
                               capture_output=True, text=True).stdout
    has_reload = "SIGHUP" in help_text
    # a binary that asks for keys serves without them (loopback only)
    if "--insecure-local" in help_text:
        INSECURE.append("--insecure-local")
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    for n in sizes:
        registry, data = work / f"registry-{n}", work / f"data-{n}"
        total = big_registry.write(registry, n)
        publish(reestr, registry)
        s = Serve(reestr, registry, data)
        first, first_packs = s.start()
        first_mb = s.hwm_mb()
        s.stop()
        again, again_packs, mb = [], [], 0.0
        cpu, stored = [], []
        for _ in range(RUNS):
            line, packs = s.start()
            again.append(line)
            again_packs.append(packs)
            cpu.append(s.line_cpu)
            stored.append(s.stored)
            mb = max(mb, s.hwm_mb())
            s.stop()
        print(f"start, {total} versions: first {first:.3f} s "
              f"(RSS {first_mb:.0f} MB), langpacks made at "
              f"{first_packs:.3f} s; nothing changed {fmt(again)} "
              f"(CPU at the line {fmt(cpu)}; an event sent at the line "
              f"stored at {fmt(stored)}; RSS {mb:.0f} MB), langpacks "
              f"ready at {fmt(again_packs)}")
        edits, edit_packs, own = [], [], []
        if has_reload:
            s.start()
            for i in range(RUNS):
                big_registry.edit(registry, seed=i)
                publish(reestr, registry)
                line, packs = s.reload()
                edits.append(line)
                edit_packs.append(packs)
                own.append(s.own_s())
            # the same edit taken by the watch: from the lock's write
            # (the end of `reestr publish`) to the line, the debounce
            # included
            watched = []
            for i in range(RUNS):
                big_registry.edit(registry, seed=1000 + i)
                watched.append(s.watched_reload(registry, reestr))
            s.stop()
            print(f"reload after a one-event edit, {total} versions: "
                  f"reload line {fmt(edits)} after SIGHUP (the line's own "
                  f"count {fmt(own)}: the watch may have begun it before "
                  f"the SIGHUP), "
                  f"{fmt(watched)} after the lock's write (the watch, "
                  f"no SIGHUP); langpacks made at {fmt(edit_packs)}")
        else:
            for i in range(RUNS):
                big_registry.edit(registry, seed=i)
                publish(reestr, registry)
                line, packs = s.start()
                edits.append(line)
                s.stop()
            print(f"restart after a one-event edit, {total} versions: "
                  f"{fmt(edits)} (this reestr has no reload on SIGHUP)")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    try:
        main()
    finally:
        for s in Serve.running:
            if s.proc and s.proc.poll() is None:
                s.proc.kill()
