"""Reading processes from /proc, for tests (and benchmarks) that check what chinwag left running."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

# The system calls a program's main thread sits in while it waits for keys (readline:
# pselect6 or select; input() without readline: read), by machine.
_WAITING_FOR_KEYS = {"x86_64": {"0", "7", "23", "270", "271"}, "aarch64": {"63", "72", "73"}}


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


def wait_until_reading_keys(pid: int, within: float = 20.0) -> None:
    """Wait until the process's main thread is blocked waiting for input (its
    /proc/PID/syscall): a key sent then is one a person typed at the prompt.
    (A SIGINT that lands earlier, between readline drawing the prompt and
    waiting for keys, interrupts no wait; chinwag kicks the main thread until
    it is handled, wakeup.py, tested in test_signal_wakeup.py.) Where the calls
    are not known, a person's pause."""
    calls = _WAITING_FOR_KEYS.get(platform.machine())
    if calls is None:
        time.sleep(0.3)
        return
    deadline = time.monotonic() + within
    while True:
        try:
            call = Path(f"/proc/{pid}/syscall").read_text().split()[0]
        except (OSError, IndexError):
            call = ""
        if call in calls:
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"process {pid} never waited for keys (last: {call!r})")
        time.sleep(0.005)
