"""A local server is still a server: what `chinwag serve` refuses, over raw HTTP.

Without the token, everything is 401 or 403 (the page, static files, the
API, the event stream); the cookie alone opens only the page's code (see
test_web_credentials.py). A forged Origin, a cross-site fetch and a DNS-rebinding Host
are refused even with the token. State changes are POST only. Every
response carries a strict CSP. API keys reach no response. It binds
127.0.0.1 unless told otherwise, and warns when told.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_helpers import CHINWAG, anthropic_env
from tests.fakes.server import Reply, ScriptedServer
from tests.test_web_support import Served, free_port, save_a_reply, serve

KEY = "sk-ant-test-0123456789abcdef"
PATHS = ["/", "/static/app.js", "/static/app.css", "/static/code.css", "/api/models",
         "/api/conversations", "/api/conversations?q=x", "/api/conversations/1",
         "/api/conversations/1/live"]


@pytest.fixture(scope="module")
def fake() -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        yield server


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, fake: ScriptedServer) -> Iterator[Served]:
    home = tmp_path_factory.mktemp("home")
    with serve(anthropic_env(home, fake.base_url, ANTHROPIC_API_KEY=KEY)) as served:
        assert b"A saved reply." in save_a_reply(served, fake)
        yield served


def test_it_prints_the_address_with_a_token_and_listens_on_127_0_0_1_only(served: Served) -> None:
    assert served.url.startswith(f"http://127.0.0.1:{served.port}/?token=")
    assert len(served.token) >= 32
    listening = subprocess.run(["ss", "-ltnH", f"sport = :{served.port}"], capture_output=True, text=True)
    if listening.returncode == 0:
        assert f"127.0.0.1:{served.port}" in listening.stdout, listening.stdout


@pytest.mark.parametrize("path", PATHS)
def test_every_request_without_the_token_is_refused(served: Served, path: str) -> None:
    status, headers, body = served.request("GET", path, cookie=False)
    assert status in (401, 403)
    assert b"A saved reply" not in body and b"<script" not in body
    assert "content-security-policy" in headers


@pytest.mark.parametrize("path", ["/api/chat", "/api/conversations/1/send", "/api/conversations/1/stop"])
def test_posts_without_the_token_are_refused_and_start_nothing(served: Served, fake: ScriptedServer, path: str) -> None:
    before = len(fake.requests)
    status, _, _ = served.request("POST", path, body=b'{"text": "hi"}', cookie=False)
    assert status in (401, 403)
    assert len(fake.requests) == before


def test_a_wrong_token_gets_403(served: Served) -> None:
    status, _, _ = served.request("GET", "/", cookie=False, headers={"Cookie": f"chinwag_{served.port}=nope"})
    assert status == 403
    status, _, _ = served.request("GET", "/?token=nope", cookie=False)
    assert status == 403


def test_the_token_in_the_address_opens_the_page_with_a_strict_cookie_that_is_not_the_token(served: Served) -> None:
    status, headers, body = served.request("GET", f"/?token={served.token}", cookie=False)
    assert status == 200 and b"/static/app.js" in body
    cookie = headers["set-cookie"]
    assert cookie.startswith(f"chinwag_{served.port}={served.page_key};")
    assert served.token not in cookie and served.session not in cookie
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    status, _, _ = served.request("GET", f"/api/conversations?token={served.token}", cookie=False)
    assert status in (401, 403)  # the address carries it to the page only
    status, _, _ = served.request("GET", f"/?token={served.token}", cookie=False,
                                  headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"})
    assert status == 200  # the printed link, followed from another site's page


def test_other_cookies_do_not_hide_the_token(served: Served) -> None:
    jar = f'other="{{\"json\": 1}}"; bad cookie; chinwag_{served.port}={served.page_key}; x=y'
    status, _, _ = served.request("GET", "/", cookie=False, headers={"Cookie": jar})
    assert status == 200


def test_a_rebinding_host_header_gets_403_even_with_the_token(served: Served) -> None:
    for host in (f"evil.example:{served.port}", "127.0.0.1:1", f"127.0.0.1.nip.io:{served.port}", ""):
        status, _, body = served.request("GET", "/api/conversations", headers={"Host": host})
        assert status == 403, host
        assert b"A saved reply" not in body
    status, _, _ = served.request("GET", "/api/conversations", headers={"Host": f"localhost:{served.port}"})
    assert status == 200


def test_a_forged_origin_gets_403_even_with_the_token(served: Served, fake: ScriptedServer) -> None:
    before = len(fake.requests)
    for origin in ("http://evil.example", f"http://127.0.0.1:{served.port}.evil.example", "null",
                   f"https://127.0.0.1:{served.port}"):
        status, _, _ = served.request("POST", "/api/chat", body=b'{"text": "hi"}', headers={"Origin": origin})
        assert status == 403, origin
        status, _, _ = served.request("GET", "/api/conversations/1", headers={"Origin": origin})
        assert status == 403, origin
    status, _, _ = served.request("GET", "/api/conversations", headers={"Sec-Fetch-Site": "cross-site"})
    assert status == 403
    status, _, _ = served.request("POST", "/api/chat", body=b'{"text": "hi"}', origin=False)
    assert status == 403  # a POST must say where it comes from
    assert len(fake.requests) == before


def test_state_changes_are_post_only(served: Served) -> None:
    for path in ("/api/chat", "/api/conversations/1/send", "/api/conversations/1/retry",
                 "/api/conversations/1/continue", "/api/conversations/1/stop"):
        status, _, _ = served.request("GET", path)
        assert status == 405, path


def test_every_response_carries_a_strict_content_security_policy(served: Served) -> None:
    for path in PATHS:
        status, headers, _ = served.request("GET", path)
        assert status in (200, 204), path
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "connect-src 'self'" in csp and "default-src 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"


def test_the_page_has_no_inline_script_and_nothing_from_elsewhere(served: Served) -> None:
    _, _, page = served.request("GET", "/")
    text = page.decode()
    assert "<script src=\"/static/app.js\"" in text
    assert text.count("<script") == text.count("<script src=\"/static/")  # every script is a file of ours
    assert not re.search(r"\son[a-z]+\s*=", text), "inline event handlers"
    for marker in ("http://", "https://", "//cdn"):
        assert marker not in text
    _, _, script = served.request("GET", "/static/app.js")
    assert b"eval(" not in script and b"new Function" not in script


def test_api_keys_reach_no_response(served: Served, fake: ScriptedServer) -> None:
    fake.enqueue(Reply(status=401, error_message=f"invalid x-api-key: {KEY}"))
    status, _, body = served.request("POST", "/api/conversations/1/send", body=b'{"text": "who am I?"}')
    assert status == 200 and b'"status": "error"' in body
    assert KEY.encode() not in body
    for path in PATHS:
        _, _, body = served.request("GET", path)
        assert KEY.encode() not in body, path
    assert fake.requests[-1].headers["x-api-key"] == KEY  # it went where it belongs


def test_listening_elsewhere_needs_host_and_warns(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen([CHINWAG, "serve", "--host", "0.0.0.0", "--port", str(port)],
                            env=anthropic_env(tmp_path, "http://127.0.0.1:9"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert "chinwag is serving on http://127.0.0.1:" in line
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert "warning: listening on 0.0.0.0" in err


def test_a_busy_port_is_one_line_and_exit_2(tmp_path: Path, served: Served) -> None:
    done = subprocess.run([CHINWAG, "serve", "--port", str(served.port)], env=anthropic_env(tmp_path, "http://127.0.0.1:9"),
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert done.stderr.startswith("chinwag: cannot listen on 127.0.0.1:") and "Traceback" not in done.stderr


def test_a_bad_port_or_host_is_one_line_and_exit_2(tmp_path: Path) -> None:
    env = anthropic_env(tmp_path, "http://127.0.0.1:9")
    for args, message in ((["--port", "70000"], "chinwag: --port must be between 0 and 65535, got 70000.\n"),
                          (["--host", "no.such.host.invalid", "--port", "0"], "chinwag: cannot listen on no.such.host")):
        done = subprocess.run([CHINWAG, "serve", *args], env=env, capture_output=True, text=True, timeout=30)
        assert done.returncode == 2, done.stderr
        assert message in done.stderr and "Traceback" not in done.stderr
