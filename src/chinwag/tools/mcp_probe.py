"""`chinwag mcp list`: connect to every configured server once, at the same time, and
say what each one is: its transport, its state (running, failed and why, needs
login), how many tools, prompts and resources it offers, and how its tools are
approved. Servers are reached exactly as a chat reaches them (mcp_connect), so
headers and stored OAuth tokens apply, and an expired token is refreshed here too.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chinwag.tools.config import McpServerConfig
from chinwag.tools.mcp_connect import START_TIMEOUT, failure_reason, make_client
from chinwag.tools.mcp_tools import McpTool, list_tools


@dataclass(frozen=True)
class ServerReport:
    name: str
    transport: str  # "stdio" | "http"
    state: str  # "running" | "failed" | "needs login"
    detail: str = ""  # why it failed, or the command that logs in
    tools: tuple[McpTool, ...] = ()
    prompts: int = 0
    resources: int = 0
    notes: tuple[str, ...] = ()  # headers left out


async def probe(config: McpServerConfig, cwd: Path, environ: Mapping[str, str]) -> ServerReport:
    transport = "http" if config.url else "stdio"
    notes: list[str] = []
    wanted: list[bool] = []  # the auth flow found it needs a login
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as errlog:
        try:
            async with asyncio.timeout(START_TIMEOUT * 2):
                async with make_client(config, cwd, environ, errlog, notes, lambda: wanted.append(True)) as client:
                    tools = await list_tools(client, config.name)
                    capabilities = client.server_capabilities
                    prompts = await _count(client.list_prompts, "prompts") if capabilities.prompts else 0
                    resources = await _count(client.list_resources, "resources") if capabilities.resources else 0
        except Exception as exc:  # a server that cannot be reached is a row, never the command's end
            if wanted:
                return ServerReport(config.name, transport, "needs login", f"run chinwag mcp login {config.name}",
                                    notes=tuple(notes))
            return ServerReport(config.name, transport, "failed", failure_reason(exc, errlog), notes=tuple(notes))
    return ServerReport(config.name, transport, "running", tools=tuple(tools), prompts=prompts,
                        resources=resources, notes=tuple(notes))


async def _count(list_page: Callable[..., Awaitable[Any]], field: str) -> int:
    """How many items a paged list holds (at most 100 pages, as list_tools)."""
    total, cursor = 0, None
    for _ in range(100):
        page = await list_page(cursor=cursor)
        total += len(getattr(page, field))
        cursor = page.next_cursor
        if cursor is None:
            break
    return total


async def probe_all(servers: Mapping[str, McpServerConfig], cwd: Path,
                    environ: Mapping[str, str]) -> list[ServerReport]:
    return list(await asyncio.gather(*(probe(config, cwd, environ) for config in servers.values())))


def approval_line(report: ServerReport, allow: Collection[str]) -> str:
    """How its tools are approved, by the same rules as a chat (tools/__init__.py's verdict)."""
    allowed = sum(1 for tool in report.tools if tool.spec.name in allow)
    free = sum(1 for tool in report.tools if tool.read_only and tool.spec.name not in allow)
    asks = len(report.tools) - allowed - free
    parts = [f"{free} run without asking (read-only)" if free else "",
             f"{allowed} allowed by config" if allowed else "", f"{asks} ask" if asks else ""]
    return ", ".join(part for part in parts if part) or "no tools"
