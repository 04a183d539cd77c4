"""A model the page asks for that does not exist is named as the page's, not as a
--model flag nobody typed (the terminal's /model names /model). Raw HTTP to the real
`chinwag serve`, with the page's session key."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli_helpers import anthropic_env
from tests.fakes.server import ScriptedServer
from tests.test_web_support import serve


def test_an_unknown_model_from_the_page_names_the_model_picker(tmp_path: Path, fake: ScriptedServer) -> None:
    with serve(anthropic_env(tmp_path, fake.base_url)) as served:
        status, _, body = served.request("POST", "/api/chat", body=json.dumps({"text": "hi", "model": "nope:x"}).encode())
    error = json.loads(body)["error"]
    assert status == 400 and error.startswith("unknown model 'nope:x' (from the page's model picker);"), error
    assert not fake.requests
