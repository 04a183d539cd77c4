"""The cookie is not a credential: what `chinwag serve` answers a replayed cookie, over raw HTTP.

Browsers send a 127.0.0.1 cookie to every port of 127.0.0.1, so another
local server the user visits receives `chinwag_PORT=...`. Replayed, with a
forged Origin, the right Origin or none, it must read, start, stop, answer
and upload nothing: only the page and its static code open with it. Every
route of the app is tried, taken from the app itself, so a route added
later is covered too. Also here: the token-for-session-key exchange, bad
conversation ids (4xx on every route, never a 500) and `HEAD /`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from chinwag.web.app import build_app
from tests.cli_helpers import anthropic_env
from tests.fakes.server import ScriptedServer
from tests.test_web_support import Served, save_a_reply, serve

SAVED = b"A saved reply."
PUBLIC = {"/", "/static/{name}"}  # the page's code: no data in it
FILLERS = {"cid": "1", "name": "app.js", "action": "send"}
BODIES = {"/api/chat": b'{"text": "hi"}', "/api/conversations/{cid:id}/approve": b'{"id": 1, "answer": "yes"}',
          "/api/attach": b"file bytes"}


def routes() -> list[tuple[str, str, str]]:
    """(method, template, concrete path) for every route the page's app has."""
    found = []
    for route in build_app(object()).routes:  # type: ignore[arg-type]  # the routes, not their handlers, are read
        path = re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: FILLERS[m.group(1)], route.path)
        for method in sorted(route.methods or ()):
            found.append((method, route.path, path))
    return found


@pytest.fixture(scope="module")
def fake() -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        yield server


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, fake: ScriptedServer) -> Iterator[Served]:
    with serve(anthropic_env(tmp_path_factory.mktemp("home"), fake.base_url)) as served:
        assert SAVED in save_a_reply(served, fake)
        yield served


@pytest.mark.parametrize(("method", "template", "path"), routes())
@pytest.mark.parametrize("origin", ["forged", "own", "none"])
def test_the_cookie_alone_opens_no_route_with_data(served: Served, fake: ScriptedServer, method: str,
                                                   template: str, path: str, origin: str) -> None:
    before = len(fake.requests)
    headers = {"Cookie": served.cookie}  # exactly what a server on another port receives
    if origin != "none":
        headers["Origin"] = served.base if origin == "own" else "http://127.0.0.1:3000"
    status, _, body = served.request(method, path, headers=headers, body=BODIES.get(template), cookie=False,
                                     origin=False)
    if template in PUBLIC and origin != "forged":
        assert status == 200 and SAVED not in body
    else:
        assert status in (401, 403), (method, path, status, body[:200])
        assert SAVED not in body
    assert len(fake.requests) == before  # no chat ran on the user's keys


def test_the_token_in_a_cookie_is_no_credential_either(served: Served) -> None:
    """The cookie main set (the token itself), replayed: refused everywhere but the page."""
    for path in ("/api/conversations", "/api/conversations/1", "/api/conversations/1/live"):
        status, _, body = served.request("GET", path, cookie=False,
                                         headers={"Cookie": f"chinwag_{served.port}={served.token}"})
        assert status in (401, 403) and SAVED not in body, path


def test_the_session_key_reads_and_a_wrong_one_gets_401_saying_what_to_do(served: Served) -> None:
    status, _, body = served.request("GET", "/api/conversations/1")
    assert status == 200 and SAVED in body
    for key in ("", "nope", served.page_key, served.token, "ü" * 43):
        status, headers, body = served.request("GET", "/api/conversations/1", cookie=False,
                                               headers={"Cookie": served.cookie, "X-Chinwag-Session": key})
        assert status == 401, key
        assert "open the address chinwag serve printed" in json.loads(body)["error"]
        assert "content-security-policy" in headers


def test_the_exchange_needs_the_token_and_the_pages_own_origin(served: Served) -> None:
    for token in ("", "nope", served.page_key, served.session):
        status, _, body = served.request("POST", "/api/session", cookie=False, headers={"X-Chinwag-Token": token})
        assert status == 403 and served.session.encode() not in body, token
    status, _, body = served.request("POST", "/api/session", cookie=False, headers={
        "X-Chinwag-Token": served.token, "Origin": "http://127.0.0.1:3000"})
    assert status == 403 and served.session.encode() not in body
    status, _, _ = served.request("POST", "/api/session", cookie=False, origin=False,
                                  headers={"X-Chinwag-Token": served.token})
    assert status == 403  # a POST must say where it comes from
    status, _, body = served.request("POST", "/api/session", cookie=False, headers={"X-Chinwag-Token": served.token})
    assert status == 200 and json.loads(body) == {"session": served.session}


BAD_IDS = ["99999999999999999999999", "9223372036854775808", "-1", "-99999999999999999999", "abc", "1.5",
           "0x10", "%00", "1%20OR%201"]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_every_route_answers_4xx_to_a_bad_id(served: Served, fake: ScriptedServer, bad: str) -> None:
    before = len(fake.requests)
    tried = 0
    for method, template, path in routes():
        if "{cid" not in template:
            continue
        path = path.replace("/1", "/" + bad, 1)
        status, _, body = served.request(method, path, body=BODIES.get(template, b'{"text": "hi"}'))
        assert 400 <= status < 500, (method, path, status, body[:300])
        tried += 1
    assert tried >= 6
    status, _, _ = served.request("POST", "/api/conversations/1/approve",
                                  body=json.dumps({"id": int(BAD_IDS[0]), "answer": "yes"}).encode())
    assert 400 <= status < 500
    assert len(fake.requests) == before


def test_head_of_the_page_is_answered(served: Served) -> None:
    status, headers, body = served.request("HEAD", f"/?token={served.token}", cookie=False)
    assert status == 200 and body == b"" and "set-cookie" in headers
    status, headers, body = served.request("HEAD", "/")
    assert status == 200 and headers["content-type"].startswith("text/html") and body == b""
    status, _, _ = served.request("HEAD", "/", cookie=False)
    assert status == 403
