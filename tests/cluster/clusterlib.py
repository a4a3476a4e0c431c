"""What the tests of tests/cluster share: the cluster of scripts/cluster as
an object, and running its tools. A tool or service that is missing or does
not start fails the test, naming it."""

import os
import subprocess
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = ROOT / "scripts" / "cluster"
REESTR = Path(os.environ.get("REESTR_BIN", ROOT / "build" / "reestr"))
KAFKA_TOOL = REESTR.parent / "kafka_tool"


def run(*args, timeout=180, check=True, env=None):
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True,
                       timeout=timeout, env=env)
    if check and r.returncode != 0:
        pytest.fail(f"{' '.join(map(str, args))} exited {r.returncode}:\n"
                    f"{r.stdout}\n{r.stderr}")
    return r


class Cluster:
    def __init__(self, state):
        self.state = state
        self.env = dict(os.environ, REESTR_CLUSTER_DIR=str(state),
                        REESTR_CLUSTER_STOP_WAIT="10")
        self.vars = {}

    def cmd(self, *args, check=True, timeout=180):
        return run(CLUSTER, *args, check=check, timeout=timeout, env=self.env)

    def load_env(self):
        for line in (self.state / "cluster.env").read_text().splitlines():
            k, _, v = line.partition("=")
            self.vars[k] = v

    @property
    def brokers(self):
        return self.vars["REESTR_KAFKA_BROKERS"]

    @property
    def collectors(self):
        """The URLs of the cluster's two `reestr serve --sink kafka`."""
        return self.vars["REESTR_COLLECTORS"].split(",")

    def clickhouse(self, sql):
        req = urllib.request.Request(self.vars["REESTR_CLICKHOUSE_URL"] + "/",
                                     data=sql.encode())
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.read().decode()

    def pids(self):
        return {p.stem: int(p.read_text()) for p in self.state.glob("*.pid")}

    def ours(self):
        """Processes still running whose command line names the state dir."""
        found = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ")
                stat = (proc / "stat").read_text()
            except OSError:
                continue
            if str(self.state).encode() in cmdline and stat.rsplit(") ", 1)[-1][0] != "Z":
                found.append(f"{proc.name}: {cmdline.decode(errors='replace')[:120]}")
        return found


def alive(pid):
    """True while pid runs (a zombie waiting for its reaper has ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(") ", 1)[-1][0] != "Z"


def tool(*args, check=True, timeout=120):
    if not KAFKA_TOOL.exists():
        pytest.fail(f"{KAFKA_TOOL} is missing: it is built with librdkafka "
                    "(scripts/install-deps installs librdkafka-dev)")
    return run(KAFKA_TOOL, *args, check=check, timeout=timeout)


def start_cluster(state):
    """scripts/cluster up in its own state folder; fails the test if it
    cannot start. The caller downs it (c.cmd("down"))."""
    import time
    c = Cluster(state)
    start = time.monotonic()
    up = c.cmd("up", check=False, timeout=300)
    c.up_seconds = time.monotonic() - start
    print(f"\ncluster up in {c.up_seconds:.1f}s")
    if up.returncode != 0:
        c.cmd("down", check=False, timeout=120)
        pytest.fail(f"scripts/cluster up failed:\n{up.stdout}\n{up.stderr}")
    c.load_env()
    return c
