"""Helpers for the `chinwag serve` tests (no tests here): the real command as a
subprocess on a free port, and Debian's chromium driven by Playwright.

A missing browser or Playwright fails the browser tests; it never skips them.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import select
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.cli_helpers import CHINWAG
from tests.local_servers import free_port

CHROMIUM = os.environ.get("CHINWAG_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
URL_LINE = re.compile(r"chinwag is serving on (http://127\.0\.0\.1:(\d+)/\?token=([\w-]+))")


@dataclass
class Served:
    url: str  # with ?token=
    base: str  # http://127.0.0.1:PORT
    port: int
    token: str
    process: subprocess.Popen[bytes]
    page_key: str = ""  # the cookie's value, from opening the page with the token
    session: str = ""  # what the page's call() sends in X-Chinwag-Session

    @property
    def cookie(self) -> str:
        return f"chinwag_{self.port}={self.page_key}"

    def open_as_the_page(self) -> None:
        """What the page does on opening: GET /?token= (the cookie), then the
        token exchanged for the session key."""
        _, headers, _ = self.request("GET", f"/?token={self.token}", cookie=False)
        self.page_key = headers["set-cookie"].split(";")[0].partition("=")[2]
        status, _, body = self.request("POST", "/api/session", cookie=False,
                                       headers={"X-Chinwag-Token": self.token})
        # Refused, the key stays empty and every API request says so (401) in the test that makes it.
        self.session = json.loads(body)["session"] if status == 200 else ""

    def request(self, method: str, path: str, headers: Mapping[str, str] | None = None,
                body: bytes | None = None, cookie: bool = True, origin: bool | None = None) -> tuple[int, dict[str, str], bytes]:
        """One raw request (http.client sends the headers we give, Host included);
        `cookie`: with the page's credentials (the cookie and the session key)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        sent = {"Host": f"127.0.0.1:{self.port}"}
        if cookie:
            sent["Cookie"] = self.cookie
            sent["X-Chinwag-Session"] = self.session
        if origin or (origin is None and method == "POST"):
            sent["Origin"] = self.base
        if body is not None:
            sent["Content-Type"] = "application/json"
            sent["Content-Length"] = str(len(body))
        sent.update(headers or {})
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for key, value in sent.items():
                conn.putheader(key, value)
            conn.endheaders(body)
            response = conn.getresponse()
            data = response.read()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, data
        finally:
            conn.close()


@contextmanager
def serve(env: Mapping[str, str], *extra: str, cwd: Path | None = None) -> Iterator[Served]:
    """`chinwag serve --port N` with `env` (in `cwd`), up to its first line; stopped with Ctrl-C (SIGINT) after.
    A `--port` in `extra` is the one used (a restart on the same address)."""
    port = int(extra[extra.index("--port") + 1]) if "--port" in extra else free_port()
    process = subprocess.Popen([CHINWAG, "serve", "--port", str(port), *extra], env=dict(env), cwd=cwd,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert process.stdout is not None
        line = _read_line(process, 20)
        match = URL_LINE.search(line)
        assert match, f"unexpected first line {line!r}; stderr: {_stderr(process)}"
        served = Served(match.group(1), f"http://127.0.0.1:{port}", port, match.group(3), process)
        served.open_as_the_page()
        yield served
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def _read_line(process: subprocess.Popen[bytes], timeout: float) -> str:
    assert process.stdout is not None
    fd = process.stdout.fileno()
    data = b""
    deadline = time.monotonic() + timeout
    while b"\n" not in data:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise TimeoutError(f"chinwag serve printed nothing; got {data!r}; stderr: {_stderr(process)}")
        chunk = os.read(fd, 4096)
        if not chunk:
            raise EOFError(f"chinwag serve ended: {data!r}; stderr: {_stderr(process)}")
        data += chunk
    return data.decode()


def _stderr(process: subprocess.Popen[bytes]) -> str:
    if process.poll() is None or process.stderr is None:
        return "(still running)"
    return process.stderr.read().decode(errors="replace")


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's chromium under Playwright, with a fresh profile (Playwright
    makes a new user-data-dir for each launch and removes it after). Fails
    (never skips) when either is missing: `apt-get install -y chromium`."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - the test extra installs it
        raise AssertionError("playwright is not installed: pip install -e '.[test]'") from exc
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install -y chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def save_a_reply(served: Served, fake: Any) -> bytes:
    """One conversation saved through the page's API: "hello", answered "A saved reply."
    by `fake` (a ScriptedServer); the response's body, its status asserted 200."""
    from tests.fakes.server import Reply

    fake.enqueue(Reply(chunks=["A saved reply."]))
    status, _, body = served.request("POST", "/api/chat", body=json.dumps({"text": "hello"}).encode())
    assert status == 200
    return body


def record_dialogs(page: Any) -> None:
    """Dismiss every alert/confirm the page opens, keeping its message in `page.dialogs`."""
    dialogs: list[str] = []
    page.dialogs = dialogs
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))


def wait_reply(page: Any, text: str) -> None:
    """Until the last reply on the page shows `text` (a locator wait: the
    page's CSP forbids the eval that `wait_for_function` needs)."""
    page.locator(".msg.assistant .body").last.filter(has_text=text).wait_for()


def shown_text(locator: Any) -> str:
    """`locator`'s text as the user sees it (innerText), read after the page has
    painted: a reply's finished blocks sit in `content-visibility: auto` groups,
    whose innerText is empty until the frame after they are added (Chromium lays
    them out only then), so a read straight after a wait could see nothing."""
    locator.page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    return str(locator.inner_text())


def open_page(browser: Any, url: str, timeout_ms: float = 20_000, **options: Any) -> Any:
    """A new tab (in a context of its own, 1280x800 unless `options` say otherwise)
    on `url`, once the page is ready: its model picker is filled, so its script has
    run and holds the session key. A message sent from then on is sent (and one
    sent sooner is too: nothing typed is lost). `timeout_ms`: every wait's limit,
    generous, as the machines running these are shared and sometimes loaded."""
    context = browser.new_context(**{"viewport": {"width": 1280, "height": 800}, **options})
    page = context.new_page()
    page.set_default_timeout(timeout_ms)
    page.on("console", lambda message: print("console:", message.text))
    page.goto(url)
    wait_ready(page)
    return page


def open_mcp_page(browser: Any, url: str) -> Any:
    """`open_page` for a server with MCP servers configured: waits of 60 s, as its first
    turn or listing waits for server-everything (npx, node) to start."""
    return open_page(browser, url, timeout_ms=60_000, viewport={"width": 1280, "height": 900})


def wait_ready(page: Any) -> None:
    """Wait until the page (opened or reloaded) is ready: see `open_page`."""
    page.wait_for_selector("#model option", state="attached")


def send(page: Any, text: str) -> None:
    """Type `text` in the message box and press Enter, as the user does."""
    page.fill("#input", text)
    page.press("#input", "Enter")


def wait_idle(page: Any) -> None:
    """Until the page has no turn in flight: what it was sent has been answered
    (a reply ended, or the send was refused and its words are back in the box).
    Not `#send:visible`, which is also true in the moment before the page takes
    a send it was given (it shows Stop once the server has the request)."""
    page.wait_for_function("() => !window.chinwag.state.busy")
