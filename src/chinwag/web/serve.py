"""`chinwag serve`: the same chats in a browser, over the same history.

    chinwag serve [--port N] [--host ADDRESS] [--open] [-T NAME]... [--mcp-config FILE]

Prints `chinwag is serving on http://127.0.0.1:8765/?token=...` and serves
until Ctrl-C. The token is new at each start (what it opens: security.py).
`--open` hands the browser a private file that redirects to the page, never
the token on its command line (opener.py). Binding anything but
127.0.0.1 needs `--host` and prints a warning: the token is then all that
stands between the network and your chats and API keys' use. Tools are the
chat's (config.toml `tools`, `allow`, `[mcp_servers]`, plus `-T` and
`--mcp-config` here); a call that needs approval asks in the page.
"""

from __future__ import annotations

import argparse
import errno
import socket
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import NoReturn, TextIO

from chinwag.cli.parser import OneLineErrorParser
from chinwag.errors import UsageError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def build_parser() -> argparse.ArgumentParser:
    p = OneLineErrorParser(prog="chinwag serve", description="Chat in a browser, over the same saved history.")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any free one)")
    p.add_argument("--host", help=f"address to listen on (default {DEFAULT_HOST}); anything else is reachable "
                                  "from other machines")
    p.add_argument("--open", action="store_true", help="open the page in the browser")
    p.add_argument("-T", "--tool", dest="tools", action="append", metavar="NAME", default=[],
                   help="enable a built-in tool for the page's chats: read_file, list_files, fetch_url, shell "
                        "(repeatable; calls that write, run or send data out ask in the page)")
    p.add_argument("--mcp-config", metavar="FILE", help='MCP servers from a {"mcpServers": {...}} JSON file')
    return p


def main(argv: Sequence[str], environ: Mapping[str, str], out: TextIO) -> int:
    args = build_parser().parse_args(list(argv))
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, got {args.port}.")
    host = args.host or DEFAULT_HOST
    if args.host is not None and host not in ("127.0.0.1", "localhost", "::1"):
        sys.stderr.write(f"chinwag: warning: listening on {host}: other machines can reach this server; "
                         "anyone with the token can chat with your keys and read your history\n")
    sock = _bind(host, args.port)
    port = int(sock.getsockname()[1])

    from chinwag.web.security import Guard, new_token

    token = new_token()
    shown = f"[{host}]" if ":" in host else host
    if host in ("0.0.0.0", "::"):
        shown = DEFAULT_HOST
    url = f"http://{shown}:{port}/?token={token}"
    from chinwag.web.app import build_app
    from chinwag.web.chats import Chats

    _check_history_once(environ)
    chats = Chats(environ, Path.cwd(), tools=args.tools, mcp_config=args.mcp_config)
    threading.Thread(target=_warm_up, name="chinwag-web-warm-up", daemon=True).start()
    one_shot = new_token() if args.open else None  # what the browser gets, in a file: see opener.py
    app = Guard(build_app(chats), token, host, port, (one_shot,) if one_shot else ())
    out.write(f"chinwag is serving on {url}\n")
    out.write("Ctrl-C stops it.\n")
    out.flush()
    opener = None
    if one_shot:
        from chinwag.web.opener import open_in_browser, write_opener

        opener = write_opener(f"http://{shown}:{port}/?token={one_shot}")
        open_in_browser(opener)
    try:
        _run(app, sock, chats.stop_all)
    finally:
        chats.close()
        if opener:
            from chinwag.web.opener import remove_opener

            remove_opener(opener)
    return 0


def _check_history_once(environ: Mapping[str, str]) -> None:
    """Check the history database's bytes once, before any connection is open.

    The server holds several SQLite connections to the history at once (one
    per conversation being chatted in, one for reading). `store_check` reads
    the file's bytes with plain reads before each recorder opens it; closing
    such a file in a process that holds SQLite connections to it drops their
    POSIX locks (fcntl locks belong to the process, not the descriptor), and
    a terminal chat closing its last connection then deletes the WAL under
    ours, losing what we save. So the check is made here, once, and not again
    while the server runs. (Stopgap until store_check reads the bytes only
    when no connection is open; see the web module's report.)"""
    from chinwag.history import check as store_check
    from chinwag.paths import database_file

    store_check.refuse_if_damaged(database_file(environ))
    setattr(store_check, "damage_in_files", _checked_at_start)  # mypy refuses assigning to a module function


def _checked_at_start(path: Path) -> str | None:
    return None


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        hint = "; try another --port" if exc.errno == errno.EADDRINUSE else ""
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}{hint}.") from exc
    sock.listen(128)
    return sock


def _run(app: object, sock: socket.socket, stop_all: Callable[[], None]) -> None:
    """Serve until Ctrl-C (or SIGTERM). Replies still streaming are stopped
    first, so their pages get their end and the shutdown waits for nothing."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            stop_all()
            super().handle_exit(sig, frame)

    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",  # type: ignore[arg-type]
                            timeout_graceful_shutdown=2, ws="none")
    # Once shut down, uvicorn raises the signal it caught again, with the handler
    # it found: SIGTERM's default would kill us before serve's cleanup (uploads,
    # the --open file, tools and model). Ours unwinds instead, and exits 143.
    # A hang-up (the terminal serve runs in is closed) shuts down the same way,
    # and exits 129.
    import signal

    from chinwag.interrupts import Ending

    def ending(signum: int, frame: FrameType | None) -> NoReturn:
        raise Ending(signum)

    server = Server(config)
    hung_up: list[int] = []

    def hang_up(signum: int, frame: FrameType | None) -> None:
        if not hung_up:
            hung_up.append(signum)
            server.handle_exit(signal.SIGINT, frame)  # a graceful stop, as Ctrl-C asks

    main_thread = threading.current_thread() is threading.main_thread()
    previous = {sig: signal.signal(sig, handler) for sig, handler in
                ((signal.SIGTERM, ending), (signal.SIGHUP, hang_up))} if main_thread else {}
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        if not hung_up:
            raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if hung_up:
        raise Ending(signal.SIGHUP)


def _warm_up() -> None:
    """Import what the first reply needs while nobody waits (the terminal's
    REPL does the same after drawing its prompt)."""
    import importlib

    for name in ("chinwag.providers.anthropic", "chinwag.providers.openai", "httpx2", "httpcore2",
                 "pygments.lexers", "pygments.formatters.html", "chinwag.history.store", "chinwag.history.recorder"):
        try:
            importlib.import_module(name)
        except ImportError:
            pass
