"""What the main thread asks of the MCP servers: tool calls, prompts,
resources and completions. A base of `McpHub` (mcp.py), which holds the
state these read.

Calls come from the main thread: `call()` hands a coroutine to the loop and
waits for it in short slices, so a KeyboardInterrupt lands at once; the call is
then cancelled on the loop and the interrupt goes on up.
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Mapping
from typing import TYPE_CHECKING, Any

from chinwag.errors import UsageError
from chinwag.tools.mcp_connect import failure_reason
from chinwag.tools.mcp_results import ResultContext, resource_output, tool_output
from chinwag.tools.output import ToolOutput, one_line
from chinwag.tools.progress import LatestProgress, Progress

if TYPE_CHECKING:  # asyncio and mcp are imported on the loop thread; the prompt pays for neither
    import asyncio

    from chinwag.tools.mcp import HubServer
    from chinwag.tools.mcp_prompts import McpPrompt
    from chinwag.tools.mcp_questions import Questions
    from chinwag.tools.mcp_tools import McpTool

SLICE = 0.02  # seconds per wait on the loop: how soon a Ctrl-C lands
CALL_TIMEOUT = 3600.0  # seconds one tool call may take (Ctrl-C stops it sooner)
COMPLETE_TIMEOUT = 2.0  # seconds Tab waits for a server's completions


class McpCalls:
    _servers: dict[str, HubServer]
    _lock: threading.Lock
    _tools: dict[str, McpTool]
    _loop: asyncio.AbstractEventLoop | None
    _last_completion: tuple[str, list[str]] | None
    questions: Questions

    def _fell(self, server: HubServer, reason: str) -> None:
        raise NotImplementedError

    # -- the main thread's side: hand the request to the loop, wait in slices ---

    def call(self, tool: McpTool, arguments: Mapping[str, Any], max_output: int) -> ToolOutput:
        """Run `tool` on its server, its progress unseen (see `calling`)."""
        steps = self.calling(tool, arguments, max_output)
        try:
            while True:
                next(steps)
        except StopIteration as done:
            output: ToolOutput = done.value
            return output

    def calling(self, tool: McpTool, arguments: Mapping[str, Any], max_output: int,
                stopping: threading.Event | None = None) -> Generator[Progress, None, ToolOutput]:
        """Run `tool` on its server, yielding its progress (at most every SHOW_EVERY s), returning
        its output. It waits in short slices, so a Ctrl-C lands at once; a Ctrl-C, `stopping`
        set (the page's Stop) or the generator closed cancels the call, and the `mcp` package
        sends the server notifications/cancelled for it: the server and the chat go on."""
        import asyncio
        import concurrent.futures
        import time

        loop = self._loop
        if loop is None or self._servers[tool.server].state != "up":
            return ToolOutput.error(f"MCP server {tool.server} is not running; its tools are gone")
        latest = LatestProgress()
        # Waiting before the call is sent: a question the server asks at once is put
        # to this thread, never declined for want of anyone waiting.
        with self.questions.waiting():
            future = asyncio.run_coroutine_threadsafe(self._call(tool, dict(arguments), max_output, latest), loop)
            try:
                while True:
                    self.questions.answer_waiting()  # an elicitation the server sent meanwhile
                    try:
                        return future.result(SLICE)
                    except concurrent.futures.TimeoutError:
                        pass
                    if stopping is not None and stopping.is_set():
                        from chinwag.present import TOOL_STOPPED

                        future.cancel()
                        return ToolOutput(TOOL_STOPPED, "interrupted", "interrupted")
                    report = latest.take(time.monotonic())
                    if report is not None:
                        yield report
            except concurrent.futures.CancelledError:
                return ToolOutput.error(f"the call to {tool.spec.name} was cancelled (chinwag is closing)")
            finally:
                future.cancel()  # a no-op once it is done; else the call is cancelled on the loop

    def get_prompt(self, prompt: McpPrompt, arguments: Mapping[str, str]) -> Any:
        """The server's GetPromptResult; UsageError in one line when it cannot be had."""
        return self.request(prompt.server, f"/{prompt.command}",
                            lambda client: client.get_prompt(prompt.name, dict(arguments)))

    def read_resource(self, server: str, uri: str) -> Any:
        """The server's ReadResourceResult for `uri`; UsageError in one line when it cannot be had."""
        return self.request(server, f"mcp:{server}:{uri}", lambda client: client.read_resource(uri))

    def complete(self, server: str, ref: Any, argument: str, value: str, given: Mapping[str, str]) -> list[str]:
        """The server's completions of `argument` (completion/complete); none on any failure.
        readline asks once per candidate with the same line: the last answer is reused."""
        key = repr((server, ref, argument, value, sorted(given.items())))
        if self._last_completion is not None and self._last_completion[0] == key:
            return list(self._last_completion[1])
        try:
            result = self.request(server, "completion", lambda client: client.complete(
                ref, {"name": argument, "value": value}, dict(given) or None), timeout=COMPLETE_TIMEOUT)
        except UsageError:
            return []
        values = [str(v) for v in result.completion.values]
        self._last_completion = (key, values)
        return values

    def request(self, server: str, what: str, make: Any, timeout: float | None = None) -> Any:
        """Run `make(client)` (a coroutine) on `server`'s session and wait for it in short
        slices, answering elicitations meanwhile; UsageError naming `what` when the
        server does not exist, is not up, or refuses."""
        import asyncio
        import concurrent.futures

        known = self._servers.get(server)
        if known is None:
            names = ", ".join(self._servers) or "none configured"
            raise UsageError(f"there is no MCP server {server!r} (servers: {names}).")
        loop, client = self._loop, known.client
        if loop is None or client is None or known.state != "up":
            state = {"starting": "is still starting", "failed": "failed to start",
                     "died": "has died", "closed": "is closed"}.get(known.state, "is not running")
            raise UsageError(f"cannot get {what}: MCP server {server} {state}.")
        with self.questions.waiting():  # before the request is sent, as in `calling`
            future = asyncio.run_coroutine_threadsafe(self._request(known, make(client), what, timeout), loop)
            try:
                return self.questions.wait(future, SLICE)
            except KeyboardInterrupt:
                future.cancel()
                raise
            except concurrent.futures.CancelledError:
                raise UsageError(f"cannot get {what}: chinwag is closing.") from None

    # -- run on the loop thread: one request each, its failure named -----------

    async def _request(self, server: HubServer, coroutine: Any, what: str, timeout: float | None) -> Any:
        import asyncio

        from mcp import MCPError
        from mcp_types import CONNECTION_CLOSED

        name = server.config.name
        try:
            return await asyncio.wait_for(coroutine, timeout or CALL_TIMEOUT)
        except MCPError as exc:
            if exc.code == CONNECTION_CLOSED:
                self._fell(server, "the connection closed")
                raise UsageError(f"cannot get {what}: MCP server {name} died.") from None
            raise UsageError(f"MCP server {name} refused {what}: {one_line(exc.message)}") from None
        except TimeoutError:
            raise UsageError(f"cannot get {what}: MCP server {name} did not answer in time.") from None
        except UsageError:
            raise
        except Exception as exc:  # the transport failed: the server is unreachable
            self._fell(server, failure_reason(exc, None))
            raise UsageError(f"cannot get {what}: MCP server {name} failed ({failure_reason(exc, None)}).") from None

    async def _call(self, tool: McpTool, arguments: dict[str, Any], max_output: int,
                    latest: LatestProgress | None = None) -> ToolOutput:
        from mcp import MCPError
        from mcp_types import CONNECTION_CLOSED

        server = self._servers[tool.server]
        if server.client is None:
            return ToolOutput.error(f"MCP server {tool.server} is not running; its tools are gone")
        context = ResultContext(tool.server, tool.name, tool.output_schema, self._read_tool(tool.server))

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            if latest is not None:
                latest.put(progress, total, message)

        try:
            if tool.kind == "read_resource":
                uri = arguments.get("uri")
                if not isinstance(uri, str) or not uri:
                    return ToolOutput.error(f"bad input for {tool.spec.name}: 'uri' must be a non-empty string")
                read = await server.client.read_resource(uri, cache_mode="refresh")
                return resource_output(read, max_output, context)
            result = await server.client.call_tool(tool.name, arguments, read_timeout_seconds=CALL_TIMEOUT,
                                                   progress_callback=on_progress)
        except MCPError as exc:
            if exc.code == CONNECTION_CLOSED:
                self._fell(server, "the connection closed")
                if server.state == "needs login":  # its tokens stopped working: _needs_login said so
                    return ToolOutput.error(f"MCP server {tool.server} needs login: run chinwag mcp login {tool.server}")
                return ToolOutput.error(f"MCP server {tool.server} died during the call; its tools are gone")
            return ToolOutput.error(f"MCP server {tool.server} refused the call: {exc.message}")
        except Exception as exc:  # the transport failed: the server is unreachable
            self._fell(server, failure_reason(exc, None))
            if server.state == "needs login":
                return ToolOutput.error(f"MCP server {tool.server} needs login: run chinwag mcp login {tool.server}")
            return ToolOutput.error(f"MCP server {tool.server} failed during the call: {failure_reason(exc, None)}")
        return tool_output(result, max_output, context)

    def _read_tool(self, server: str) -> str:
        """The name of the server's read_resource tool as the model sees it, or "" if none is offered."""
        with self._lock:
            return next((name for name, t in self._tools.items()
                         if t.server == server and t.kind == "read_resource"), "")
