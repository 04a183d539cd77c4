"""The MCP project's reference servers, installed by the README's test command
(tests/mcp_reference.py), each start through the toolbox and offer their tools;
a read-only call on each one runs and its text comes back; and filesystem, time and
git through the installed CLI on both wires, as a new user meets them."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

from chinwag.records import ToolCall
from chinwag.tools import McpServerConfig, Toolbox, load_mcp_json, mcp_servers_from_config
from tests.cli_helpers import run_chinwag
from tests.fakes.server import Reply, ScriptedServer
from tests.local_servers import wait_for
from tests.mcp_reference import config_toml_tables, everything, filesystem, git_server, time_server, write_mcp_json
from tests.wires import calls, env_for

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


@pytest.mark.parametrize("wire", ["anthropic", "openai"])
def test_everyday_use_through_the_cli_reads_run_and_a_write_is_denied_when_piped_and_runs_with_yes(
        wire: str, tmp_path: Path, home: Path, server: ScriptedServer) -> None:
    """The installed `chinwag` with filesystem, time and git in an mcpServers JSON, as the issue
    tried it: the read-only calls run and their results go back; write_file asks, so with no
    terminal it is denied, and --yes runs it."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "hello.txt").write_text("hello from the filesystem server\n")
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    config = write_mcp_json(tmp_path / "mcp.json", {"files": filesystem(work), "time": time_server(),
                                                   "git": git_server(work)})
    env = env_for(wire, home, server)
    server.enqueue(calls(wire, ("c1", "files_read_text_file", {"path": str(work / "hello.txt")}),
                         ("c2", "time_get_current_time", {"timezone": "UTC"}),
                         ("c3", "git_git_status", {"repo_path": str(work)}),
                         ("c4", "files_write_file", {"path": str(work / "new.txt"), "content": "x"})),
                   Reply(chunks=["Done."]))
    out = run_chinwag(["--mcp-config", str(config), "look around"], env, cwd=work)
    assert out.returncode == 0, out.stderr
    sent = results_of(wire, server.requests[1])
    assert "hello from the filesystem server" in sent["c1"] and '"timezone": "UTC"' in sent["c2"]
    assert "hello.txt" in sent["c3"] and "needs a person's approval and nobody was there" in sent["c4"]
    assert not (work / "new.txt").exists()
    server.enqueue(calls(wire, ("c5", "files_write_file", {"path": str(work / "new.txt"), "content": "x"})),
                   Reply(chunks=["Written."]))
    out = run_chinwag(["--mcp-config", str(config), "--yes", "write it"], env, cwd=work)
    assert out.returncode == 0, out.stderr
    assert (work / "new.txt").read_text() == "x"


def results_of(wire: str, request: Any) -> dict[str, str]:
    """Each tool result's text by call id, on either wire."""
    messages = request.json["messages"]
    if wire == "openai":
        return {m["tool_call_id"]: str(m["content"]) for m in messages if m["role"] == "tool"}
    return {b["tool_use_id"]: b["content"] if isinstance(b["content"], str)
            else "".join(p.get("text", "") for p in b["content"])
            for b in messages[-1]["content"] if b.get("type") == "tool_result"}
