"""The MCP project's reference servers, installed by the README's test command
(tests/mcp_reference.py), each start through the toolbox and offer their tools;
a read-only call on each one runs and its text comes back."""

from __future__ import annotations

import subprocess
import tomllib
import time
from collections.abc import Callable
from pathlib import Path

from chinwag.records import ToolCall
from chinwag.tools import McpServerConfig, Toolbox, load_mcp_json, mcp_servers_from_config
from tests.mcp_reference import config_toml_tables, everything, filesystem, git_server, time_server, write_mcp_json

UP_WITHIN = 60.0


def wait_for(condition: Callable[[], object], timeout: float = UP_WITHIN) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def up(config: McpServerConfig, cwd: Path) -> Toolbox:
    box = Toolbox([], {config.name: config}, cwd)
    box.start()
    wait_for(lambda: not box.starting())
    assert box.take_notices() == []
    return box


def test_the_four_reference_servers_start_and_answer(tmp_path: Path) -> None:
    (tmp_path / "hello.txt").write_text("hello from the filesystem server\n")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    checks = [
        (everything(), "everything_echo", {"message": "hi there"}, "hi there"),
        (filesystem(tmp_path), "files_read_text_file", {"path": str(tmp_path / "hello.txt")}, "hello from the"),
        (time_server(), "time_get_current_time", {"timezone": "UTC"}, "UTC"),
        (git_server(tmp_path), "git_git_status", {"repo_path": str(tmp_path)}, "hello.txt"),
    ]
    for config, tool, args, expected in checks:
        box = up(config, tmp_path)
        try:
            names = {spec.name for spec in box.specs()}
            assert tool in names, (tool, sorted(names))
            out = box.run(ToolCall("c1", tool, args))
            assert out.status == "ok" and expected in out.content, (tool, out)
        finally:
            box.close()


def test_the_config_writers_round_trip_through_chinwags_loaders(tmp_path: Path) -> None:
    servers = {"everything": everything(), "time": time_server()}
    assert load_mcp_json(write_mcp_json(tmp_path / "mcp.json", servers)) == servers
    table = tomllib.loads(config_toml_tables(servers))["mcp_servers"]
    assert mcp_servers_from_config(table, "config.toml") == servers
