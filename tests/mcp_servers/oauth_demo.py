"""An MCP server over streamable HTTP that is also its own OAuth 2.1 authorization
server, built from the `mcp` package's server-side auth, for chinwag's auth tests.

    python -m tests.mcp_servers.oauth_demo PORT [--lifetime SECONDS] [--no-oauth]

It serves http://127.0.0.1:PORT/mcp with discovery, dynamic client
registration, PKCE and refresh (the SDK's handlers; this file is only the
in-memory provider behind them). The authorize step approves at once, as a
person clicking "Allow" would, and redirects to the client's callback.
Access tokens live --lifetime seconds. Test-only routes, never behind auth:
POST /admin/revoke revokes every token; POST /admin/forget-access drops the
access tokens only (a restart that kept its refresh tokens); GET /admin/log is what happened
(grants, the Authorization header of each MCP request).
With --no-oauth it serves without auth, and the `header` tool says back a request header.
"""

from __future__ import annotations

import argparse
import secrets
import time
from typing import Any

from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    RefreshToken,
    TokenError,
    construct_redirect_uri,
)
from mcp.server.auth.settings import AuthSettings, ClientRegistrationOptions, RevocationOptions
from mcp.server.mcpserver import Context, MCPServer
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from mcp.types import ToolAnnotations
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

LOG: dict[str, list[Any]] = {"grants": [], "authorization": [], "registrations": [], "refused": []}


class MemoryProvider:
    """Everything in dicts; `lifetime` seconds per access token."""

    def __init__(self, lifetime: int) -> None:
        self.lifetime = lifetime
        self.clients: dict[str, OAuthClientInformationFull] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.access: dict[str, AccessToken] = {}
        self.refresh: dict[str, RefreshToken] = {}

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        return self.clients.get(client_id)

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        assert client_info.client_id is not None
        self.clients[client_info.client_id] = client_info
        LOG["registrations"].append(client_info.client_id)

    async def authorize(self, client: OAuthClientInformationFull, params: AuthorizationParams) -> str:
        code = secrets.token_urlsafe(16)
        assert client.client_id is not None
        self.codes[code] = AuthorizationCode(
            code=code, scopes=params.scopes or [], expires_at=time.time() + 300, client_id=client.client_id,
            code_challenge=params.code_challenge, redirect_uri=params.redirect_uri,
            redirect_uri_provided_explicitly=params.redirect_uri_provided_explicitly, resource=params.resource)
        return construct_redirect_uri(str(params.redirect_uri), code=code, state=params.state)

    async def load_authorization_code(self, client: OAuthClientInformationFull, code: str) -> AuthorizationCode | None:
        return self.codes.get(code)

    def _issue(self, client_id: str, scopes: list[str]) -> OAuthToken:
        access, refresh = f"at-{secrets.token_urlsafe(16)}", f"rt-{secrets.token_urlsafe(16)}"
        # Whole seconds, rounded up: the token never dies before the lifetime it was issued for.
        self.access[access] = AccessToken(token=access, client_id=client_id, scopes=scopes,
                                          expires_at=int(time.time()) + self.lifetime + 1)
        self.refresh[refresh] = RefreshToken(token=refresh, client_id=client_id, scopes=scopes)
        return OAuthToken(access_token=access, expires_in=self.lifetime, refresh_token=refresh,
                          scope=" ".join(scopes) or None)

    async def exchange_authorization_code(self, client: OAuthClientInformationFull,
                                          authorization_code: AuthorizationCode) -> OAuthToken:
        self.codes.pop(authorization_code.code, None)
        LOG["grants"].append("authorization_code")
        return self._issue(authorization_code.client_id, authorization_code.scopes)

    async def load_refresh_token(self, client: OAuthClientInformationFull, refresh_token: str) -> RefreshToken | None:
        return self.refresh.get(refresh_token)

    async def exchange_refresh_token(self, client: OAuthClientInformationFull, refresh_token: RefreshToken,
                                     scopes: list[str]) -> OAuthToken:
        if self.refresh.pop(refresh_token.token, None) is None:
            LOG["refused"].append("refresh_token")  # spent already, or revoked
            raise TokenError("invalid_grant", "refresh token revoked")
        LOG["grants"].append("refresh_token")
        return self._issue(refresh_token.client_id, scopes or refresh_token.scopes)

    async def load_access_token(self, token: str) -> AccessToken | None:
        found = self.access.get(token)
        if found is None or (found.expires_at is not None and found.expires_at < time.time()):
            return None
        return found

    async def revoke_token(self, token: AccessToken | RefreshToken) -> None:
        self.access.pop(token.token, None)
        self.refresh.pop(token.token, None)

    def revoke_all(self) -> None:
        self.access.clear()
        self.refresh.clear()

    def forget_access(self) -> None:
        self.access.clear()


def build(port: int, lifetime: int, oauth: bool) -> MCPServer:
    base = f"http://127.0.0.1:{port}"
    provider = MemoryProvider(lifetime)
    auth = AuthSettings(issuer_url=base, resource_server_url=f"{base}/mcp", validate_token_resource=False,
                        client_registration_options=ClientRegistrationOptions(enabled=True),
                        revocation_options=RevocationOptions(enabled=True)) if oauth else None
    server = MCPServer("oauth-demo", auth=auth, auth_server_provider=provider if oauth else None)
    server.settings.log_level = "WARNING"

    @server.tool(description="Say the text back.",
                 annotations=ToolAnnotations(read_only_hint=True, open_world_hint=False))
    def echo(text: str) -> str:
        return f"echo: {text}"

    @server.tool(description="The value of one HTTP request header (empty when not sent).",
                 annotations=ToolAnnotations(read_only_hint=True, open_world_hint=False))
    def header(name: str, ctx: Context) -> str:
        request = ctx.request_context.request
        headers = getattr(request, "headers", {}) or {}
        return headers.get(name, "") if name in headers else "(not sent)"

    @server.custom_route("/admin/revoke", methods=["POST"])
    async def revoke(_request: Request) -> Response:
        provider.revoke_all()
        return JSONResponse({"ok": True})

    @server.custom_route("/admin/forget-access", methods=["POST"])
    async def forget_access(_request: Request) -> Response:
        provider.forget_access()
        return JSONResponse({"ok": True})

    @server.custom_route("/admin/log", methods=["GET"])
    async def log(_request: Request) -> Response:
        return JSONResponse(LOG)

    return server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--lifetime", type=int, default=3600)
    parser.add_argument("--no-oauth", action="store_true")
    args = parser.parse_args()
    server = build(args.port, args.lifetime, not args.no_oauth)
    server.run("streamable-http", host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
