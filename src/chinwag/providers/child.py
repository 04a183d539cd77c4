"""The parent's end of the local model's process (`runner.py`): start it, talk
to it over its pipes, and say in one line why it died.

Reading is done on the raw file descriptor into our own buffer, so a Ctrl-C
that interrupts a read loses nothing: the next read carries on where this one
stopped, and the lines of a cancelled request are skipped by their id.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import weakref
from collections import deque
from typing import IO, Any

from chinwag.errors import LocalModelError

PORTABLE_CMAKE_ARGS = ("-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON "
                       "-DGGML_BMI2=ON -DLLAVA_BUILD=OFF")
REBUILD_COMMAND = f'CMAKE_ARGS="{PORTABLE_CMAKE_ARGS}" pip install --force-reinstall --no-cache-dir llama-cpp-python'
_PYTHON_ERROR = re.compile(r"^[A-Za-z_.]*(Error|Exception): ")  # a traceback's last line
CRASH_HINT = "a crash in llama.cpp; send the message again, or try another model"
SIGNALS: dict[int, tuple[str, str]] = {
    signal.SIGILL: ("illegal instruction",
                    f"this llama.cpp build uses CPU instructions this machine lacks; rebuild it: {REBUILD_COMMAND}"),
    signal.SIGKILL: ("killed", "it may have run out of memory; send the message again, or use a smaller model"),
    signal.SIGSEGV: ("segmentation fault", CRASH_HINT),
    signal.SIGABRT: ("aborted", CRASH_HINT),
    signal.SIGBUS: ("bus error", CRASH_HINT),
    signal.SIGFPE: ("arithmetic error", CRASH_HINT),
}


def explain_exit(returncode: int, last_error_line: str = "") -> str:
    """One line for the user: which signal ended the model, and what to do."""
    detail = f" ({last_error_line})" if last_error_line else ""
    if returncode < 0:
        number = -returncode
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        what, hint = SIGNALS.get(number, ("", CRASH_HINT))
        return f"the local model crashed ({name}{', ' + what if what else ''}){detail}: {hint}"
    return f"the local model stopped unexpectedly (exit code {returncode}){detail}: send the message again"


class Spawner:
    """Starts processes from one long-lived thread.

    On Linux the runner asks for SIGKILL when its parent dies
    (PR_SET_PDEATHSIG), and "parent" there means the thread that forked it:
    the REPL loads the model from a warm-up thread that ends a moment later,
    which would take the freshly loaded model with it."""

    def __init__(self) -> None:
        self._jobs: queue.Queue[tuple[list[str], dict[str, Any], list[Any], threading.Event] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def popen(self, argv: list[str], **options: Any) -> subprocess.Popen[bytes]:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="chinwag-spawner", daemon=True)
                self._thread.start()
        result: list[Any] = []
        done = threading.Event()
        self._jobs.put((argv, options, result, done))
        done.wait()
        if isinstance(result[0], BaseException):
            raise result[0]
        process: subprocess.Popen[bytes] = result[0]
        return process

    def stop(self) -> None:
        """End the thread (once the processes it started have ended: they go with it)."""
        with self._lock:
            if self._thread is not None:
                self._jobs.put(None)
                self._thread = None

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            argv, options, result, done = job
            try:
                result.append(subprocess.Popen(argv, **options))
            except BaseException as exc:  # handed to the caller, who raises it
                result.append(exc)
            done.set()


class RunnerProcess:
    """One runner: the model loading or loaded in a child process.

    Every method that talks to it raises LocalModelError, with the reason it
    died, once it has gone; `alive()` is then False and the provider starts
    another."""

    def __init__(self, argv: list[str], spawner: Spawner) -> None:
        import tempfile

        # llama.cpp's own chatter and a failed assertion's message go to a file, never the terminal.
        self._log: IO[bytes] = tempfile.TemporaryFile(prefix="chinwag-local-")
        try:
            self.process = spawner.popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log,
                                         start_new_session=True, bufsize=0)
        except OSError as exc:
            self._log.close()
            raise LocalModelError(f"could not start the local model: {exc}") from exc
        assert self.process.stdin is not None and self.process.stdout is not None
        self._in, self._out = self.process.stdin.fileno(), self.process.stdout.fileno()
        self._buffer = b""
        self._lines: deque[bytes] = deque()
        self._last_id = 0
        self._sending = threading.Lock()
        self.window: int | None = None  # tokens the model takes, once loaded
        self.broken = False  # a write was cut short: the pipe is out of step
        self._death: LocalModelError | None = None
        self._finalizer = weakref.finalize(self, _end, self.process, self._log)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self._death is None and not self.broken and self.process.poll() is None

    def wait_ready(self) -> int:
        """Wait for the model to load; the tokens it takes."""
        message = self.receive()
        if message.get("t") == "error":
            self.close()
            raise LocalModelError(str(message.get("message")))
        self.window = int(message["window"])
        return self.window

    def request(self, op: str, **fields: Any) -> int:
        """Send a request; its id."""
        self._last_id += 1
        self.send({"op": op, "id": self._last_id, **fields})
        return self._last_id

    def cancel(self, rid: int) -> None:
        """Ask the runner to stop request `rid` between two tokens; never raises.
        What it sent for `rid` meanwhile is skipped by the next `receive_for`."""
        if self.alive():
            try:
                self.send({"op": "cancel", "id": rid})
            except LocalModelError:
                pass

    def send(self, message: dict[str, Any]) -> None:
        """One line to the runner; a cancel may come from another thread, so lines never interleave."""
        data = (json.dumps(message) + "\n").encode("ascii")
        with self._sending:
            self.broken = True  # until the whole line is written
            try:
                while data:
                    data = data[os.write(self._in, data):]
            except OSError:  # EPIPE: it died
                raise self.died() from None
            self.broken = False

    def receive_for(self, rid: int) -> dict[str, Any]:
        """The next message about request `rid`; messages about earlier ones are dropped."""
        while True:
            message = self.receive()
            if message.get("id") == rid:
                return message

    def receive(self) -> dict[str, Any]:
        while True:
            while not self._lines:
                chunk = os.read(self._out, 65536) if self._death is None else b""
                if not chunk:
                    raise self.died()
                *lines, self._buffer = (self._buffer + chunk).split(b"\n")
                self._lines.extend(lines)
            try:
                message: dict[str, Any] = json.loads(self._lines.popleft())
                return message
            except ValueError:
                continue  # a line torn by an interrupted read of a cancelled reply

    def count(self, text: str) -> int:
        return int(self.receive_for(self.request("count", text=text))["n"])

    def died(self) -> LocalModelError:
        """The error that says why it ended (waiting for it to end, briefly)."""
        if self._death is None:
            try:
                returncode = self.process.wait(timeout=2)
            except subprocess.TimeoutExpired:  # its output closed but it lives on: end it
                self.process.kill()
                returncode = self.process.wait()
            self._death = LocalModelError(explain_exit(returncode, self._last_error_line()))
        return self._death

    def _last_error_line(self) -> str:
        """What an assertion or a Python error printed last, if anything."""
        try:
            self._log.seek(max(self._log.seek(0, os.SEEK_END) - 4096, 0))
            tail = self._log.read().decode("utf-8", "replace")
        except (OSError, ValueError):
            return ""
        wanted = [line.strip() for line in tail.splitlines() if "GGML_ASSERT" in line or _PYTHON_ERROR.match(line)]
        return (wanted or [""])[-1][:200]

    def close(self) -> None:
        """End the runner: EOF on its stdin ends it at once; a kill if it lingers."""
        self._finalizer()


def _end(process: subprocess.Popen[bytes], log: IO[bytes]) -> None:
    for pipe in (process.stdin, process.stdout):
        if pipe is not None:
            pipe.close()
    try:
        process.wait(timeout=1)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    log.close()


def runner_argv(path: str, n_ctx: int, threads: int) -> list[str]:
    # -P: the user's working directory stays off the runner's import path.
    return [sys.executable, "-P", "-m", "chinwag.providers.runner", path, str(n_ctx), str(threads), str(os.getpid())]
