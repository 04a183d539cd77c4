"""Hostile JSON bodies, over raw HTTP to a real `chinwag serve`: 400, never a 500.

Found by posting arrays nested 200,000 deep to every POST route that reads a
JSON body: Python's json module raised RecursionError, which the server
answered with 500 and a traceback on its terminal.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_helpers import anthropic_env
from tests.fakes.server import ScriptedServer
from tests.test_web_support import Served, save_a_reply, serve

DEEP = b"[" * 200_000 + b"]" * 200_000


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    home: Path = tmp_path_factory.mktemp("home")
    with ScriptedServer() as fake, serve(anthropic_env(home, fake.base_url)) as served:
        save_a_reply(served, fake)
        yield served


@pytest.mark.parametrize("path", ["/api/chat", "/api/conversations/1/send", "/api/conversations/1/rename",
                                  "/api/conversations/1/approve"])
def test_json_nested_too_deep_is_a_400(served: Served, path: str) -> None:
    status, _, body = served.request("POST", path, body=DEEP)
    assert status == 400, body[:300]
    status, _, _ = served.request("GET", "/api/conversations/1")
    assert status == 200  # the server is still answering
