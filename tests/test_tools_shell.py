"""The shell tool: exit status and output, the output cap, the timeout, and
Ctrl-C, which must stop the command's whole process group at once and reach
the caller as KeyboardInterrupt."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from chinwag.records import ToolCall
from chinwag.tools import Toolbox, ToolOutput
from tests.procs import gone, group_members


def shell(tmp_path: Path, command: str, max_output: int = 32_768, timeout: float = 30.0,
          args: dict[str, object] | None = None) -> ToolOutput:
    box = Toolbox(["shell"], {}, tmp_path, max_output=max_output, environ=dict(os.environ), shell_timeout=timeout)
    return box.run(ToolCall("c1", "shell", {"command": command, **(args or {})}))






def test_shell_always_asks(tmp_path: Path) -> None:
    box = Toolbox(["shell"], {}, tmp_path, environ={})
    verdict = box.verdict(ToolCall("c1", "shell", {"command": "ls"}))
    assert verdict.ask and verdict.reason == "runs a command"
    allowed = Toolbox(["shell"], {}, tmp_path, environ={}, allow=["shell"])
    assert allowed.verdict(ToolCall("c1", "shell", {"command": "ls"})).reason == "allowed by config"


def test_output_exit_status_and_working_directory(tmp_path: Path) -> None:
    (tmp_path / "marker.txt").write_text("x")
    out = shell(tmp_path, "ls; echo oops >&2")
    assert out.status == "ok"
    assert out.content == "marker.txt\noops\n"
    assert out.summary == "exit 0 · 2 lines"
    failed = shell(tmp_path, "echo half; exit 3")
    assert failed.status == "error"
    assert failed.content == "half\n\n[exit 3]"
    assert failed.summary == "exit 3 · 1 line"


def test_the_summary_is_one_safe_line(tmp_path: Path) -> None:
    out = shell(tmp_path, "printf 'x'; exit 0")
    assert out.summary == "exit 0 · 1 line"
    assert "\x1b" not in shell(tmp_path, r"printf '\033]0;title\007'").summary


def test_output_is_capped_with_a_note(tmp_path: Path) -> None:
    out = shell(tmp_path, "head -c 100000 /dev/zero | tr '\\0' a", max_output=1000)
    assert out.content == "a" * 1000 + "\n[… 99,000 more bytes cut]"


def test_a_command_past_its_timeout_is_killed(tmp_path: Path) -> None:
    start = time.monotonic()
    out = shell(tmp_path, "echo started; sleep 30", timeout=0.5)
    assert time.monotonic() - start < 2.0
    assert out.status == "error"
    assert out.summary == "timed out after 0.5 s · 1 line"
    assert out.content.startswith("started\n") and "timeout" in out.content


def test_the_model_may_ask_for_a_shorter_timeout(tmp_path: Path) -> None:
    out = shell(tmp_path, "sleep 30", timeout=30, args={"timeout": 0.3})
    assert out.summary.startswith("timed out after 0.3 s")


def test_ctrl_c_kills_the_whole_process_group_and_propagates(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    # The child (sh) starts a grandchild (sleep) in the background, records both pids, then waits.
    command = f"sleep 60 & echo $$ $! > {pids}; wait"
    main = threading.main_thread().ident
    assert main is not None
    sent: list[float] = []

    def press_ctrl_c() -> None:
        deadline = time.monotonic() + 10
        while not (pids.exists() and pids.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)
        sent.append(time.monotonic())
        signal.pthread_kill(main, signal.SIGINT)

    threading.Thread(target=press_ctrl_c).start()
    with pytest.raises(KeyboardInterrupt):
        shell(tmp_path, command)
    elapsed = time.monotonic() - sent[0]
    assert elapsed < 0.2, f"KeyboardInterrupt took {elapsed:.3f} s"
    child, grandchild = (int(p) for p in pids.read_text().split())
    deadline = time.monotonic() + 1
    while not (gone(child) and gone(grandchild)) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert gone(child) and gone(grandchild)
    assert group_members(child) == []  # the child led its own group: nothing of it is left


def test_ctrl_c_also_ends_a_grandchild_that_ignores_sigterm(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    command = f"sh -c 'trap \"\" TERM; sleep 60' & echo $! > {pids}; wait"
    main = threading.main_thread().ident
    assert main is not None

    def press_ctrl_c() -> None:
        deadline = time.monotonic() + 10
        while not (pids.exists() and pids.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)
        signal.pthread_kill(main, signal.SIGINT)

    threading.Thread(target=press_ctrl_c).start()
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        shell(tmp_path, command)
    assert time.monotonic() - start < 5
    grandchild = int(pids.read_text())
    deadline = time.monotonic() + 1
    while not gone(grandchild) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert gone(grandchild)


def test_a_command_that_cannot_start_is_an_error(tmp_path: Path) -> None:
    box = Toolbox(["shell"], {}, tmp_path / "missing-dir", environ={})
    out = box.run(ToolCall("c1", "shell", {"command": "true"}))
    assert out.status == "error" and "could not run" in out.content
