"""The MCP project's reference servers, as the tests run them.

The README's test command installs them: `npm ci --prefix tests/mcp_servers`
(server-everything and server-filesystem, pinned in
tests/mcp_servers/package-lock.json) and the `test` extra of pyproject.toml
(mcp-server-time and mcp-server-git). Nothing here downloads anything: a
server that is not installed is a clear failure naming the command to run.

Use:
    from tests.mcp_reference import everything, filesystem, time_server, git_server, write_mcp_json
    servers = {"everything": everything()}                  # McpServerConfig, for Toolbox(...)
    path = write_mcp_json(tmp_path / "mcp.json", servers)    # for `chinwag --mcp-config PATH`
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

from chinwag.tools import McpServerConfig

ROOT = Path(__file__).resolve().parent.parent
NPM_PREFIX = ROOT / "tests" / "mcp_servers"
NPM_BIN = NPM_PREFIX / "node_modules" / ".bin"
INSTALL_HINT = "run the README's test command (npm ci --prefix tests/mcp_servers; pip install -e '.[test]')"


def _npm_server(binary: str) -> Path:
    path = NPM_BIN / binary
    if not path.exists():
        raise AssertionError(f"{binary} is not installed: {INSTALL_HINT}")
    return path


def _python_server(binary: str) -> str:
    """The console script next to this Python (the venv's bin), else on PATH."""
    beside = Path(sys.executable).parent / binary
    if beside.exists():
        return str(beside)
    found = shutil.which(binary)
    if found is None:
        raise AssertionError(f"{binary} is not installed: {INSTALL_HINT}")
    return found


def everything(name: str = "everything", *, env: Mapping[str, str] | None = None) -> McpServerConfig:
    """@modelcontextprotocol/server-everything over stdio: every MCP feature (tools with images,
    resources, links, progress, prompts, elicitation, roots, sampling, structured output)."""
    return McpServerConfig(name, command=str(_npm_server("mcp-server-everything")), args=("stdio",),
                           env=dict(env or {}))


def filesystem(root: Path, name: str = "files") -> McpServerConfig:
    """@modelcontextprotocol/server-filesystem allowed to read and write under `root`."""
    return McpServerConfig(name, command=str(_npm_server("mcp-server-filesystem")), args=(str(root),))


def time_server(name: str = "time", timezone: str = "UTC") -> McpServerConfig:
    """mcp-server-time (PyPI), pinned to a local timezone so results do not depend on the machine."""
    return McpServerConfig(name, command=_python_server("mcp-server-time"), args=("--local-timezone", timezone))


def git_server(repository: Path, name: str = "git") -> McpServerConfig:
    """mcp-server-git (PyPI) on one repository."""
    return McpServerConfig(name, command=_python_server("mcp-server-git"), args=("--repository", str(repository)))


def as_json_entry(config: McpServerConfig) -> dict[str, object]:
    """One server as an entry of the `{"mcpServers": {...}}` JSON other clients share."""
    if config.url is not None:
        return {"url": config.url}
    entry: dict[str, object] = {"command": config.command, "args": list(config.args)}
    if config.env:
        entry["env"] = dict(config.env)
    return entry


def write_mcp_json(path: Path, servers: Mapping[str, McpServerConfig]) -> Path:
    """Write `servers` as an mcpServers JSON file (for `chinwag --mcp-config PATH`); returns `path`."""
    data = {"mcpServers": {name: as_json_entry(config) for name, config in servers.items()}}
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


def config_toml_tables(servers: Mapping[str, McpServerConfig]) -> str:
    """The same servers as config.toml's `[mcp_servers.NAME]` tables (append to a config.toml)."""
    lines: list[str] = []
    for name, config in servers.items():
        lines.append(f"[mcp_servers.{json.dumps(name)}]")
        for key, value in as_json_entry(config).items():
            if isinstance(value, dict):
                inline = ", ".join(f"{json.dumps(k)} = {json.dumps(v)}" for k, v in value.items())
                lines.append(f"{key} = {{ {inline} }}")
            else:
                lines.append(f"{key} = {json.dumps(value)}")
        lines.append("")
    return "\n".join(lines)
