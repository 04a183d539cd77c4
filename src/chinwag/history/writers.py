"""Whether the process that began a streaming reply may still be writing it
(store.py marks the reply "interrupted" on open when it cannot be)."""

from __future__ import annotations

import os
from pathlib import Path


def writer_alive(pid: int | None) -> bool:
    """Whether `pid` may still be writing. Our own pid counts as gone: a
    Store is opened once per process, before any reply begins."""
    if pid is None or pid == os.getpid() or os.name != "posix":
        return False
    try:
        os.kill(pid, 0)
    except PermissionError:
        return True
    except OSError:
        return False
    try:  # a killed child that nobody has reaped yet (a zombie) is gone too
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[:1] != ["Z"]
    except OSError:  # no /proc here
        return True
