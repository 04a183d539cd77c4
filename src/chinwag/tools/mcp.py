"""MCP servers, through the `mcp` package's client, on a background thread.

`McpHub.start()` starts one thread running its own asyncio loop and returns at
once; `mcp` is imported there, never in the caller's thread, so the prompt
does not wait for it (importing it costs about a second). Each server gets one
task that owns its session for the whole chat: it connects (stdio or
streamable HTTP), lists the tools, publishes them, then lists them
again every few seconds until the hub closes or the server dies. A server that
fails to start or dies leaves one notice, and its tools disappear; the other
servers never wait for it.

Calls come from the main thread: `call()` hands a coroutine to the loop and
waits for it in short slices, so a KeyboardInterrupt lands at once; the call is
then cancelled on the loop and the interrupt goes on up.

The hub owns the sessions; each concept around it has its own module:
mcp_connect (reaching a server), mcp_tools (its tools as chinwag offers
them), mcp_results (a call's result as the server sent it).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chinwag.tools.config import McpServerConfig
from chinwag.tools.mcp_connect import failure_reason, make_client
from chinwag.tools.mcp_results import tool_output
from chinwag.tools.mcp_tools import McpTool, list_tools
from chinwag.tools.output import ToolOutput, one_line

if TYPE_CHECKING:  # asyncio and mcp are imported on the loop thread; the prompt pays for neither
    import asyncio

    from mcp import Client

SLICE = 0.02  # seconds per wait on the loop: how soon a Ctrl-C lands
CHECK_STDIO_EVERY = 1.0  # seconds between checks that a local server is still there
CHECK_HTTP_EVERY = 10.0  # the same for a server over HTTP, which may be far away
CALL_TIMEOUT = 3600.0  # seconds one tool call may take (Ctrl-C stops it sooner)
CLOSE_WAIT = 6.0  # seconds close() waits for sessions and processes to end


@dataclass
class _Server:
    config: McpServerConfig
    state: str = "starting"  # starting | up | failed | died | closed
    detail: str = ""
    client: Client | None = None
    gone: asyncio.Event | None = None


class McpHub:
    """The MCP servers of one chat. Thread-safe: the loop thread publishes, the main thread reads."""

    def __init__(self, servers: Mapping[str, McpServerConfig], cwd: Path, environ: Mapping[str, str]) -> None:
        self._servers = {name: _Server(cfg) for name, cfg in servers.items()}
        self._cwd, self._environ = cwd, environ
        self._lock = threading.Lock()
        self._tools: dict[str, McpTool] = {}
        self._notices: list[str] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._closing = False
        self._thread: threading.Thread | None = None

    # -- the main thread's side -------------------------------------------------

    def start(self) -> None:
        if self._servers and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="chinwag-mcp", daemon=True)
            self._thread.start()

    def tools(self) -> dict[str, McpTool]:
        with self._lock:
            return dict(self._tools)

    def states(self) -> list[tuple[str, str, str]]:
        """(server, state, detail) for each server, for /tools."""
        with self._lock:
            return [(name, s.state, s.detail) for name, s in self._servers.items()]

    def take_notices(self) -> list[str]:
        with self._lock:
            notices, self._notices = self._notices, []
        return notices

    def call(self, tool: McpTool, arguments: Mapping[str, Any], max_output: int) -> ToolOutput:
        """Run `tool` on its server; waits in short slices so Ctrl-C cancels the call at once."""
        import asyncio
        import concurrent.futures

        loop = self._loop
        if loop is None or self._servers[tool.server].state != "up":
            return ToolOutput.error(f"MCP server {tool.server} is not running; its tools are gone")
        future = asyncio.run_coroutine_threadsafe(self._call(tool, dict(arguments), max_output), loop)
        try:
            while True:
                try:
                    return future.result(SLICE)
                except concurrent.futures.TimeoutError:
                    continue
        except KeyboardInterrupt:
            future.cancel()
            raise
        except concurrent.futures.CancelledError:
            return ToolOutput.error(f"the call to {tool.spec.name} was cancelled (chinwag is closing)")

    def close(self) -> None:
        """End every session and server process (waits at most CLOSE_WAIT seconds)."""
        with self._lock:
            self._closing = True
            if self._loop is not None and self._stop is not None:
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(CLOSE_WAIT)

    # -- the loop thread's side --------------------------------------------------

    def _run(self) -> None:
        import asyncio

        asyncio.run(self._main())

    async def _main(self) -> None:
        import asyncio

        stop = asyncio.Event()
        with self._lock:
            self._loop, self._stop = asyncio.get_running_loop(), stop
            if self._closing:
                return
        tasks = [asyncio.create_task(self._serve(server)) for server in self._servers.values()]
        await stop.wait()
        for server, task in zip(self._servers.values(), tasks):
            if server.gone is not None:
                server.gone.set()  # a server that is up ends its session
            if server.state == "starting":
                task.cancel()  # one still starting is not waited for
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _serve(self, server: _Server) -> None:
        """Own one server's session from start to end."""
        import asyncio
        import tempfile

        name = server.config.name
        errlog = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")
        server.gone = asyncio.Event()
        try:
            client = make_client(server.config, self._cwd, self._environ, errlog)
            async with client:
                tools = await list_tools(client, name)
                with self._lock:
                    server.client, server.state = client, "up"
                self._publish(server, tools)
                await self._watch(server, client)
        except Exception as exc:  # any failure of a server is a notice, never the chat's end
            self._fell(server, failure_reason(exc, errlog))
        finally:
            errlog.close()
            self._fell(server, "")

    async def _watch(self, server: _Server, client: Client) -> None:
        """Wait for the end (the hub closes, or a call found the server gone), checking on the
        server meanwhile: a fresh tools/list both proves it alive and picks up changed tools."""
        import asyncio

        assert server.gone is not None
        every = CHECK_HTTP_EVERY if server.config.url else CHECK_STDIO_EVERY
        while not server.gone.is_set():
            try:
                await asyncio.wait_for(server.gone.wait(), every)
            except TimeoutError:
                # Raises when the server is gone: _serve gives the notice.
                tools = await list_tools(client, server.config.name, refresh=True)
                self._publish(server, tools)

    def _publish(self, server: _Server, tools: list[McpTool]) -> None:
        with self._lock:
            if server.state != "up":
                return
            name = server.config.name
            self._tools = {k: t for k, t in self._tools.items() if t.server != name}
            for tool in tools:
                self._tools.setdefault(tool.spec.name, tool)

    async def _call(self, tool: McpTool, arguments: dict[str, Any], max_output: int) -> ToolOutput:
        from mcp import MCPError
        from mcp_types import CONNECTION_CLOSED

        server = self._servers[tool.server]
        if server.client is None:
            return ToolOutput.error(f"MCP server {tool.server} is not running; its tools are gone")
        try:
            result = await server.client.call_tool(tool.name, arguments, read_timeout_seconds=CALL_TIMEOUT)
        except MCPError as exc:
            if exc.code == CONNECTION_CLOSED:
                self._fell(server, "the connection closed")
                return ToolOutput.error(f"MCP server {tool.server} died during the call; its tools are gone")
            return ToolOutput.error(f"MCP server {tool.server} refused the call: {exc.message}")
        except Exception as exc:  # the transport failed: the server is unreachable
            self._fell(server, failure_reason(exc, None))
            return ToolOutput.error(f"MCP server {tool.server} failed during the call: {failure_reason(exc, None)}")
        return tool_output(result, max_output)

    def _fell(self, server: _Server, reason: str) -> None:
        """The server is gone (or never came up): drop its tools, note it once, end its session."""
        name = server.config.name
        with self._lock:
            if server.state in ("failed", "died", "closed"):
                return
            if self._closing:
                server.state = "closed"
            elif server.state == "starting":
                server.state, server.detail = "failed", reason or "it exited"
                self._notices.append(one_line(f"MCP server {name} failed to start: {server.detail}"))
            else:
                server.state, server.detail = "died", reason
                self._notices.append(one_line(f"MCP server {name} died; its tools are gone"
                                              + (f" ({reason})" if reason else "")))
            self._tools = {k: t for k, t in self._tools.items() if t.server != name}
            server.client = None
        if server.gone is not None:
            server.gone.set()
