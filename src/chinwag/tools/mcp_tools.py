"""A server's tools as chinwag offers them: named SERVER_TOOL, read-only by their annotations."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

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
    output_schema: Mapping[str, Any] | None = None  # what its structuredContent must match
    kind: Literal["tool", "read_resource"] = "tool"  # read_resource: chinwag's own, reads the server's resources


READ_RESOURCE = "read_resource"
READ_RESOURCE_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "properties": {"uri": {"type": "string", "description": "The resource's URI, as a resource link gave it"}},
    "required": ["uri"],
}


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
            schema = dict(tool.output_schema) if tool.output_schema is not None else None
            tools.append(McpTool(server, tool.name, spec, read_only, schema))
        cursor = page.next_cursor
        if cursor is None:
            break
    return tools


def read_resource_tool(server: str) -> McpTool:
    """SERVER_read_resource, offered for a server that has resources: reading one changes
    nothing, so it runs without asking."""
    description = (f"Read a resource of the MCP server {server} by its URI (from a resource link in a "
                   f"result of one of its tools). Returns its text, or its image or PDF.")
    return McpTool(server, READ_RESOURCE, ToolSpec(tool_name(server, READ_RESOURCE), description,
                                                   READ_RESOURCE_SCHEMA), True, None, "read_resource")


async def has_resources(client: Client) -> bool:
    """Whether the server has resources to read: it declares them and lists one, or a template."""
    from mcp import MCPError

    if client.server_capabilities.resources is None:
        return False
    try:
        if (await client.list_resources()).resources:
            return True
        return bool((await client.list_resource_templates()).resource_templates)
    except MCPError:  # declared but not served: nothing to read
        return False
