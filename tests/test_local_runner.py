"""The local model's child process, seen from a real terminal.

The installed `chinwag` runs in a pseudo-terminal with no API key, so it
chats with the bundled SmolLM2 through its runner process. We kill that
process the way the world does (SIGKILL from the OOM killer, SIGSEGV,
SIGILL from a llama.cpp built for another CPU), mid-reply and while it
loads, and check what a person sees: one line naming the signal, the
partial reply still on screen, `You:` again, and the next message answered
by a fresh runner. Ctrl-C stops generation in the runner; the runner never
outlives chinwag, not even `kill -9`.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pexpect
import pyte
import pytest

from tests.cli_helpers import chinwag_env, finish, spawn_chinwag
from tests.procs import cpu_seconds, gone, state

LONG_PROMPT = "Write a long story about a lighthouse keeper and a storm."
SIZE = (60, 200)  # rows, columns: room for a partial reply and the error line unwrapped
SIGNAL_WORDS = {signal.SIGKILL: "SIGKILL, killed", signal.SIGSEGV: "SIGSEGV, segmentation fault",
                signal.SIGILL: "SIGILL, illegal instruction"}


class _Collect:
    def __init__(self) -> None:
        self.chunks: list[str] = []

    def write(self, text: str) -> None:
        self.chunks.append(text)

    def flush(self) -> None:
        pass

    @property
    def text(self) -> str:
        return "".join(self.chunks)


Chat = Callable[..., tuple[pexpect.spawn, _Collect]]


@pytest.fixture
def chat(tmp_path: Path) -> Iterator[Chat]:
    """Start `chinwag --max-tokens 60 ARGS...` up to its first `You:`; whatever
    a test leaves running (it failed part-way) is ended afterwards."""
    spawned: list[pexpect.spawn] = []

    def start(*args: str) -> tuple[pexpect.spawn, _Collect]:
        child = spawn_chinwag(["--max-tokens", "60", *args], chinwag_env(tmp_path), timeout=30, size=SIZE)
        spawned.append(child)
        log = _Collect()
        child.logfile_read = log
        child.expect("You: ")
        return child, log

    yield start
    for child in spawned:
        if child.isalive():
            child.close(force=True)


def _screen(raw: str) -> str:
    rows, columns = SIZE
    screen = pyte.HistoryScreen(columns, rows, history=2000)
    pyte.Stream(screen).feed(raw)
    lines = ["".join(ch.data for ch in row.values()).rstrip() for row in screen.history.top]
    return "\n".join(lines + [line.rstrip() for line in screen.display])


def _runners(pid: int) -> list[int]:
    """The runner processes among chinwag's children (any thread may have forked them)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            children = (task / "children").read_text().split()
        except FileNotFoundError:
            continue
        for child in map(int, children):
            try:
                cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            except FileNotFoundError:
                continue
            if b"chinwag.providers.runner" in cmdline and state(child) != "Z":
                found.append(child)
    return found


def _runner(pid: int, within: float = 10) -> int:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        runners = _runners(pid)
        if runners:
            assert len(runners) == 1, runners
            return runners[0]
        time.sleep(0.01)
    raise AssertionError(f"no runner process under chinwag ({pid}) after {within} s")








def _error_line(raw: str, words: str) -> str:
    """The one line of output that names `words` (there must be exactly one)."""
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", raw)
    lines = [line for line in re.split(r"[\r\n]+", plain) if words in line]
    assert len(lines) == 1, lines
    assert "chinwag: " in lines[0], lines[0]
    return lines[0][lines[0].index("chinwag: "):]


def _reply_starts(child: pexpect.spawn) -> None:
    """Wait for the reply's first word (the spinner before it redraws only the label)."""
    child.expect("Assistant: ")
    while True:
        child.expect(r"[A-Za-z]{3,}")
        if child.after != "Assistant":
            return


def _answered(child: pexpect.spawn, message: str) -> None:
    child.sendline(message)
    _reply_starts(child)
    child.expect(r"first token · \d+ tok")  # the stats line: the reply ended normally
    child.expect("You: ")


def _quit(child: pexpect.spawn) -> None:
    """At a `You:` prompt already seen: leave, cleanly."""
    child.sendline("quit")
    child.expect("Goodbye!")
    assert finish(child) == 0


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGSEGV, signal.SIGILL], ids=lambda s: s.name)
def test_a_runner_killed_mid_reply_is_one_line_and_the_chat_goes_on(chat: Chat, sig: signal.Signals) -> None:
    child, log = chat()
    child.sendline(LONG_PROMPT)
    _reply_starts(child)
    runner = _runner(child.pid)
    time.sleep(0.2)  # a few more tokens
    os.kill(runner, sig)
    child.expect(r"crashed \(" + SIGNAL_WORDS[sig].replace(",", r"\,"))
    child.expect("You: ")
    raw = log.text
    line = _error_line(raw, SIGNAL_WORDS[sig])
    assert line.startswith("chinwag: ") and "the local model crashed" in line
    if sig == signal.SIGILL:
        assert "pip install --force-reinstall --no-cache-dir llama-cpp-python" in line
    if sig == signal.SIGKILL:
        assert "out of memory" in line
    assert "Traceback" not in raw
    # The partial reply is still on screen, between its label and the error.
    screen = _screen(raw)
    error_at = screen.index(SIGNAL_WORDS[sig])
    partial = screen[screen.rindex("Assistant:", 0, error_at) + len("Assistant:"):error_at]
    assert len(re.findall(r"[A-Za-z]{2,}", partial)) >= 3, screen
    _answered(child, "Say yes.")
    fresh = _runner(child.pid)
    assert fresh != runner
    _quit(child)


def test_a_runner_killed_while_loading_is_one_line_and_the_next_message_is_answered(chat: Chat) -> None:
    child, log = chat()
    runner = _runner(child.pid)  # started, behind the prompt, the moment the prompt was drawn
    os.kill(runner, signal.SIGKILL)
    child.sendline("What is the capital of France?")
    child.expect(r"crashed \(SIGKILL")
    child.expect("You: ")
    _error_line(log.text, "SIGKILL, killed")
    _answered(child, "What is the capital of France?")
    assert _runner(child.pid) != runner
    _quit(child)


def test_a_gguf_that_llama_cpp_cannot_load_is_one_line_and_the_chat_goes_on(chat: Chat, tmp_path: Path) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + bytes(range(256)) * 64)
    child, log = chat("-m", f"local:{bad}")
    for attempt in range(2):
        child.sendline("hello")
        child.expect("could not load broken.gguf: ")
        child.expect("You: ")
    assert "Traceback" not in log.text
    line = _error_line(log.text.split("You: hello")[1], "could not load broken.gguf")
    assert line.startswith("chinwag: ")
    _quit(child)


def test_ctrl_c_mid_reply_returns_at_once_and_the_runner_stops_generating(chat: Chat) -> None:
    child, _ = chat("--max-tokens", "400")
    child.sendline(LONG_PROMPT)
    _reply_starts(child)
    runner = _runner(child.pid)
    time.sleep(0.2)
    pressed = time.monotonic()
    child.sendintr()
    child.expect("You: ")
    # A hang guard, not a timing: 400 tokens would take seconds more; the latency itself
    # (about 3 ms) is bench/bench_interrupt.py's to measure, where load cannot fail a test.
    assert time.monotonic() - pressed < 2
    time.sleep(0.1)  # it stops between two tokens
    before = cpu_seconds(runner)
    time.sleep(0.5)
    assert cpu_seconds(runner) - before < 0.1  # idle: not writing the rest of the 400 tokens
    child.sendline("Say yes.")
    _reply_starts(child)  # the next reply comes from the same runner, reused
    assert _runner(child.pid) == runner
    time.sleep(0.3)
    child.sendintr()
    child.expect("You: ")
    _quit(child)


def test_the_runner_ends_with_chinwag_even_after_kill_9(chat: Chat) -> None:
    child, _ = chat()
    _answered(child, "Say yes.")  # loaded and used (spawned from a thread that has long ended)
    runner = _runner(child.pid)
    os.kill(child.pid, signal.SIGKILL)
    assert gone(runner, within=2)
    child.close(force=True)


def test_the_runner_ends_when_the_user_quits(chat: Chat) -> None:
    child, _ = chat()
    _answered(child, "Say yes.")
    runner = _runner(child.pid)
    _quit(child)
    assert gone(runner, within=1)
