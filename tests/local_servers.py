"""Servers a test starts on 127.0.0.1: a free port, a test server module run as a
child until it listens, and the polling wait for them (and for anything else that
becomes true in its own time, like a toolbox whose MCP servers are starting)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UP_WITHIN = 60.0  # seconds a server may take to start on a loaded machine


def wait_for(condition: Callable[[], object], timeout: float = UP_WITHIN) -> None:
    """Poll `condition` every 50 ms until it is true; AssertionError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def python_server(module: str, port: int, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m module *args` from the repository root (its output discarded), once
    something listens on `port`; terminated after."""
    proc = subprocess.Popen([sys.executable, "-m", module, *args], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def listening() -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", port)) == 0

    try:
        wait_for(listening)
        yield proc
    finally:
        proc.terminate()
        proc.wait(10)
