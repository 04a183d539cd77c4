"""A server's tools as chinwag offers them: named SERVER_TOOL, read-only by their annotations."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chinwag.records import ToolSpec

if TYPE_CHECKING:  # mcp is imported on the hub's loop thread; the prompt does not pay for it
    from mcp import Client

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class McpTool:
    """One tool of a server that is up, as chinwag offers it."""

    server: str
    name: str  # the server's own name for it
    spec: ToolSpec  # named SERVER_TOOL
    read_only: bool  # readOnlyHint: true and openWorldHint not true


def tool_name(server: str, tool: str) -> str:
    """SERVER_TOOL, in the characters every provider accepts, at most 64 of them."""
    return _UNSAFE_NAME.sub("_", f"{server}_{tool}")[:64]


async def list_tools(client: Client, server: str, refresh: bool = False) -> list[McpTool]:
    tools: list[McpTool] = []
    cursor: str | None = None
    for _ in range(100):  # pages; a server that pages forever gets no more than this
        page = await client.list_tools(cursor=cursor, cache_mode="refresh" if refresh else "use")
        for tool in page.tools:
            hints = tool.annotations
            read_only = bool(hints and hints.read_only_hint and not hints.open_world_hint)
            description = tool.description or tool.title or f"{tool.name} (MCP server {server})"
            spec = ToolSpec(tool_name(server, tool.name), description, dict(tool.input_schema))
            tools.append(McpTool(server, tool.name, spec, read_only))
        cursor = page.next_cursor
        if cursor is None:
            break
    return tools
