"""MCP servers, through the `mcp` package's client, on a background thread.

`McpHub.start()` starts one thread running its own asyncio loop and returns at
once; `mcp` is imported there, never in the caller's thread, so the prompt
does not wait for it (importing it costs about a second). Each server gets one
task that owns its session for the whole chat: it connects (stdio or
streamable HTTP), lists the tools, publishes them, then lists them
again every few seconds until the hub closes or the server dies. A server that
fails to start or dies leaves one notice, and its tools disappear; the other
servers never wait for it.

The hub owns the sessions; each concept around it has its own module:
mcp_connect (reaching a server), mcp_tools (its tools as chinwag offers
them), mcp_calls (what the main thread asks of a server: calls, prompts,
resources, completions), mcp_results (a call's result as the server sent it).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from chinwag.tools.config import McpServerConfig
from chinwag.tools.mcp_calls import McpCalls
from chinwag.tools.mcp_connect import failure_reason, make_client
from chinwag.tools.mcp_changes import change_handler, listen_for_changes
from chinwag.tools.mcp_questions import Questions, elicitation_callback
from chinwag.tools.mcp_tools import McpTool, has_resources, list_tools, read_resource_tool
from chinwag.tools.output import one_line

if TYPE_CHECKING:  # asyncio and mcp are imported on the loop thread; the prompt pays for neither
    import asyncio

    from mcp import Client

    from chinwag.tools.mcp_prompts import Listing

CHECK_STDIO_EVERY = 1.0  # seconds between checks that a local server is still there
CHECK_HTTP_EVERY = 10.0  # the same for a server over HTTP, which may be far away
CLOSE_WAIT = 6.0  # seconds close() waits for sessions and processes to end


@dataclass
class HubServer:
    """One configured server as the hub holds it: its state, its session's client, and what ends it."""

    config: McpServerConfig
    state: str = "starting"  # starting | up | failed | died | closed | needs login
    detail: str = ""
    client: Client | None = None
    gone: asyncio.Event | None = None
    readable: bool = False  # it lists resources or templates: SERVER_read_resource is offered


class McpHub(McpCalls):
    """The MCP servers of one chat. Thread-safe: the loop thread publishes, the main thread reads."""

    def __init__(self, servers: Mapping[str, McpServerConfig], cwd: Path, environ: Mapping[str, str]) -> None:
        self._servers = {name: HubServer(cfg) for name, cfg in servers.items()}
        self._cwd, self._environ = cwd, environ
        self._lock = threading.Lock()
        self._tools: dict[str, McpTool] = {}
        self._notices: list[str] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._closing = False
        self._thread: threading.Thread | None = None
        self.questions = Questions()  # elicitations, answered by the thread waiting on the server
        self._listings: dict[str, Listing] = {}  # prompts and resources, per server that is up
        self._last_completion: tuple[str, list[str]] | None = None

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

    def listings(self) -> dict[str, Listing]:
        """Each server's prompts and resources (those that are up)."""
        with self._lock:
            return dict(self._listings)

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

    async def _serve(self, server: HubServer) -> None:
        """Own one server's session from start to end."""
        import asyncio
        import tempfile

        from chinwag.tools.mcp_prompts import list_offers

        name = server.config.name
        errlog = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")
        server.gone = asyncio.Event()
        try:
            notes: list[str] = []  # a header left out (tools/mcp_auth.py): one line each
            refresh = functools.partial(self._refresh, server)
            client = make_client(server.config, self._cwd, self._environ, errlog, notes,
                                 on_login=lambda: self._needs_login(server),
                                 elicitation_callback=elicitation_callback(name, self.questions, self._note),
                                 message_handler=change_handler(refresh))
            with self._lock:
                self._notices.extend(one_line(note) for note in notes)
            async with client:
                # chinwag checks a result against the tool's outputSchema itself (mcp_results), so a
                # mismatch is marked in the result; the package's check would raise and lose it.
                setattr(client.session, "validate_tool_result", _keep_result)  # noqa: B010
                tools = await list_tools(client, name)
                server.readable = await has_resources(client)
                listing = await list_offers(client, name)
                with self._lock:
                    server.client, server.state = client, "up"
                    self._listings[name] = listing
                    # The revision the package negotiated: its newest, or the older one the server speaks.
                    server.detail = f"protocol {client.protocol_version}"
                self._publish(server, tools)
                listening = asyncio.create_task(listen_for_changes(client, refresh))
                try:
                    await self._watch(server, client)
                finally:
                    listening.cancel()
        except Exception as exc:  # any failure of a server is a notice, never the chat's end
            self._fell(server, failure_reason(exc, errlog))
        finally:
            errlog.close()
            self._fell(server, "")

    async def _watch(self, server: HubServer, client: Client) -> None:
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

    def _note(self, notice: str) -> None:
        with self._lock:
            self._notices.append(one_line(notice))

    async def _refresh(self, server: HubServer, tools: bool) -> None:
        """List the server's tools (or its prompts and resources) again: it said they changed."""
        client = server.client
        if client is None:
            return
        try:
            if tools:
                self._publish(server, await list_tools(client, server.config.name, refresh=True))
                return
            from chinwag.tools.mcp_prompts import list_offers

            listing = await list_offers(client, server.config.name, refresh=True)
            with self._lock:
                if server.state == "up":
                    self._listings[server.config.name] = listing
        except Exception:  # noqa: BLE001  a failed refresh keeps the old list; _watch finds a dead server
            pass

    def _publish(self, server: HubServer, tools: list[McpTool]) -> None:
        with self._lock:
            if server.state != "up":
                return
            name = server.config.name
            self._tools = {k: t for k, t in self._tools.items() if t.server != name}
            for tool in tools:
                self._tools.setdefault(tool.spec.name, tool)
            if server.readable:
                reader = read_resource_tool(name)
                self._tools.setdefault(reader.spec.name, reader)

    def _needs_login(self, server: HubServer) -> None:
        """The server wants OAuth and has no working tokens (called from its auth flow, before the
        connection fails): one line naming the command; its tools go, as for a server that died."""
        name = server.config.name
        with self._lock:
            if server.state in ("starting", "up") and not self._closing:
                server.state, server.detail = "needs login", f"run chinwag mcp login {name}"
                self._tools = {k: t for k, t in self._tools.items() if t.server != name}
                self._notices.append(f"MCP server {name} needs login: run chinwag mcp login {name}")

    def _fell(self, server: HubServer, reason: str) -> None:
        """The server is gone (or never came up): drop its tools, note it once, end its session."""
        name = server.config.name
        with self._lock:
            if server.state in ("failed", "died", "closed"):
                return
            if server.state == "needs login":
                pass  # _needs_login gave its line and took its tools
            elif self._closing:
                server.state = "closed"
            elif server.state == "starting":
                server.state, server.detail = "failed", reason or "it exited"
                self._notices.append(one_line(f"MCP server {name} failed to start: {server.detail}"))
            else:
                server.state, server.detail = "died", reason
                self._notices.append(one_line(f"MCP server {name} died; its tools are gone"
                                              + (f" ({reason})" if reason else "")))
            self._tools = {k: t for k, t in self._tools.items() if t.server != name}
            self._listings.pop(name, None)
            server.client = None
        if server.gone is not None:
            server.gone.set()


async def _keep_result(name: str, result: object) -> None:
    """In place of the package's outputSchema check, which raises on a mismatch."""
