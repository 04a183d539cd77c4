"""The terminal chat pays nothing for `chinwag serve`: neither the plain chat
nor a one-shot question imports Starlette, uvicorn or chinwag.web (the
launch -> `You:` benchmark stays as it was)."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pexpect

from tests.cli_helpers import CHINWAG, anthropic_env, finish
from tests.fakes.server import Reply, ScriptedServer

SERVER_MODULES = ("starlette", "uvicorn", "sse_starlette", "chinwag.web")


def _imported(importtime: str) -> set[str]:
    names = set()
    for line in importtime.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    return names


def _server_modules(names: set[str]) -> list[str]:
    return sorted(n for n in names if n.split(".")[0] in SERVER_MODULES or n.startswith("chinwag.web"))


def test_the_chat_imports_nothing_of_the_web_server(tmp_path: Path) -> None:
    with ScriptedServer() as server:
        server.enqueue(Reply(chunks=["Hi there."]))
        env = anthropic_env(tmp_path, server.base_url)
        child = pexpect.spawn(sys.executable, ["-X", "importtime", CHINWAG], env=env, encoding="utf-8",
                              timeout=30, dimensions=(24, 100))
        log = io.StringIO()
        child.logfile_read = log
        child.expect("You: ")
        child.sendline("hello")
        child.expect("Hi there.")
        child.expect("You: ")
        child.sendline("quit")
        child.expect(pexpect.EOF)
        assert finish(child) == 0
    names = _imported(log.getvalue())
    assert "chinwag.cli.repl" in names  # the log is the chat's
    assert _server_modules(names) == []


def test_a_one_shot_question_imports_nothing_of_the_web_server(tmp_path: Path) -> None:
    with ScriptedServer() as server:
        server.enqueue(Reply(chunks=["Answer."]))
        done = subprocess.run([sys.executable, "-X", "importtime", CHINWAG, "question"],
                              env=anthropic_env(tmp_path, server.base_url), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "Answer." in done.stdout
    assert _server_modules(_imported(done.stderr)) == []
