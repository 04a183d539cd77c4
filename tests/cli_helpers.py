"""Running the real, installed `chinwag` command, as a person or a script would.

`spawn_chinwag` starts it in a pseudo-terminal (pexpect); `run_chinwag` runs it
with pipes. Both get a clean environment: no API keys from the developer's
shell, a private CHINWAG_HOME, and prompt_toolkit told not to ask for the
cursor position (pexpect answers no such query).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pexpect

from tests.procs import wait_until_reading_keys

CHINWAG = str(Path(sys.executable).with_name("chinwag"))
PROVIDER_VARIABLES = ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "OPENAI_API_KEY",
                      "OPENAI_BASE_URL", "CHINWAG_MODEL", "NO_COLOR")


def chinwag_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in PROVIDER_VARIABLES}
    env.update({"CHINWAG_HOME": str(home), "PROMPT_TOOLKIT_NO_CPR": "1", "TERM": "xterm-256color",
                # A crash (SIGSEGV, SIGABRT) prints every thread's Python stack into what the test shows.
                "PYTHONFAULTHANDLER": "1"})
    env.update(extra)
    return env


def anthropic_env(home: Path, base_url: str, **extra: str) -> dict[str, str]:
    return chinwag_env(home, **{"ANTHROPIC_API_KEY": "test-key", "ANTHROPIC_BASE_URL": base_url, **extra})


def spawn_chinwag(args: list[str], env: Mapping[str, str], cwd: Path | None = None,
                  timeout: float = 20, size: tuple[int, int] = (24, 80)) -> pexpect.spawn:
    return pexpect.spawn(CHINWAG, args, env=dict(env), cwd=str(cwd) if cwd else None,
                         encoding="utf-8", timeout=timeout, dimensions=size)


def run_chinwag(args: list[str], env: Mapping[str, str], input: str | bytes | None = None,
                cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    data = input.encode() if isinstance(input, str) else input
    proc = subprocess.run([CHINWAG, *args], env=dict(env), input=data, cwd=cwd,
                          capture_output=True, timeout=timeout,
                          stdin=None if data is not None else subprocess.DEVNULL)
    return subprocess.CompletedProcess(proc.args, proc.returncode,
                                       proc.stdout.decode("utf-8", "replace"),
                                       proc.stderr.decode("utf-8", "replace"))


def finish(child: pexpect.spawn) -> int:
    """Wait for the program to end; its exit code (128+N for a signal)."""
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus if child.exitstatus is not None else 128 + (child.signalstatus or 0)


def ctrl_c_twice_at_the_prompt(child: pexpect.spawn) -> None:
    """At a `You:` prompt: Ctrl-C shows the hint, a second one leaves with 130.

    Each press waits until chinwag waits for keys: a SIGINT that lands between
    readline drawing the prompt and it waiting for keys is only seen at the
    next key press (CPython's readline loop)."""
    wait_until_reading_keys(child.pid)
    child.sendintr()
    child.expect("Ctrl-C again")
    child.expect("You: ")
    wait_until_reading_keys(child.pid)
    child.sendintr()
    child.expect("Goodbye!")
    assert finish(child) == 130


def start_chat(env: Mapping[str, str], args: list[str] | None = None) -> pexpect.spawn:
    """The chat, up to its first `You:` prompt."""
    child = spawn_chinwag(args or [], env)
    child.expect("You: ")
    return child


def leave_chat(child: pexpect.spawn) -> None:
    """Wait for the prompt, type quit, and require a clean exit."""
    child.expect("You: ")
    child.sendline("quit")
    assert finish(child) == 0


def chat_in(env: Mapping[str, str], cwd: Path, *args: str) -> pexpect.spawn:
    """The chat started in `cwd` with `args`, up to its first `You:` prompt; each
    expect waits up to 30 s (tools and MCP servers start with the chat)."""
    child = spawn_chinwag(list(args), env, cwd=cwd, timeout=30)
    child.expect("You: ")
    return child


def say(child: pexpect.spawn, text: str) -> None:
    """Type `text` and Enter once chinwag waits for keys (a line typed before
    that is read all the same, but a Ctrl-C would not be)."""
    wait_until_reading_keys(child.pid)
    child.sendline(text)


def imported_modules(import_log: str) -> set[str]:
    """The modules named in Python's import log (PYTHONPROFILEIMPORTTIME=1, on stderr)."""
    return {line.split("|")[-1].strip() for line in import_log.splitlines() if "|" in line}


def imported_before_prompt(env: Mapping[str, str]) -> set[str]:
    """The modules the chat imported before it drew `You:` (its import log, which the
    pty shows); it quits after."""
    child = spawn_chinwag([], {**env, "PYTHONPROFILEIMPORTTIME": "1"})
    child.expect("You: ")
    before_prompt = child.before
    child.sendline("quit")
    finish(child)
    return imported_modules(before_prompt)
