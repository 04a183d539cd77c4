"""fetch_url against a real HTTP server on 127.0.0.1: text comes back capped,
redirects are followed and each hop is shown, non-text is refused, a slow
server hits the timeout, and Ctrl-C stops a fetch at once."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from chinwag.records import ToolCall
from chinwag.tools import Toolbox, ToolOutput

BIG = b"0123456789" * 20_000  # 200,000 bytes


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def send(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8",
             **headers: str) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout, Ctrl-C, a body cut short): that is the point

    def do_GET(self) -> None:
        routes = {
            "/page": lambda: self.send(200, b"<h1>hello</h1>", "text/html; charset=utf-8"),
            "/json": lambda: self.send(200, b'{"ok": true}', "application/json"),
            "/r1": lambda: self.send(301, b"", location="/r2"),
            "/r2": lambda: self.send(302, b"", location=f"http://127.0.0.1:{self.server.server_address[1]}/page"),
            "/loop": lambda: self.send(302, b"", location="/loop"),
            "/image": lambda: self.send(200, b"\x89PNG\r\n\x1a\n" + bytes(100), "image/png"),
            "/big": lambda: self.send(200, BIG),
            "/missing": lambda: self.send(404, b"not here"),
            "/escape": lambda: self.send(200, b"ok", "text/plain", x_note="fine"),
        }
        if self.path == "/slow":
            time.sleep(3)
            self.send(200, b"too late")
        elif self.path in routes:
            routes[self.path]()
        else:
            self.send(404, b"no route")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def fetch(url: str, tmp_path: Path, max_output: int = 32_768, timeout: float = 5.0) -> ToolOutput:
    box = Toolbox(["fetch_url"], {}, tmp_path, max_output=max_output, environ={}, fetch_timeout=timeout)
    return box.run(ToolCall("c1", "fetch_url", {"url": url}))


def test_fetch_always_asks(tmp_path: Path) -> None:
    verdict = Toolbox(["fetch_url"], {}, tmp_path, environ={}).verdict(ToolCall("c", "fetch_url", {"url": "x"}))
    assert verdict.ask and verdict.reason == "sends data out"


def test_a_page_comes_back_as_text(server: str, tmp_path: Path) -> None:
    out = fetch(f"{server}/page", tmp_path)
    assert (out.status, out.content, out.summary) == ("ok", "<h1>hello</h1>", "200 OK text/html · 14 B")
    assert fetch(f"{server}/json", tmp_path).content == '{"ok": true}'


def test_redirects_are_followed_and_each_hop_shown(server: str, tmp_path: Path) -> None:
    out = fetch(f"{server}/r1", tmp_path)
    assert out.status == "ok"
    assert out.summary == f"200 OK text/html · 14 B · via 301 → {server}/r2, 302 → {server}/page"
    assert out.content == f"[redirected: 301 → {server}/r2, 302 → {server}/page]\n<h1>hello</h1>"


def test_a_redirect_loop_gives_up(server: str, tmp_path: Path) -> None:
    out = fetch(f"{server}/loop", tmp_path)
    assert out.status == "error" and out.summary.startswith("more than 10 redirects")


def test_non_text_is_refused(server: str, tmp_path: Path) -> None:
    out = fetch(f"{server}/image", tmp_path)
    assert out.status == "error"
    assert "image/png, not text" in out.content
    assert out.summary == "200 OK · image/png refused (not text)"


def test_a_big_body_is_cut(server: str, tmp_path: Path) -> None:
    out = fetch(f"{server}/big", tmp_path, max_output=1000)
    assert out.content == BIG[:1000].decode() + "\n[… 199,000 more bytes cut]"
    assert out.summary == "200 OK text/plain · 195 KB (cut)"


def test_an_error_status_is_an_error_with_its_body(server: str, tmp_path: Path) -> None:
    out = fetch(f"{server}/missing", tmp_path)
    assert (out.status, out.content, out.summary) == ("error", "not here", "404 Not Found text/plain · 8 B")


def test_a_slow_server_hits_the_timeout(server: str, tmp_path: Path) -> None:
    start = time.monotonic()
    out = fetch(f"{server}/slow", tmp_path, timeout=0.5)
    assert time.monotonic() - start < 2
    assert out.status == "error" and out.summary == "timed out after 0.5 s"


def test_refused_connections_and_bad_schemes_are_errors(refused_url: str, tmp_path: Path) -> None:
    out = fetch(refused_url, tmp_path)
    assert out.status == "error" and "ConnectError" in out.content
    bad = fetch("file:///etc/passwd", tmp_path)
    assert bad.status == "error" and "not an http:// or https:// URL" in bad.content


def test_ctrl_c_stops_a_fetch_at_once(server: str, tmp_path: Path) -> None:
    main = threading.main_thread().ident
    assert main is not None
    sent: list[float] = []

    def press_ctrl_c() -> None:
        time.sleep(0.3)
        sent.append(time.monotonic())
        signal.pthread_kill(main, signal.SIGINT)

    threading.Thread(target=press_ctrl_c).start()
    with pytest.raises(KeyboardInterrupt):
        fetch(f"{server}/slow", tmp_path)
    assert time.monotonic() - sent[0] < 1.5  # the server holds for 3 s: a hang guard, load-proof
