"""The gate in front of every request: a local server is still a server.

`Guard` is plain ASGI middleware (so streamed responses pass through
unbuffered). For every HTTP request, in order:

1. `Host` must name this server by an IP address it listens on, or
   `localhost`: a DNS-rebinding page (Host: evil.example:8765) gets 403.
2. `Origin`, when sent, must be this server's own origin, and
   `Sec-Fetch-Site: cross-site` is refused; a POST must carry `Origin`.
   State changes are POST only (the routes say so), so a cross-site form,
   image or script tag can neither read nor change anything.
3. The token printed at start: in the `chinwag_<port>` cookie (HttpOnly,
   SameSite=Strict), or as `?token=` on `GET /`, which answers with the page
   and sets the cookie (the page's script then takes the token out of the
   address bar). Anything else gets 403, static files and the event stream
   included.

Every response carries a strict Content-Security-Policy (scripts and
styles from this server only, no inline script, no eval, `connect-src
'self'`, no images from elsewhere, no framing) and no-referrer/nosniff
headers.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; "
       "form-action 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
WILDCARDS = ("0.0.0.0", "::")
FORBIDDEN = "forbidden: open the address `chinwag serve` printed, with its ?token=\n"


def new_token() -> str:
    return secrets.token_urlsafe(32)


class Guard:
    def __init__(self, app: ASGIApp, token: str, host: str, port: int) -> None:
        self.app, self.token, self.port = app, token, port
        self.cookie = f"chinwag_{port}"
        self._wildcard = host in WILDCARDS
        self._hosts = {"localhost", "127.0.0.1", "::1", _bare(host)}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        # The printed address may be followed from anywhere (a link in another
        # site's page is a cross-site navigation); nothing else may.
        opening = scope["method"] == "GET" and scope["path"] == "/" and self._query_token(scope)
        if not self.host_allowed(host) or not (opening or self.origin_allowed(scope["method"], host, headers)):
            await _respond(send, 403, FORBIDDEN)
            return
        extra = list(SECURITY_HEADERS)
        if opening:
            # The page itself, with the cookie; its script takes the token out of
            # the address. (A redirect would lose a Strict cookie when the link
            # was followed from another site.)
            cookie = f"{self.cookie}={self.token}; HttpOnly; SameSite=Strict; Path=/"
            extra.append((b"set-cookie", cookie.encode()))
        elif not self._has_token(headers):
            await _respond(send, 403, FORBIDDEN)
            return

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, secured)

    def host_allowed(self, host: str) -> bool:
        """`host` (the Host header) names this server: an address it listens
        on, or localhost, with its port. A DNS name other than localhost is a
        rebinding attempt, whatever it resolves to."""
        name, sep, port = host.rpartition(":")
        if not sep or port != str(self.port):
            return False
        name = _bare(name)
        if name in self._hosts:
            return True
        if not self._wildcard:
            return False
        try:
            ipaddress.ip_address(name)  # bound to every address: any IP literal names us
        except ValueError:
            return False
        return True

    def origin_allowed(self, method: str, host: str, headers: dict[str, str]) -> bool:
        if headers.get("sec-fetch-site") == "cross-site":
            return False
        origin = headers.get("origin")
        if origin is None:
            return method in ("GET", "HEAD")
        return origin == f"http://{host}"

    def _has_token(self, headers: dict[str, str]) -> bool:
        """The cookie carries the token. Parsed by hand: http.cookies gives up
        on the rest of the header at the first cookie it dislikes (another
        local app's), which would lock the page out."""
        for part in headers.get("cookie", "").split(";"):
            name, sep, value = part.strip().partition("=")
            if sep and name == self.cookie and secrets.compare_digest(value.strip('"'), self.token):
                return True
        return False

    def _query_token(self, scope: Scope) -> bool:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        given = (query.get("token") or [""])[0]
        return bool(given) and secrets.compare_digest(given, self.token)


def _bare(host: str) -> str:
    return host.strip("[]").lower()


async def _respond(send: Send, status: int, text: str) -> None:
    body = text.encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()), *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": body})
