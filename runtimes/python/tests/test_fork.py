"""fork() while another thread holds the runtime's locks."""

import subprocess
import sys
import textwrap
from pathlib import Path

PACKAGE = str(Path(__file__).resolve().parents[1])


def test_fork_while_another_thread_makes_a_uuid():
    # the uuid7 lock held at fork() must not hang the child's first event
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {PACKAGE!r})
        from reestr_runtime import uuid7
        lock = sys.modules["reestr_runtime.uuid7"]._lock
        lock.acquire()
        pid = os.fork()
        if pid == 0:
            uuid7()
            os._exit(0)
        lock.release()
        _, status = os.waitpid(pid, 0)
        sys.exit(os.waitstatus_to_exitcode(status))
    """)], capture_output=True, text=True, timeout=20)
    assert proc.returncode == 0, proc.stderr
