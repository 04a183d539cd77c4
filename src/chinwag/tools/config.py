"""Where MCP servers are configured: the `{"mcpServers": {...}}` JSON file other
clients share (`--mcp-config FILE`), and config.toml's `[mcp_servers.NAME]` tables.

A server is either stdio (`command`, optional `args` and `env`) or streamable
HTTP (`url`, optional `headers`, whose values may hold ${VAR}: tools/mcp_auth.py
fills them in when it connects). A bad entry is a `ConfigError` naming the file and the server.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chinwag.errors import ConfigError

if TYPE_CHECKING:
    from chinwag.config import ToolSettings

BUILTIN_TOOLS: tuple[str, ...] = ("read_file", "list_files", "fetch_url", "shell")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 token


@dataclass(frozen=True)
class McpServerConfig:
    """One MCP server: stdio (`command`, `args`, `env`) or streamable HTTP (`url`)."""

    name: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)  # as written: ${VAR} not yet filled in

    @property
    def where(self) -> str:
        """How the server is reached, for /tools: its URL or its command line."""
        return self.url or " ".join((self.command or "", *self.args))


def check_tool_names(enabled: Sequence[str]) -> None:
    """ConfigError unless every name is a built-in tool."""
    unknown = [name for name in enabled if name not in BUILTIN_TOOLS]
    if unknown:
        raise ConfigError(f"unknown tool {unknown[0]!r} (the built-in tools are {', '.join(BUILTIN_TOOLS)})")


def configured_servers(settings: ToolSettings) -> dict[str, McpServerConfig]:
    """Every server a chat has: config.toml's tables, then `--mcp-config`'s file
    (its names win); ConfigError on a bad entry or file or an unknown built-in tool."""
    check_tool_names(settings.enabled)
    servers = mcp_servers_from_config(settings.mcp_servers, settings.config_source)
    if settings.mcp_config:
        servers.update(load_mcp_json(Path(settings.mcp_config).expanduser()))
    return servers


def load_mcp_json(path: Path) -> dict[str, McpServerConfig]:
    """The servers of an `{"mcpServers": {NAME: {...}}}` file; ConfigError on a bad file."""
    import json  # here: a chat whose servers are all in config.toml never reads JSON before its prompt

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read MCP config {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"MCP config {path} is not UTF-8 text") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"MCP config {path} is not valid JSON (line {exc.lineno}: {exc.msg})") from exc
    servers = data.get("mcpServers") if isinstance(data, dict) else None
    if not isinstance(servers, dict):
        raise ConfigError(f'MCP config {path} has no "mcpServers" object')
    return mcp_servers_from_config(servers, str(path))


def mcp_servers_from_config(table: Mapping[str, Any], source: str) -> dict[str, McpServerConfig]:
    """Servers from a mapping of NAME -> entry (config.toml's [mcp_servers] or the JSON's
    mcpServers); `source` names where they came from in errors."""
    return {name: _server(name, entry, source) for name, entry in table.items()}


def _server(name: str, entry: Any, source: str) -> McpServerConfig:
    where = f"MCP server {name!r} in {source}"
    if not name or not isinstance(name, str):
        raise ConfigError(f"an MCP server in {source} has an empty name")
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where} must be a table of command/args/env or url")
    command, url = entry.get("command"), entry.get("url")
    kind = entry.get("type", entry.get("transport"))
    if kind == "sse":
        raise ConfigError(f"{where} uses the SSE transport, which chinwag does not support (use streamable HTTP)")
    if (command is None) == (url is None):
        raise ConfigError(f"{where} needs either a command (stdio) or a url (streamable HTTP)")
    headers = entry.get("headers", {})
    if not isinstance(headers, Mapping) or not all(
            isinstance(k, str) and _HEADER_NAME.fullmatch(k) and isinstance(v, str) for k, v in headers.items()):
        raise ConfigError(f"{where}: headers must map header names to string values, "
                          'e.g. headers = { Authorization = "Bearer ${TOKEN}" }')
    if url is not None:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ConfigError(f"{where}: url must be an http:// or https:// URL")
        return McpServerConfig(name, url=url, headers=dict(headers))
    if headers:
        raise ConfigError(f"{where}: headers are for a server with a url; a stdio server takes env")
    if not isinstance(command, str) or not command.strip():
        raise ConfigError(f"{where}: command must be a non-empty string")
    args = entry.get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise ConfigError(f"{where}: args must be a list of strings")
    env = entry.get("env", {})
    if not isinstance(env, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        raise ConfigError(f"{where}: env must map names to string values")
    return McpServerConfig(name, command=command, args=tuple(args), env=dict(env))
