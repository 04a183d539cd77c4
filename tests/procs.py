"""Reading processes from /proc, for tests (and benchmarks) that check what chinwag left running."""

from __future__ import annotations

import os
import time
from pathlib import Path


def state(pid: int) -> str | None:
    """The process's state letter (R, S, Z, ...), or None once it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return None


def gone(pid: int, within: float = 0.0) -> bool:
    """Whether the process has ended, waiting up to `within` seconds for it. A
    zombie counts as ended: an orphan waits for an init that reaps, which a
    container may not have."""
    deadline = time.monotonic() + within
    while True:
        if state(pid) in (None, "Z", "X"):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes in process group `pgid`."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                letter, _ppid, group = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:3]
            except (FileNotFoundError, ProcessLookupError):
                continue
            if int(group) == pgid and letter not in ("Z", "X"):
                members.append(int(entry.name))
    return members


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
