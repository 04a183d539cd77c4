"""Auth for MCP servers over HTTP: configured headers with ${VAR}, and OAuth 2.1.

Headers come from `headers = {...}` in config.toml or `"headers"` in the JSON;
`${VAR}` is taken from the environment when the server is connected. A header
whose variable is unset (or that comes out empty) is not sent at all, and the
chat gets one line naming the variable, never the value.

OAuth is the `mcp` package's client (`OAuthClientProvider`: discovery, dynamic
client registration, PKCE, refresh). `chinwag mcp login NAME` runs the whole
flow (cli/mcp_command.py); the tokens, the registered client and the
authorization server's metadata are kept in DATA_DIR/mcp-auth/NAME.json, mode
0600. A chat uses them and refreshes them without asking; when they no longer
work (revoked, refresh refused) it never opens a browser: the server's state
becomes "needs login" and the chat gets one line naming the command.

This module is imported on the MCP loop thread (or by `chinwag mcp`), never
before the prompt: it imports httpx2 and the `mcp` package.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import httpx2
from mcp.client._transport import TransportStreams
from mcp.client.auth import OAuthClientProvider
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthMetadata,
    OAuthToken,
)

from chinwag.paths import data_dir
from chinwag.tools.config import McpServerConfig

# The SDK logs a failed OAuth flow with its traceback (logger.exception); with no handler
# configured Python's last-resort handler would print it over the chat. The failure itself
# reaches us as an exception and becomes one line.
logging.getLogger("mcp").addHandler(logging.NullHandler())
logging.getLogger("mcp").propagate = False

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_UNSAFE_FILE = re.compile(r"[^A-Za-z0-9_.-]")


class NeedsLogin(Exception):
    """The server wants OAuth and there are no working tokens: `chinwag mcp login NAME`."""


class CredentialsRefused(Exception):
    """The server answered 401 to the configured Authorization header."""


def login_hint(name: str) -> str:
    return f"MCP server {name} needs login: run chinwag mcp login {name}"


def expand_headers(config: McpServerConfig, environ: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """The headers to send, with ${VAR} filled in, and one line for each header left out.
    A line names the variable, never a value."""
    headers: dict[str, str] = {}
    notes: list[str] = []
    for name, raw in config.headers.items():
        missing = [var for var in _VAR.findall(raw) if not environ.get(var)]
        if missing:
            notes.append(f"MCP server {config.name}: ${{{missing[0]}}} is not set, so its {name} header is not sent")
            continue
        value = _VAR.sub(lambda m: environ[m.group(1)], raw).strip()
        if not value:
            notes.append(f"MCP server {config.name}: its {name} header is empty, so it is not sent")
        elif any(c in value for c in "\r\n\0"):
            notes.append(f"MCP server {config.name}: its {name} header holds a line break, so it is not sent")
        else:
            headers[name] = value
    return headers, notes


# -- where tokens are kept -------------------------------------------------------------


def token_file(environ: Mapping[str, str], name: str) -> Path:
    """DATA_DIR/mcp-auth/NAME.json; a name that is not a plain file name ("../x", "a/b")
    is made one, with a hash of the real name so two such names never share a file."""
    safe = _UNSAFE_FILE.sub("_", name).lstrip(".")
    if safe != name or not safe:
        safe = f"{safe}-{hashlib.sha256(name.encode('utf-8', 'surrogatepass')).hexdigest()[:12]}"
    return data_dir(environ) / "mcp-auth" / f"{safe}.json"


@dataclass
class TokenStore:
    """One server's OAuth state in a 0600 JSON file, bound to the server's URL: a file
    written for another URL is ignored, so tokens never go to a server they were not for.
    Implements the SDK's TokenStorage protocol."""

    path: Path
    url: str
    _data: dict[str, object] = field(default_factory=dict)
    _read: tuple[int, int, int] | None = None  # the file as last read or written: (inode, size, mtime_ns)

    def __post_init__(self) -> None:
        self.reload_if_changed()

    def reload_if_changed(self) -> bool:
        """Read the file again if another chat (another process) wrote it since: a server
        that rotates refresh tokens takes the old one back once anyone refreshes, so a
        chat must use what is on disk, not what it read at start. True if it changed."""
        seen = self._stat()
        if seen == self._read:  # the same file, or still none
            return False
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        self._data = data if isinstance(data, dict) and data.get("url") == self.url else {}
        self._read = seen
        return True

    def locked(self, timeout: float = 30.0) -> Callable[[], None]:
        """Hold the file's lock (DATA_DIR/mcp-auth/NAME.lock) so that one chat at a time
        refreshes; returns its release. Blocking: call it off the event loop. After
        `timeout` s (a chat stuck mid-refresh) it goes on without the lock."""
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path.with_suffix(".lock"), os.O_WRONLY | os.O_CREAT, 0o600)
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.05)
        return lambda: os.close(fd)  # closing the file releases its lock

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return st.st_ino, st.st_size, st.st_mtime_ns

    def exists(self) -> bool:
        return bool(self._data.get("tokens"))

    def expires_at(self) -> float | None:
        value = self._data.get("expires_at")
        return float(value) if isinstance(value, int | float) else None

    def metadata(self) -> OAuthMetadata | None:
        raw = self._data.get("metadata")
        return OAuthMetadata.model_validate(raw) if isinstance(raw, dict) else None

    async def get_tokens(self) -> OAuthToken | None:
        raw = self._data.get("tokens")
        return OAuthToken.model_validate(raw) if isinstance(raw, dict) else None

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self._data["tokens"] = tokens.model_dump(mode="json", exclude_none=True)
        self._data["expires_at"] = expiry(tokens)
        self._save()

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        raw = self._data.get("client")
        return OAuthClientInformationFull.model_validate(raw) if isinstance(raw, dict) else None

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self._data["client"] = client_info.model_dump(mode="json", exclude_none=True)
        self._save()

    def set_metadata(self, metadata: OAuthMetadata | None) -> None:
        if metadata is not None:
            self._data["metadata"] = metadata.model_dump(mode="json", exclude_none=True)
            self._save()

    def clear(self) -> None:
        self._data = {}
        self.path.unlink(missing_ok=True)
        self._read = None

    def _save(self) -> None:
        """Write the file whole, created 0600 in a 0700 directory, then renamed over the old one."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump({**self._data, "url": self.url}, out)
        os.replace(tmp, self.path)
        self._read = self._stat()


def expiry(tokens: OAuthToken) -> float | None:
    """When to stop using an access token: a little before the server does (at most 30 s,
    a quarter of a short lifetime), so a request never carries one that dies in flight."""
    if not tokens.expires_in:
        return None
    return time.time() + tokens.expires_in - min(30.0, tokens.expires_in / 4)


class _Provider(OAuthClientProvider):
    """The SDK's provider, restoring what it forgets across runs: when the stored access
    token expires (so it refreshes before sending rather than after a 401) and where the
    token endpoint is (else a refresh would go to the MCP server's own /token)."""

    def __init__(self, store: TokenStore, **kwargs: object) -> None:
        super().__init__(storage=store, **kwargs)  # type: ignore[arg-type]
        self._store = store
        context = self.context

        def update_token_expiry(token: OAuthToken) -> None:
            context.token_expiry_time = expiry(token)

        context.update_token_expiry = update_token_expiry  # type: ignore[method-assign]

    async def _initialize(self) -> None:
        await super()._initialize()
        self.context.token_expiry_time = self._store.expires_at()
        if self.context.oauth_metadata is None:
            self.context.oauth_metadata = self._store.metadata()

    async def _auth_flow(self, request: httpx2.Request) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        """The SDK's flow, but with the tokens another chat saved since (see
        TokenStore.reload_if_changed), and a refresh made by one chat at a time:
        the one that waited reads what the other saved, and refreshes only if
        that too has expired. Without this, two chats with one server would each
        refresh the same rotating token, and the loser would need a new login.

        A 401 to an access token that had not expired (the server restarted and
        forgot it, or revoked it early) is answered with a refresh and the
        request sent again, once: the SDK went straight to a new authorization,
        which in a chat means a new login while the refresh token was good."""
        retried = False
        while True:
            release = await self._current_tokens()
            valid = self.context.is_token_valid()
            refused = False
            flow = super()._auth_flow(request)
            try:
                outgoing = await flow.__anext__()
                while True:
                    incoming = yield outgoing
                    if incoming.status_code == 401 and outgoing is request and valid and not retried \
                            and self.context.can_refresh_token():
                        refused = True
                        break
                    outgoing = await flow.asend(incoming)
            except StopAsyncIteration:
                pass
            finally:
                if release is not None:
                    release()
                await flow.aclose()
            if not refused:
                return
            retried = True
            self.context.token_expiry_time = time.time() - 1  # spent: the next pass refreshes first

    async def _current_tokens(self) -> Callable[[], None] | None:
        """Load what another chat saved since; when a refresh is due, hold the
        refresh lock (released by calling what is returned) and load again."""
        if self._store.reload_if_changed() or not self._initialized:
            await self._initialize()
        if self.context.is_token_valid() or not self.context.can_refresh_token():
            return None
        release: Callable[[], None] = await anyio.to_thread.run_sync(self._store.locked)
        if self._store.reload_if_changed():
            await self._initialize()
        return release


def client_metadata(redirect_uri: str) -> OAuthClientMetadata:
    return OAuthClientMetadata.model_validate({
        "client_name": "chinwag", "redirect_uris": [redirect_uri], "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"]})


def oauth_provider(config: McpServerConfig, store: TokenStore, redirect_uri: str,
                   redirect: Callable[[str], Awaitable[None]],
                   callback: Callable[[], Awaitable[AuthorizationCodeResult]]) -> OAuthClientProvider:
    assert config.url is not None
    return _Provider(store, server_url=config.url, client_metadata=client_metadata(redirect_uri),
                     redirect_handler=redirect, callback_handler=callback)


# -- the HTTP client of a chat -------------------------------------------------------------


class _Refused(httpx2.Auth):
    """No OAuth tokens: a 401 means the server wants a login (or refused the configured
    Authorization header). Raising here ends the connection with a reason we can name."""

    def __init__(self, name: str, has_authorization: bool, needs_login: Callable[[], NeedsLogin]) -> None:
        self.name, self.has_authorization, self.needs_login = name, has_authorization, needs_login

    def auth_flow(self, request: httpx2.Request):  # type: ignore[no-untyped-def]
        response = yield request
        if response.status_code == 401:
            if self.has_authorization:
                raise CredentialsRefused("HTTP 401: the server refused the configured Authorization header")
            raise self.needs_login()


def http_client(config: McpServerConfig, environ: Mapping[str, str],
                on_login: Callable[[], None] | None = None) -> tuple[httpx2.AsyncClient, list[str]]:
    """The HTTP client for a chat's connection to `config`'s server, and lines to show.
    A configured Authorization header wins over OAuth; stored tokens are used and refreshed;
    anything that would need a person (a browser) raises NeedsLogin instead, after calling
    `on_login` (the transport may turn the exception into a closed connection)."""
    headers, notes = expand_headers(config, environ)
    has_authorization = any(k.lower() == "authorization" for k in headers)
    store = TokenStore(token_file(environ, config.name), config.url or "")

    def needs_login() -> NeedsLogin:
        if on_login is not None:
            on_login()
        return NeedsLogin(login_hint(config.name))

    auth: httpx2.Auth
    if not has_authorization and store.exists():
        async def redirect(_url: str) -> None:
            raise needs_login()

        async def callback() -> AuthorizationCodeResult:
            raise needs_login()

        auth = oauth_provider(config, store, "http://127.0.0.1/callback", redirect, callback)
    else:
        auth = _Refused(config.name, has_authorization, needs_login)
    return create_mcp_http_client(headers=headers, auth=auth), notes


def http_transport(config: McpServerConfig, environ: Mapping[str, str],
                   on_login: Callable[[], None] | None = None) -> tuple[
        AbstractAsyncContextManager[TransportStreams], list[str]]:
    """The streamable-HTTP transport for a chat (what `mcp.Client` takes), with its own
    HTTP client (headers, auth) closed with it; and the lines `http_client` gave."""
    from mcp.client.streamable_http import streamable_http_client

    client, notes = http_client(config, environ, on_login)

    @asynccontextmanager
    async def connect() -> AsyncIterator[TransportStreams]:
        async with client, streamable_http_client(config.url or "", http_client=client) as streams:
            yield streams

    return connect(), notes
