"""Leaving the chat while its warm-up runs (the history opening, MCP servers starting,
the provider and prices loading, after the first prompt is drawn).

`Session.close` used to close the provider, the tools and the history under the
warm-up's feet: it could open the history or start MCP servers after close, and
the interpreter then ended with a daemon thread still in C code (CI saw
`exit` typed at the first prompt end with 139, a segfault, once). Now close
waits for the step in progress and the warm-up stops there.

A real Session and Repl over a scripted server; the provider's warm-up step is
held on an Event so that `close` comes in the middle of it.
"""

from __future__ import annotations

import threading
import time
from io import StringIO
from pathlib import Path

from chinwag.cli.repl import Repl
from chinwag.config import resolve
from chinwag.session import open_session
from tests.cli_helpers import anthropic_env
from tests.fakes.server import ScriptedServer


def test_leaving_waits_for_the_warm_up_step_in_progress_and_skips_the_rest(
        scripted_server: ScriptedServer, tmp_path: Path) -> None:
    environ = anthropic_env(tmp_path, scripted_server.base_url)
    session = open_session(resolve(environ, tmp_path, {"model": None}), environ)
    in_step, release = threading.Event(), threading.Event()
    later_steps: list[str] = []

    def held_warm_up() -> None:
        in_step.set()
        release.wait(10)

    session.provider.warm_up = held_warm_up  # type: ignore[method-assign]
    session.warm_prices = lambda: later_steps.append("prices")  # type: ignore[method-assign]
    repl = Repl(session, StringIO(), StringIO(), environ=environ, cwd=tmp_path)
    repl._start_warm_up()
    warming = session.warming
    assert warming is not None and in_step.wait(10)
    closing = threading.Thread(target=session.close)
    closing.start()
    time.sleep(0.3)
    assert closing.is_alive(), "close did not wait for the warm-up's step in progress"
    release.set()
    closing.join(10)
    warming.join(10)
    assert not closing.is_alive() and not warming.is_alive()
    assert later_steps == []  # nothing more was loaded or started once the chat was ending
