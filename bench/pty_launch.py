"""Start-up as the start-up benchmarks time it: a program launched on a bare
pseudo-terminal until its prompt has been read, contenders alternated run by run.

The pty is the kernel's and nothing else: os.openpty, the child started by
subprocess.Popen on the pty's far end (a session of its own, the pty its
controlling terminal), the near end read with select+os.read until the prompt
text appears. The clock runs from just before Popen to the read that completes
the prompt. pexpect's own fork and pty set-up would sit inside every figure.

    def setup(name: str, home: str) -> tuple[list[str], dict[str, str]]:
        return [run.CHINWAG], run.clean_env(home, ANTHROPIC_API_KEY="test", ...)

    times = time_launches(["A", "B"], reps, setup)   # name -> seconds, one per timed launch
"""

from __future__ import annotations

import fcntl
import os
import select
import shutil
import signal
import struct
import subprocess
import tempfile
import termios
import time
from collections.abc import Callable

import run as common

Setup = Callable[[str, str], tuple[list[str], dict[str, str]]]


def launch_to_prompt(argv: list[str], env: dict[str, str], prompt: bytes, cwd: str,
                     timeout: float = 60, size: tuple[int, int] = (24, 200)) -> float:
    """Seconds from starting `argv` on a fresh pty to `prompt` having been read from it."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))
    seen = b""
    start = time.monotonic()
    child = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd,
                             start_new_session=True)
    try:
        os.close(slave)
        deadline = start + timeout
        while prompt not in seen:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{argv[0]}: no {prompt!r} within {timeout} s; read {seen[-300:]!r}")
            ready, _, _ = select.select([master], [], [], left)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the child closed the pty
                    chunk = b""
                if not chunk:
                    raise RuntimeError(f"{argv[0]} ended before {prompt!r}; read {seen[-300:]!r}")
                seen += chunk
        return time.monotonic() - start
    finally:
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        child.wait()
        os.close(master)


def time_launches(names: list[str], reps: int, setup: Setup, prompt: bytes = b"You: ") -> dict[str, list[float]]:
    """Seconds to `prompt` for each contender in `names`: a first round untimed (it fills
    the bytecode cache, run.PYCACHE), then `reps` rounds alternated (run.alternate).
    `setup(name, home)` gives one launch's argv and environment; `home` is a fresh,
    empty folder, removed after. Every launch runs in one fresh working folder (no .env)."""
    common.sigint_for_children()
    cwd = tempfile.mkdtemp(prefix="chinwag-bench-cwd-")

    def once(name: str) -> float:
        home = tempfile.mkdtemp(prefix="chinwag-bench-home-")
        try:
            argv, env = setup(name, home)
            return launch_to_prompt(argv, env, prompt, cwd)
        finally:
            shutil.rmtree(home, ignore_errors=True)

    try:
        return common.alternated(names, reps, once)
    finally:
        shutil.rmtree(cwd, ignore_errors=True)
