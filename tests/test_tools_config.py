"""Configuring MCP servers (the shared mcpServers JSON and config.toml tables),
and what the toolbox says about itself: /tools lines, unknown tools, caps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chinwag.errors import ConfigError
from chinwag.records import ToolCall
from chinwag.tools import BUILTIN_TOOLS, McpServerConfig, Toolbox, load_mcp_json, mcp_servers_from_config
from chinwag.tools.output import cap


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def test_the_shared_mcp_json_format(tmp_path: Path) -> None:
    path = write(tmp_path, {"mcpServers": {
        "files": {"command": "npx", "args": ["-y", "server-files", "/tmp"], "env": {"DEBUG": "1"}},
        "remote": {"type": "http", "url": "https://example.com/mcp"},
    }})
    assert load_mcp_json(path) == {
        "files": McpServerConfig("files", command="npx", args=("-y", "server-files", "/tmp"), env={"DEBUG": "1"}),
        "remote": McpServerConfig("remote", url="https://example.com/mcp"),
    }


@pytest.mark.parametrize(("data", "message"), [
    ("{not json", "is not valid JSON (line 1"),
    ({"servers": {}}, 'has no "mcpServers" object'),
    ([1, 2], 'has no "mcpServers" object'),
    ({"mcpServers": {"x": "npx"}}, "must be a table"),
    ({"mcpServers": {"x": {}}}, "needs either a command (stdio) or a url"),
    ({"mcpServers": {"x": {"command": "a", "url": "http://b"}}}, "needs either a command"),
    ({"mcpServers": {"x": {"command": "a", "args": "b c"}}}, "args must be a list of strings"),
    ({"mcpServers": {"x": {"command": "a", "env": {"K": 1}}}}, "env must map names to string values"),
    ({"mcpServers": {"x": {"url": "ftp://b"}}}, "url must be an http:// or https:// URL"),
    ({"mcpServers": {"x": {"type": "sse", "url": "http://b/sse"}}}, "SSE transport"),
])
def test_bad_mcp_json_is_a_one_line_config_error(tmp_path: Path, data: object, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_mcp_json(write(tmp_path, data))
    assert message in caught.value.message
    assert "\n" not in caught.value.message


def test_a_missing_mcp_json_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read MCP config"):
        load_mcp_json(tmp_path / "nope.json")


def test_config_toml_tables() -> None:
    table = {"git": {"command": "uvx", "args": ["mcp-server-git"]}, "web": {"url": "http://127.0.0.1:9/mcp"}}
    servers = mcp_servers_from_config(table, "config.toml")
    assert servers["git"].command == "uvx" and servers["git"].args == ("mcp-server-git",)
    assert servers["web"].url == "http://127.0.0.1:9/mcp"
    with pytest.raises(ConfigError, match="MCP server 'bad' in config.toml"):
        mcp_servers_from_config({"bad": {"args": []}}, "config.toml")


def test_unknown_builtin_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown tool 'shel'"):
        Toolbox(["shel"], {}, tmp_path)


def test_specs_are_json_schemas_with_descriptions(tmp_path: Path) -> None:
    specs = Toolbox(list(BUILTIN_TOOLS), {}, tmp_path, environ={}).specs()
    assert [s.name for s in specs] == list(BUILTIN_TOOLS)
    for spec in specs:
        assert spec.description and spec.input_schema["type"] == "object"
        for name in spec.input_schema.get("required", []):
            assert name in spec.input_schema["properties"]
        for field in spec.input_schema["properties"].values():
            assert field["description"]


def test_describe_says_where_each_tool_comes_from_and_how_it_is_approved(tmp_path: Path) -> None:
    box = Toolbox(["read_file", "list_files", "shell"], {}, tmp_path, environ={}, allow=["shell"])
    assert box.describe() == [
        "read_file · built-in · runs without asking inside the working directory; asks outside it or for likely secrets",
        "list_files · built-in · runs without asking",
        "shell · built-in · allowed by config",
    ]


def test_an_unknown_tool_is_an_error_result(tmp_path: Path) -> None:
    box = Toolbox(["list_files"], {}, tmp_path, environ={})
    assert box.verdict(ToolCall("c", "format_disk", {})).ask is False
    out = box.run(ToolCall("c", "format_disk", {}))
    assert out.status == "error"
    assert out.content == "unknown tool 'format_disk' (tools available now: list_files)"


def test_a_toolbox_without_servers_starts_and_closes(tmp_path: Path) -> None:
    box = Toolbox([], {}, tmp_path, environ={})
    box.start()
    assert box.specs() == () and box.take_notices() == []
    box.close()


def test_cap_notes_what_was_cut() -> None:
    assert cap("short", 10) == "short"
    assert cap("x" * 12_345 + "y" * 10, 10) == "x" * 10 + "\n[… 12,345 more bytes cut]"
    assert cap("日本語", 4) == "日\n[… 6 more bytes cut]"


def test_a_summary_is_always_one_safe_line() -> None:
    from chinwag.tools import ToolOutput

    out = ToolOutput("raw\x1b[2J text stays raw", "ok", "two\nlines \x1b]0;title\x07and " + "x" * 300)
    assert out.content == "raw\x1b[2J text stays raw"
    assert "\n" not in out.summary and "\x1b" not in out.summary and "\x07" not in out.summary
    assert out.summary.startswith("two lines and x") and out.summary.endswith("…")
    assert len(out.summary) <= 160
