"""A memory and process cgroup per local worker (root only), so a job's processes together stay
within the same memory and pids limits as a pool container's, instead of pressing on the host.

Why: rlimits are per process; a program that forks and allocates in every child could otherwise use
64 x 512 MB of the host. cgroup v1 (memory, pids hierarchies) and v2 (unified) are both handled; where
neither can be used (not root, controllers unavailable) the worker simply runs without one.
"""
from __future__ import annotations

import logging
import os
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

ROOT = Path("/sys/fs/cgroup")


@dataclass
class WorkerCgroup:
    """The cgroup directories of one worker; the worker's whole process tree is moved in at exec."""

    dirs: list[Path] = field(default_factory=list)
    oom_file: str | None = None  # where the worker counts OOM kills of its own cgroup

    @classmethod
    def create(cls, name: str, memory_mb: int, pids: int) -> WorkerCgroup | None:
        if os.geteuid() != 0:
            return None
        group = cls()
        try:
            if (ROOT / "cgroup.controllers").exists():  # v2
                path = ROOT / "cfcode-sandbox" / name
                path.mkdir(parents=True)
                group.dirs.append(path)
                parent = path.parent
                controllers = (ROOT / "cgroup.subtree_control").read_text().split()
                if not {"memory", "pids"} <= set(controllers):
                    raise OSError("memory/pids controllers are not enabled at the cgroup root")
                (parent / "cgroup.subtree_control").write_text("+memory +pids")
                (path / "memory.max").write_text(str(memory_mb << 20))
                (path / "memory.swap.max").write_text("0")
                (path / "pids.max").write_text(str(pids))
                group.oom_file = str(path / "memory.events")
            else:  # v1
                memory = ROOT / "memory" / "cfcode-sandbox" / name
                memory.mkdir(parents=True)
                group.dirs.append(memory)
                (memory / "memory.limit_in_bytes").write_text(str(memory_mb << 20))
                if (memory / "memory.memsw.limit_in_bytes").exists():
                    (memory / "memory.memsw.limit_in_bytes").write_text(str(memory_mb << 20))
                group.oom_file = str(memory / "memory.oom_control")
                pid_dir = ROOT / "pids" / "cfcode-sandbox" / name
                pid_dir.mkdir(parents=True)
                group.dirs.append(pid_dir)
                (pid_dir / "pids.max").write_text(str(pids))
        except OSError as exc:
            log.info("no cgroup for local sandbox worker %s: %s", name, exc)
            group.remove()
            return None
        return group

    def enter_prefix(self) -> list[str]:
        """A command prefix that moves itself into the cgroup(s), then execs the rest of the command."""
        moves = " && ".join(f"echo $$ > {shlex.quote(str(d / 'cgroup.procs'))}" for d in self.dirs)
        return ["/bin/sh", "-c", f'{moves} && exec "$@"', "sh"]

    def remove(self) -> None:
        """Remove the directories (once their processes are gone: kill first)."""
        for d in self.dirs:
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # still busy for a moment after its last process died
                    time.sleep(0.01)
        self.dirs = []
