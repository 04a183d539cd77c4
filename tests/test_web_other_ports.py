"""What a page on another port of 127.0.0.1 gets from chinwag, in real Chromium.

Browsers do not scope cookies by port: after opening chinwag's page, a visit
to any other server on 127.0.0.1 (a dev server, another user's process)
hands it chinwag's cookie. Here that other server is a plain http.server on
a free port; it records the Cookie header Chromium sends it, and the test
replays it against chinwag as that server could. It must open nothing, and
the other page's script must find none of chinwag's storage. chinwag's page
keeps working without the token in the address: after a reload, in a new
tab, and back from the other site.

`--open`: the browser is a fake ($BROWSER, a script that records its argv
and /proc/self/cmdline, i.e. what `ps` shows) and exits; the file it was
given is then opened in Chromium as the real browser would.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest

from tests.cli_helpers import anthropic_env
from tests.fakes.server import Reply, ScriptedServer
from tests.test_web_support import Served, send, serve, wait_ready

SAVED = "A saved reply from before."


class OtherPortServer(ThreadingHTTPServer):
    """Another local server: answers every GET with a small page and keeps the Cookie headers it got."""

    def __init__(self) -> None:
        self.cookies: list[str] = []
        super().__init__(("127.0.0.1", 0), _Recorder)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Recorder(BaseHTTPRequestHandler):
    server: OtherPortServer

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.server.cookies.append(self.headers.get("Cookie", ""))
        body = b"<!doctype html><title>dev server</title><p>another app on 127.0.0.1"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture()
def other() -> Iterator[OtherPortServer]:
    server = OtherPortServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture()
def served(tmp_path: Path, fake: ScriptedServer) -> Iterator[Served]:
    with serve(anthropic_env(tmp_path / "home", fake.base_url)) as served:
        fake.enqueue(Reply(chunks=[SAVED]))
        status, _, body = served.request("POST", "/api/chat", body=json.dumps({"text": "hello"}).encode())
        assert status == 200 and SAVED.encode() in body
        yield served


def shows_the_history(page: Any) -> None:
    """The page reads the history: the saved conversation is listed and opens."""
    page.locator("#list .item").first.wait_for()
    page.locator("#list .item").first.click()
    page.locator(".msg.assistant .body").filter(has_text=SAVED).wait_for()


def test_the_cookie_another_port_receives_opens_nothing_and_the_page_still_works(
        browser: Any, served: Served, other: OtherPortServer, fake: ScriptedServer) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(served.url)
    shows_the_history(page)
    assert page.evaluate("() => localStorage.length") == 1  # the session key, kept by chinwag's origin

    page.goto(other.base + "/")
    received = other.cookies[-1]
    assert f"chinwag_{served.port}=" in received  # the browser did hand it over: the premise
    leaked = page.evaluate("() => [localStorage.length, sessionStorage.length, document.cookie]")
    assert leaked == [0, 0, ""]  # chinwag's session key is its own origin's, port included

    before = len(fake.requests)
    for origin in (served.base, other.base, None):
        headers = {"Cookie": received, **({"Origin": origin} if origin else {})}
        for method, path, body in (("GET", "/api/conversations", None), ("GET", "/api/conversations/1", None),
                                   ("GET", "/api/conversations/1/live", None),
                                   ("POST", "/api/chat", b'{"text": "spend their keys"}'),
                                   ("POST", "/api/conversations/1/approve", b'{"id": 1, "answer": "yes"}')):
            status, _, answer = served.request(method, path, headers=headers, body=body, cookie=False, origin=False)
            assert status in (401, 403), (origin, method, path, status, answer[:200])
            assert SAVED.encode() not in answer
    assert len(fake.requests) == before

    page.goto(served.base + "/")  # back, as a bookmark would: no token in the address
    shows_the_history(page)
    page.reload()
    shows_the_history(page)
    second = context.new_page()
    second.goto(served.base + "/")
    shows_the_history(second)
    context.close()


FAKE_BROWSER = """#!{python}
import json, os, sys
with open("/proc/self/cmdline", "rb") as f:
    cmdline = f.read().decode()
with open({record!r} + ".part", "w") as f:
    json.dump({{"argv": sys.argv, "cmdline": cmdline, "pid": os.getpid()}}, f)
os.rename({record!r} + ".part", {record!r})
"""


def test_open_gives_the_browser_a_private_file_not_the_token(
        tmp_path: Path, browser: Any, fake: ScriptedServer) -> None:
    record = tmp_path / "browser.json"
    fake_browser = tmp_path / "fake-browser"
    fake_browser.write_text(FAKE_BROWSER.format(python=sys.executable, record=str(record)))
    fake_browser.chmod(0o755)
    env = {**anthropic_env(tmp_path / "home", fake.base_url), "BROWSER": str(fake_browser)}
    with serve(env, "--open") as served:
        deadline = time.monotonic() + 20
        while not record.exists():
            assert time.monotonic() < deadline, "the browser was not started"
            time.sleep(0.05)
        started = json.loads(record.read_text())
        for seen in (*started["argv"], started["cmdline"]):
            assert served.token not in seen and "token=" not in seen, seen
        uri = started["argv"][-1]
        assert uri.startswith("file:///")
        opener = Path(unquote(urlparse(uri).path))
        assert stat.S_IMODE(opener.stat().st_mode) == 0o600
        assert stat.S_IMODE(opener.parent.stat().st_mode) == 0o700
        assert opener.stat().st_uid == os.getuid()
        assert served.token not in opener.read_text()  # a one-shot token instead

        page = browser.new_context().new_page()
        page.set_default_timeout(20_000)
        page.goto(uri)
        page.wait_for_url(served.base + "/")
        wait_ready(page)
        fake.enqueue(Reply(chunks=["Opened from the file."]))
        send(page, "hello")
        page.locator(".msg.assistant .body").filter(has_text="Opened from the file.").wait_for()
        page.reload()
        page.locator("#list .item").first.wait_for()

        one_shot = opener.read_text().split("token=")[1].split('"')[0]
        status, _, _ = served.request("POST", "/api/session", cookie=False, headers={"X-Chinwag-Token": one_shot})
        assert status == 403  # spent by the page's exchange
        status, _, _ = served.request("GET", f"/?token={one_shot}", cookie=False)
        assert status == 403
        page.context.close()
    assert not opener.parent.exists()  # removed when the server stopped
