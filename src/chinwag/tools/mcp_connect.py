"""How chinwag reaches one MCP server: the `mcp` client for stdio or streamable HTTP,
and one line on why a server could not be reached."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TextIO

from chinwag.tools.config import McpServerConfig
from chinwag.tools.output import one_line

if TYPE_CHECKING:  # mcp is imported on the hub's loop thread; the prompt does not pay for it
    from mcp import Client

START_TIMEOUT = 30.0  # seconds a server may take to answer each request while starting
INHERITED_ENV = ("HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER", "LANG", "TMPDIR")


def make_client(config: McpServerConfig, cwd: Path, environ: Mapping[str, str], errlog: TextIO,
                notes: list[str] | None = None, on_login: Callable[[], None] | None = None,
                **callbacks: Any) -> Client:
    """The client for `config`; lines to show (a header left out) are added to `notes`;
    `on_login` is called when an HTTP server wants a login (tools/mcp_auth.py);
    `callbacks`: more of the `Client`'s own (elicitation_callback, message_handler, ...)."""
    from mcp import Client, StdioServerParameters
    from mcp.client.stdio import stdio_client

    callbacks = client_callbacks(cwd) | callbacks
    if config.url is not None:  # headers and OAuth: tools/mcp_auth.py
        from chinwag.tools.mcp_auth import http_transport

        transport, lines = http_transport(config, environ, on_login)
        if notes is not None:
            notes.extend(lines)
        return Client(transport, read_timeout_seconds=START_TIMEOUT, **callbacks)
    env = {k: v for k, v in environ.items() if k in INHERITED_ENV}
    params = StdioServerParameters(command=config.command or "", args=list(config.args),
                                   env=env | dict(config.env), cwd=cwd)
    # The server's stderr goes to a file, not over the chat; its last line explains a failed start.
    return Client(stdio_client(params, errlog=errlog), read_timeout_seconds=START_TIMEOUT, **callbacks)


def client_callbacks(cwd: Path) -> dict[str, Any]:
    """What chinwag answers a server's own requests with, as `Client` keyword arguments (each
    one declares its capability). Roots: the working directory is the one root. Sampling is
    not declared (the 2026-07-28 revision deprecated it): the package answers a server that
    asks anyway with an error, "Sampling not supported". The protocol revision is the
    package's to negotiate (`mode="auto"`: the newest it knows, down to what the server speaks)."""
    import mcp_types

    where = cwd.resolve()
    root = mcp_types.Root.model_validate({"uri": where.as_uri(), "name": where.name or str(where)})

    async def list_roots(context: object) -> mcp_types.ListRootsResult:
        return mcp_types.ListRootsResult(roots=[root])

    return {"list_roots_callback": list_roots}


def failure_reason(exc: BaseException, errlog: IO[str] | None) -> str:
    """One line on why a server failed: the innermost error, and the last line it wrote to stderr."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc) or type(exc).__name__
    if isinstance(exc, TimeoutError):
        text = f"no answer within {START_TIMEOUT:g} s"
    if errlog is not None:
        try:
            errlog.seek(0)
            lines = [line.strip() for line in errlog.read()[-4096:].splitlines() if line.strip()]
        except (OSError, ValueError):
            lines = []
        if lines:
            text += f" (it said: {lines[-1]})"
    return one_line(text)
