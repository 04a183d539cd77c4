"""`chinwag mcp login NAME`: the OAuth 2.1 authorization-code flow for one MCP server.

The `mcp` package's provider does discovery, dynamic client registration,
PKCE and the token exchange; this module gives it what needs a person: the
authorization URL is printed (and opened in a browser when there is one), and
the redirect comes back to a one-shot listener on 127.0.0.1 on a free port.
Each login registers afresh (its redirect URI names that port) and replaces
what was stored for the server.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Mapping
from urllib.parse import parse_qs, urlsplit

from mcp.shared.auth import AuthorizationCodeResult

from chinwag.tools.config import McpServerConfig
from chinwag.tools.mcp_auth import TokenStore, expand_headers, oauth_provider, token_file

CALLBACK_WAIT = 300.0  # seconds a person has to finish in the browser
_PAGE = ("<!doctype html><meta charset=utf-8><title>chinwag</title>"
         "<p>{}</p><p>You can close this tab and go back to the terminal.</p>")


class LoginFailed(Exception):
    """One line on why the login did not finish."""


class NoLoginNeeded(Exception):
    """The server answered without asking for authorization."""


class _Callback:
    """A one-shot HTTP listener on 127.0.0.1 for the authorization server's redirect."""

    def __init__(self) -> None:
        self.result: asyncio.Future[AuthorizationCodeResult] = asyncio.get_running_loop().create_future()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> _Callback:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()

    async def wait(self) -> AuthorizationCodeResult:
        try:
            return await asyncio.wait_for(asyncio.shield(self.result), CALLBACK_WAIT)
        except TimeoutError:
            raise LoginFailed(f"no answer from the browser within {CALLBACK_WAIT:g} s") from None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = (await asyncio.wait_for(reader.readline(), 10)).decode("latin-1")
            while (await asyncio.wait_for(reader.readline(), 10)) not in (b"\r\n", b"\n", b""):
                pass  # the headers: nothing in them matters
            parts = line.split()
            target = urlsplit(parts[1]) if len(parts) >= 2 else urlsplit("/")
            query = {k: v[0] for k, v in parse_qs(target.query).items()}
            if target.path != "/callback" or self.result.done():
                status, text = "404 Not Found", "Nothing here."
            elif "error" in query:
                status, text = "200 OK", "Login failed: the authorization server said " + query["error"] + "."
                self.result.set_exception(LoginFailed(
                    f"the authorization server refused: {query['error']}"
                    + (f" ({query['error_description']})" if query.get("error_description") else "")))
            elif "code" in query:
                status, text = "200 OK", "chinwag is logged in."
                self.result.set_result(AuthorizationCodeResult(code=query["code"], state=query.get("state"),
                                                               iss=query.get("iss")))
            else:
                status, text = "400 Bad Request", "The redirect carried no code."
            body = _PAGE.format(text.replace("<", "&lt;")).encode()
            writer.write(f"HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n"
                         f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
            await writer.drain()
        except (OSError, TimeoutError, UnicodeError):
            pass  # a stray or broken connection: the real redirect may still come
        finally:
            writer.close()


def can_open_browser(environ: Mapping[str, str]) -> bool:
    """Only where a graphical browser can open: webbrowser would otherwise start a text
    browser (lynx, w3m) in this very terminal."""
    return bool(environ.get("BROWSER") or environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY")
                or sys.platform in ("darwin", "win32"))


async def login(config: McpServerConfig, environ: Mapping[str, str], show: Callable[[str], None],
                browser: bool) -> int:
    """Log in to `config`'s server; returns how many tools it offers once logged in."""
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    assert config.url is not None
    store = TokenStore(token_file(environ, config.name), config.url)
    fresh = TokenStore(store.path.with_suffix(".login"), config.url)  # the old tokens stay until this works
    fresh.clear()
    headers, notes = expand_headers(config, environ)
    for note in notes:
        show(note)
    async with _Callback() as callback:
        async def redirect(url: str) -> None:
            show(f"Open this URL to log in to {config.name}:\n  {url}")
            if browser and can_open_browser(environ):
                import webbrowser

                await asyncio.to_thread(webbrowser.open, url)
            show(f"Waiting for the browser (on 127.0.0.1:{callback.port}); Ctrl-C gives up.")

        provider = oauth_provider(config, fresh, f"http://127.0.0.1:{callback.port}/callback",
                                  redirect, callback.wait)
        try:
            async with create_mcp_http_client(headers=headers, auth=provider) as http, \
                    Client(streamable_http_client(config.url, http_client=http)) as client:
                tools = await client.list_tools()
        except BaseException:
            fresh.clear()
            raise
        fresh.set_metadata(provider.context.oauth_metadata if fresh.exists() else None)
    if not fresh.exists():
        fresh.clear()
        raise NoLoginNeeded
    store.clear()
    fresh.path.replace(store.path)
    return len(tools.tools)
