"""The `shell` tool: one command under /bin/sh in the working directory.

The command runs in its own process group (its own session), with no stdin,
stdout and stderr merged and read by a thread that keeps the first
`max_output` bytes and counts the rest. The main thread waits in short slices,
so a KeyboardInterrupt (Ctrl-C) lands within one slice: the whole group gets
SIGTERM, then SIGKILL shortly after, and the interrupt goes on up. A timeout
ends the group the same way. Background processes the command leaves behind
in its group are ended with it when it exits.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from chinwag.tools.output import ToolOutput, cap_bytes, count_lines, cut_summary, one_line, plural

SLICE = 0.02  # seconds per wait: how soon a Ctrl-C or a timeout is noticed
TERM_GRACE = 0.2  # seconds between SIGTERM and SIGKILL
DRAIN_WAIT = 0.5  # seconds to finish reading output after the command exits
MAX_TIMEOUT = 600.0

SHELL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "command": {"type": "string", "description": "A /bin/sh command line, run in the working directory "
                                                     "with no input; stdout and stderr come back together."},
        "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_TIMEOUT,
                    "description": "Seconds before the command is killed; default 30."},
    },
    "required": ["command"],
    "additionalProperties": False,
}


class _Capture(threading.Thread):
    """Reads a pipe to its end, keeping the first `limit` bytes and counting the rest."""

    def __init__(self, pipe: IO[bytes], limit: int) -> None:
        super().__init__(daemon=True, name="chinwag-shell-output")
        self.pipe, self.limit = pipe, limit
        self.kept = bytearray()
        self.cut = 0

    def run(self) -> None:
        try:
            while chunk := os.read(self.pipe.fileno(), 65536):
                room = self.limit - len(self.kept)
                self.kept += chunk[:room]
                self.cut += max(0, len(chunk) - room)
        except (OSError, ValueError):
            pass
        finally:
            self.pipe.close()


def run_shell(cwd: Path, args: Mapping[str, Any], max_output: int, default_timeout: float,
              environ: Mapping[str, str]) -> ToolOutput:
    timeout = min(float(args.get("timeout") or default_timeout), MAX_TIMEOUT)
    try:
        proc = subprocess.Popen(["/bin/sh", "-c", args["command"]], cwd=cwd, env=dict(environ),
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)
    except OSError as exc:
        return ToolOutput.error(f"could not run the command: {exc.strerror or exc}")
    assert proc.stdout is not None
    capture = _Capture(proc.stdout, max_output)
    capture.start()
    timed_out = False
    try:
        deadline = time.monotonic() + timeout
        while proc.poll() is None:
            if time.monotonic() >= deadline:
                timed_out = True
                break
            _wait(proc, SLICE)
        capture.join(DRAIN_WAIT if not timed_out else 0)
    finally:
        # Ctrl-C (KeyboardInterrupt), a timeout, or leftovers in the group: end them all.
        end_group(proc)
    capture.join(TERM_GRACE)
    output = cap_bytes(bytes(capture.kept), capture.cut)
    lines = plural(count_lines(output), "line")
    if capture.cut:  # the line says so, as the model is told (cap_bytes' note)
        lines += f" · {cut_summary(len(capture.kept), len(capture.kept) + capture.cut)}"
    if timed_out:
        return ToolOutput(f"{output}\n[killed: the command ran past its {timeout:g} s timeout]", "error",
                          one_line(f"timed out after {timeout:g} s · {lines}"))
    code = proc.returncode
    shown = f"exit {code}" if code >= 0 else f"killed by {_signal_name(-code)}"
    content = output if code == 0 else f"{output}\n[{shown}]"
    return ToolOutput(content, "ok" if code == 0 else "error", one_line(f"{shown} · {lines}"))


def _wait(proc: subprocess.Popen[bytes], seconds: float) -> None:
    try:
        proc.wait(seconds)
    except subprocess.TimeoutExpired:
        pass


def end_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the command's process group, then SIGKILL it shortly after; reap the leader."""
    pgid = proc.pid  # start_new_session: the leader's pid is the group's id
    if not _signal_group(pgid, signal.SIGTERM):
        proc.poll()
        return
    deadline = time.monotonic() + TERM_GRACE
    while proc.poll() is None and time.monotonic() < deadline:
        _wait(proc, SLICE / 2)
    _signal_group(pgid, signal.SIGKILL)
    if proc.poll() is None:
        _wait(proc, TERM_GRACE)


def _signal_group(pgid: int, sig: signal.Signals) -> bool:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
