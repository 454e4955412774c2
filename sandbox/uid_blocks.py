"""Host-wide uid blocks for sandbox workers.

Each pool holds a block of 64 uids under an `flock` for as long as it lives, so two pools alive at
the same time (either backend, in one process or in several) never hand a job the same uid. A
shared uid would mean a shared per-uid process limit (one pool's fork bomb starving the other's
jobs) and, for the local backend, a sweep by uid that kills the other pool's jobs. Deriving the
block from the pid and the pool object collided: two docker pools of one process 1 time in 64, and
pools of processes whose pids were 100,000 apart. The kernel drops a lock with its holder, so a
crashed pool frees its block.
"""
from __future__ import annotations

import fcntl
import itertools
import os
import tempfile
from pathlib import Path

from sandbox.pool import SandboxUnavailable

BLOCK_SIZE = 64
BLOCKS = 4096  # per backend: 262,144 uids, ranges far apart (1.5e9 local, 1.7e9 docker)
_claims = itertools.count()


class UidBlock:
    """`base` .. `base + 63`, this pool's until `release()` (or the process's exit)."""

    def __init__(self, base: int, fd: int) -> None:
        self.base, self._fd = base, fd

    def release(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)


def lock_dir() -> Path:
    path = Path(tempfile.gettempdir(), "cfcode-uid-blocks")
    try:
        path.mkdir(mode=0o1777)
        os.chmod(path, 0o1777)  # every user that runs a sandbox locks here (mkdir's mode passes the umask)
    except FileExistsError:
        pass
    return path


def claim_uid_block(first_uid: int) -> UidBlock:
    """The first free block of the range that starts at `first_uid`, searched from a point spread by
    pid, so that concurrent claims rarely contend for one lock file."""
    where = lock_dir()
    start = (os.getpid() * 31 + next(_claims)) % BLOCKS
    for step in range(BLOCKS):
        block = (start + step) % BLOCKS
        fd = os.open(where / f"{first_uid}-{block}", os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o444)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # per open file: a second claim here fails too
        except BlockingIOError:
            os.close(fd)
            continue
        return UidBlock(first_uid + block * BLOCK_SIZE, fd)
    raise SandboxUnavailable(f"all {BLOCKS} sandbox uid blocks from {first_uid} are held by live pools")
