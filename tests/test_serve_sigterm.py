"""`kill` (SIGTERM) on `chinwag serve` cleans up as Ctrl-C does, and exits 143.

A real `chinwag serve --open` process, a real upload over HTTP, a real
SIGTERM. uvicorn re-raised the captured SIGTERM with its default action once
it had shut down, so the process died before `serve`'s cleanup: the
uploaded file (the user's data) and the `--open` file stayed in the temp
folder. Found by stopping serve with `kill`, as service managers do.
"""

from __future__ import annotations

import signal
from pathlib import Path

from tests.cli_helpers import anthropic_env
from tests.fakes.server import ScriptedServer
from tests.test_web_support import serve


def _left_in(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_sigterm_deletes_uploads_and_the_open_file_and_exits_143(scripted_server: ScriptedServer,
                                                                   tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    home = tmp_path / "home"
    home.mkdir()
    env = anthropic_env(home, scripted_server.base_url, TMPDIR=str(temp), BROWSER="/bin/true")
    with serve(env, "--open") as served:
        status, _, body = served.request("POST", "/api/attach?name=notes.txt", body=b"private notes\n",
                                         headers={"Content-Type": "application/octet-stream"})
        assert status == 200, body
        kept = _left_in(temp)
        assert any(n.startswith("chinwag-uploads-") for n in kept) and any(n.startswith("chinwag-open-") for n in kept)
        assert any((temp / n).is_file() and n.startswith("chinwag-uploads-") for n in kept), kept
        served.process.send_signal(signal.SIGTERM)
        assert served.process.wait(20) == 143
    assert _left_in(temp) == []


def test_a_hang_up_deletes_the_uploads_and_exits_129(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    """The terminal `chinwag serve` runs in is closed (SIGHUP, sent here with kill)."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    home = tmp_path / "home"
    home.mkdir()
    env = anthropic_env(home, scripted_server.base_url, TMPDIR=str(temp))
    with serve(env) as served:
        status, _, body = served.request("POST", "/api/attach?name=notes.txt", body=b"private notes\n",
                                         headers={"Content-Type": "application/octet-stream"})
        assert status == 200, body
        assert _left_in(temp)
        served.process.send_signal(signal.SIGHUP)
        assert served.process.wait(20) == 129
    assert _left_in(temp) == []
