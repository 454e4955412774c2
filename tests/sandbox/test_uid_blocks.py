"""Pools alive at the same time never share a uid: a shared uid is a shared per-uid process limit (one
pool's fork bomb starves the other's jobs) and, for the local backend, a sweep by uid that kills the
other pool's jobs. Uid blocks used to come from the pid and the pool object: two docker pools of one
process shared a block 1 time in 64 (32 pools at once: almost surely), and so did pools of processes
whose pids were 100,000 apart."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from sandbox import ExecRequest, make_sandbox
from sandbox.uid_blocks import BLOCK_SIZE, claim_uid_block, lock_dir
from tests.sandbox.conftest import BACKENDS

WHO = ExecRequest("import os\ndef f():\n    return os.getuid()\n", "f", [()])


@pytest.mark.parametrize("backend", BACKENDS)
def test_pools_alive_at_once_run_their_jobs_under_uids_of_their_own(backend):
    if backend == "local" and os.geteuid() != 0:
        pytest.fail("the local backend separates uids only as root; run the sandbox tests as root")
    pools = []
    try:
        for _ in range(32):
            pools.append(make_sandbox(backend, size=1))
        uids = [pool.run(WHO)[0].value for pool in pools]
        assert all(isinstance(uid, int) for uid in uids), uids
        assert len({uid // BLOCK_SIZE for uid in uids}) == len(pools), sorted(uids)
    finally:
        for pool in pools:
            pool.close()


def test_a_block_held_by_another_process_is_never_claimed_here():
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent("""
            import sys
            from sandbox.uid_blocks import claim_uid_block
            block = claim_uid_block(1_600_000_000)
            print(block.base, flush=True)
            sys.stdin.read()  # hold the block until the parent is done
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=os.getcwd())
    try:
        held = int(child.stdout.readline())
        blocks = [claim_uid_block(1_600_000_000) for _ in range(64)]
        try:
            assert held not in {b.base for b in blocks}
            assert len({b.base for b in blocks}) == 64
        finally:
            for b in blocks:
                b.release()
    finally:
        child.stdin.close()
        child.wait(timeout=30)
    again = claim_uid_block(1_600_000_000)  # the child has exited: the kernel dropped its lock
    again.release()


def test_a_released_block_can_be_claimed_again_and_the_lock_files_are_shared():
    first = claim_uid_block(1_600_000_000)
    path = lock_dir() / f"1600000000-{(first.base - 1_600_000_000) // BLOCK_SIZE}"
    assert path.exists() and oct(lock_dir().stat().st_mode & 0o7777) == oct(0o1777)
    first.release()
    first.release()  # twice is harmless
    import fcntl

    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released: free for anyone
    finally:
        os.close(fd)
