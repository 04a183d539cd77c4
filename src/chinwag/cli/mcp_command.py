"""`chinwag mcp list|login NAME|logout NAME [--mcp-config FILE]`.

The servers are those a chat would start: config.toml's [mcp_servers] and the
`--mcp-config` JSON. `list` connects to each at once and says what it is;
`login` runs OAuth for one HTTP server (tools/mcp_login.py); `logout` removes
its stored tokens. No token is ever printed: a line names a server, a variable
or a command, never a credential.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from chinwag.cli.parser import OneLineErrorParser
from chinwag.errors import ChinwagError, UsageError
from chinwag.render.sanitize import one_line
from chinwag.tools.config import McpServerConfig


class LoginError(ChinwagError):
    exit_code = 1  # the server or the network failed


def build_parser() -> argparse.ArgumentParser:
    common = OneLineErrorParser(add_help=False)  # as in a chat: config.toml's servers, and these
    common.add_argument("--mcp-config", metavar="FILE", help='MCP servers from a {"mcpServers": {...}} JSON file')
    p = OneLineErrorParser(prog="chinwag mcp", description="The MCP servers chinwag is configured with.")
    sub = p.add_subparsers(dest="command", required=True, metavar="list|login|logout")
    sub.add_parser("list", parents=[common],
                   help="each server: transport, state, tools/prompts/resources, approval")
    login = sub.add_parser("login", parents=[common],
                           help="log in to an HTTP server with OAuth (opens the browser or prints the URL)")
    login.add_argument("name", metavar="NAME")
    login.add_argument("--no-browser", action="store_true", help="print the URL only")
    sub.add_parser("logout", parents=[common], help="remove a server's stored OAuth tokens").add_argument(
        "name", metavar="NAME")
    return p


def main(argv: Sequence[str], environ: Mapping[str, str], out: TextIO) -> int:
    args = build_parser().parse_args(list(argv))
    servers, allow = _servers(environ, args.mcp_config)
    if args.command == "list":
        return _list(servers, allow, environ, out)
    config = _server(servers, args.name)
    if args.command == "login":
        return _login(config, environ, out, browser=not args.no_browser)
    return _logout(config, environ, out)


def _servers(environ: Mapping[str, str], mcp_config: str | None) -> tuple[dict[str, McpServerConfig], tuple[str, ...]]:
    """The servers and the `allow` list, read as a chat reads them (config.py, toolloop.py)."""
    from chinwag.config import resolve
    from chinwag.tools import load_mcp_json, mcp_servers_from_config

    tools = resolve(environ, Path.cwd(), {"mcp_config": mcp_config}).tools
    servers = mcp_servers_from_config(tools.mcp_servers, tools.config_source)
    if tools.mcp_config:
        servers.update(load_mcp_json(Path(tools.mcp_config).expanduser()))
    return servers, tools.allow


def _server(servers: Mapping[str, McpServerConfig], name: str) -> McpServerConfig:
    config = servers.get(name)
    if config is None:
        known = ", ".join(sorted(servers)) or "none configured ([mcp_servers.NAME] in config.toml, or --mcp-config)"
        raise UsageError(one_line(f"no MCP server {name!r} (servers: {known})"))
    return config


def _list(servers: Mapping[str, McpServerConfig], allow: Sequence[str], environ: Mapping[str, str],
          out: TextIO) -> int:
    from chinwag.tools.mcp_probe import approval_line, probe_all

    if not servers:
        out.write("No MCP servers configured: [mcp_servers.NAME] in config.toml, or --mcp-config FILE.\n")
        return 0
    for report in asyncio.run(probe_all(servers, Path.cwd(), environ)):
        for note in report.notes:
            out.write(one_line(note) + "\n")
        head = f"{report.name} · {report.transport} · {report.state}"
        if report.state == "running":
            counts = (f"{len(report.tools)} tools, {report.prompts} prompts, {report.resources} resources")
            line = f"{head} · {counts} · {approval_line(report, allow)}"
        else:
            line = f"{head}: {report.detail}"
        out.write(one_line(line) + "\n")
    return 0


def _login(config: McpServerConfig, environ: Mapping[str, str], out: TextIO, *, browser: bool) -> int:
    from chinwag.tools.mcp_connect import failure_reason
    from chinwag.tools.mcp_login import LoginFailed, NoLoginNeeded, login

    if config.url is None:
        raise UsageError(f"MCP server {config.name} runs a command (stdio); login is for a server with a url")
    if any(name.lower() == "authorization" for name in config.headers):
        raise UsageError(f"MCP server {config.name} has an Authorization header configured, which wins over "
                         "OAuth; remove it from its headers to log in")

    def show(text: str) -> None:
        out.write(text + "\n")
        out.flush()

    try:
        tools = asyncio.run(login(config, environ, show, browser))
    except NoLoginNeeded:
        out.write(f"MCP server {config.name} answered without asking for a login; nothing stored.\n")
        return 0
    except LoginFailed as exc:
        raise LoginError(f"cannot log in to MCP server {config.name}: {exc}") from None
    except Exception as exc:  # the server or the network: one line, exit 1
        raise LoginError(f"cannot log in to MCP server {config.name}: {failure_reason(exc, None)}") from None
    out.write(f"Logged in to MCP server {config.name} ({tools} tools). Tokens are kept in chinwag's data "
              "directory and refreshed as needed; chinwag mcp logout " + config.name + " removes them.\n")
    return 0


def _logout(config: McpServerConfig, environ: Mapping[str, str], out: TextIO) -> int:
    from chinwag.tools.mcp_auth import token_file

    path = token_file(environ, config.name)
    if not path.exists():
        out.write(f"No tokens stored for MCP server {config.name}.\n")
        return 0
    path.unlink()
    out.write(f"Logged out of MCP server {config.name}: its tokens are removed.\n")
    return 0
