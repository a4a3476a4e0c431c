"""Drives the fault-injection shim (tests/fault/, docs/testing.md) from
Python: the environment that preloads it into a process, a way to start the
fixtures' processes with it, and what it reports having injected.

    env = shim_env(data_dir, log, write="ENOSPC@100-120", sync="EIO%0.01",
                   seed="3")
    with environment(env):
        server = make_server(data=data_dir)     # reestr serve, preloaded
    ...
    server.proc.send_signal(signal.SIGUSR2)     # the power cut
"""

import contextlib
import os
from pathlib import Path

from conftest import REESTR

SHIM = Path(os.environ.get("REESTR_FAULT_LIB", Path(REESTR).parent / "libreestr_fault.so"))


def shim_env(path, log, **faults):
    """The environment that loads the shim for files under path."""
    env = {"LD_PRELOAD": str(SHIM), "REESTR_FAULT_PATH": str(path),
           "REESTR_FAULT_LOG": str(log)}
    # an ASan build wants its runtime first; the shim comes before it
    asan = os.environ.get("ASAN_OPTIONS", "")
    env["ASAN_OPTIONS"] = (asan + ":" if asan else "") + "verify_asan_link_order=0"
    env.update({f"REESTR_FAULT_{k.upper()}": v for k, v in faults.items()})
    return env


@contextlib.contextmanager
def environment(env):
    """Processes started inside get env (the fixtures' Popen inherit it)."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def injected(log):
    """What the shim's log reports, counted by its first word: the faults
    (write, sync, dirsync, create), cut, and exit (a normal exit)."""
    kinds = {}
    for line in Path(log).read_text().splitlines():
        kind = line.split()[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds
