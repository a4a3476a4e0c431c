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


def test_child_does_not_reuse_the_parents_random_bits():
    # uuid7 draws random bits from a pool; a child that kept the parent's
    # pool would make the parent's next UUIDs (same bits, same millisecond)
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {PACKAGE!r})
        from reestr_runtime import uuid7
        uuid7()  # fills the pool
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.write(w, "".join(uuid7() for _ in range(8)).encode())
            os._exit(0)
        mine = [uuid7()[-12:] for _ in range(8)]
        os.waitpid(pid, 0)
        got = os.read(r, 4096).decode()
        theirs = [got[i + 24:i + 36] for i in range(0, len(got), 36)]
        print(mine, theirs)
        sys.exit(1 if set(mine) & set(theirs) or len(theirs) != 8 else 0)
    """)], capture_output=True, text=True, timeout=20)
    assert proc.returncode == 0, proc.stdout + proc.stderr
