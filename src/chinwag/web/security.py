"""The gate in front of every request: a local server is still a server.

Browsers do not scope cookies by port: a cookie set by 127.0.0.1:8765 is
also sent to 127.0.0.1:3000, where a dev server or another local user's
process may read it and replay it. So no cookie here is a credential for
anything worth having. Three secrets, each new at every start:

- the *token*, printed in the address (`/?token=T`). It opens the page, and
  the page's script exchanges it for the session key. It never goes in a
  cookie, a header the browser adds by itself, or storage.
- the *session key* S, which every API request and event stream must carry
  in the `X-Chinwag-Session` header (the page's `call()` adds it). The
  script gets it once, `POST /api/session` with `X-Chinwag-Token: T`, and
  keeps it in `localStorage`, which browsers scope by origin (scheme, host
  AND port), so a page on another port cannot read it, and no browser sends
  it anywhere unasked. A reload, a second tab or a bookmark without the
  token finds it there; an earlier server's key gets 401 and the page says
  to open the new address. A custom header also cannot be sent cross-origin
  without a CORS preflight, which this server never grants.
- the *page key* in the `chinwag_<port>` cookie (HttpOnly, SameSite=Strict),
  set when the page is opened with the token. It opens only the page and its
  static files, which hold no data: the code anyone can read in the wheel.
  Replayed from another port, it gets that and nothing else.

`--open` hands the browser a one-shot token instead of T (in a file only the
user can read, see `opener.py`): it is void after its first exchange.

How Jupyter does it, and why this differs (jupyter_server 9a4d6ee,
`auth/identity.py`, `base/handlers.py`): after `?token=` it sets a signed
login cookie named `username-127-0-0-1-8888` (the port is in the NAME, but
the browser still sends it to every port) and relies on tornado's `_xsrf`
double-submit (an `_xsrf` cookie echoed in `X-XSRFToken`) for non-GET
requests. Both cookies reach every port, so whoever receives them can echo
one into the header; GETs skip the xsrf check and a missing Origin passes
`check_origin`, so the replayed login cookie alone reads the API. Here the
header's secret is never in a cookie, so receiving our cookies gives nothing.

`Guard` is plain ASGI middleware (so streamed responses pass through
unbuffered). For every HTTP request, in order:

1. `Host` must name this server by an IP address it listens on, or
   `localhost`: a DNS-rebinding page (Host: evil.example:8765) gets 403.
2. `Origin`, when sent, must be this server's own origin, and
   `Sec-Fetch-Site: cross-site` is refused; a POST must carry `Origin`.
   State changes are POST only (the routes say so). Only `GET /?token=`
   (the printed link, which may be followed from anywhere) skips this.
3. `GET`/`HEAD` of `/` and `/static/*`: the token in the address, or the
   page key cookie; else 403. `POST /api/session`: the token (or a one-shot
   token) in `X-Chinwag-Token`; else 403. Everything else: the session key
   in `X-Chinwag-Session`; else 401.

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
NO_SESSION = ('{"error": "this page is from an earlier chinwag serve, or was opened without its token: '
              'open the address chinwag serve printed."}')
SESSION_PATH = "/api/session"
TOKEN_HEADER = "x-chinwag-token"  # the exchange: token in, session key out
SESSION_HEADER = "x-chinwag-session"  # on every API request and event stream


def new_token() -> str:
    return secrets.token_urlsafe(32)


class Guard:
    """`token` is the printed one; `one_shot` tokens (for `--open`) work like
    it until their first exchange."""

    def __init__(self, app: ASGIApp, token: str, host: str, port: int, one_shot: tuple[str, ...] = ()) -> None:
        self.app, self.token, self.port = app, token, port
        self.session = new_token()
        self.page_key = new_token()
        self.cookie = f"chinwag_{port}"
        self._one_shot = set(one_shot)
        self._wildcard = host in WILDCARDS
        self._hosts = {"localhost", "127.0.0.1", "::1", _bare(host)}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host, method, path = headers.get("host", ""), scope["method"], scope["path"]
        reading = method in ("GET", "HEAD")
        # The printed address may be followed from anywhere (a link in another
        # site's page is a cross-site navigation); nothing else may.
        opening = reading and path == "/" and self._query_token(scope)
        if not self.host_allowed(host) or not (opening or self.origin_allowed(method, host, headers)):
            await _respond(send, 403, FORBIDDEN)
            return
        extra = list(SECURITY_HEADERS)
        if opening:
            # The page itself, with the page key; its script takes the token out
            # of the address. (A redirect would lose a Strict cookie when the
            # link was followed from another site.)
            cookie = f"{self.cookie}={self.page_key}; HttpOnly; SameSite=Strict; Path=/"
            extra.append((b"set-cookie", cookie.encode()))
        elif reading and (path == "/" or path.startswith("/static/")):
            if not self._has_page_key(headers):
                await _respond(send, 403, FORBIDDEN)
                return
        elif path == SESSION_PATH and method == "POST":
            if not self._exchange(headers.get(TOKEN_HEADER, "")):
                await _respond(send, 403, FORBIDDEN)
                return
            await _respond(send, 200, f'{{"session": "{self.session}"}}', "application/json")
            return
        elif not _same(headers.get(SESSION_HEADER, ""), self.session):
            await _respond(send, 401, NO_SESSION, "application/json")
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

    def _has_page_key(self, headers: dict[str, str]) -> bool:
        """The cookie carries the page key. Parsed by hand: http.cookies gives
        up on the rest of the header at the first cookie it dislikes (another
        local app's), which would lock the page out."""
        for part in headers.get("cookie", "").split(";"):
            name, sep, value = part.strip().partition("=")
            if sep and name == self.cookie and _same(value.strip('"'), self.page_key):
                return True
        return False

    def _query_token(self, scope: Scope) -> bool:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        return self._valid((query.get("token") or [""])[0])

    def _valid(self, given: str) -> bool:
        if not given:
            return False
        return _same(given, self.token) or any(_same(given, once) for once in list(self._one_shot))

    def _exchange(self, given: str) -> bool:
        """The token for the session key; a one-shot token is spent by it."""
        if not self._valid(given):
            return False
        self._one_shot.discard(given)
        return True


def _same(given: str, secret: str) -> bool:
    """In constant time; as bytes, since compare_digest refuses non-ASCII str
    (a header may carry any latin-1)."""
    return secrets.compare_digest(given.encode("utf-8", "surrogateescape"), secret.encode())


def _bare(host: str) -> str:
    return host.strip("[]").lower()


async def _respond(send: Send, status: int, text: str, kind: str = "text/plain") -> None:
    body = text.encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", f"{kind}; charset=utf-8".encode()), (b"cache-control", b"no-store"),
                            (b"content-length", str(len(body)).encode()), *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": body})
