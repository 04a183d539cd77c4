"""Fixtures shared by the whole test suite.

Fakes live in `tests/fakes/` (scripted servers, a recording sleep); raw wire
transcripts in `tests/fixtures/`. Keep this file to fixtures, plus the two
hooks below: markers from what a test uses (tests/markers.py), and SIGINT
restored for children when pytest runs as a background job.
"""

from __future__ import annotations

import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.fakes.server import ScriptedServer
from tests.fakes.sleep import RecordingSleep
from tests.markers import mark

if TYPE_CHECKING:
    from tests.test_web_support import Served


def pytest_configure(config: pytest.Config) -> None:
    # A background job (`pytest &`) starts with SIGINT ignored, and every child inherits
    # that through exec: the Ctrl-C tests' chinwag would never see their Ctrl-C. A handler
    # (unlike SIG_IGN) is reset to the default in each child, as from a foreground shell.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    mark(items)


@pytest.fixture
def scripted_server() -> Iterator[ScriptedServer]:
    """A fresh scripted Anthropic/OpenAI server on 127.0.0.1 for one test."""
    with ScriptedServer() as server:
        yield server


@pytest.fixture
def fake(scripted_server: ScriptedServer) -> ScriptedServer:
    """The page tests' name for the scripted server the page's chats talk to."""
    return scripted_server


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium (Debian's), one per test module; see tests/test_web_support.py."""
    from tests.test_web_support import chromium

    with chromium() as launched:
        yield launched


@pytest.fixture
def fake_sleep() -> RecordingSleep:
    """Pass as a provider's `sleep`: records retry delays, waits for none."""
    return RecordingSleep()


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A base URL on 127.0.0.1 where connections are refused: the port is
    bound (so nobody else can take it) but never listens."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


# -- shared by several test files (moved here from them) ---------------------------

@pytest.fixture
def work(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


@pytest.fixture
def home(tmp_path: Path) -> Path:
    folder = tmp_path / "home"
    folder.mkdir()
    return folder


@pytest.fixture
def server(scripted_server: ScriptedServer) -> ScriptedServer:
    """The tool tests' name for the scripted server."""
    return scripted_server


@pytest.fixture()
def served(tmp_path: Path, fake: ScriptedServer) -> Iterator[Served]:
    """`chinwag serve` on the scripted server, for the page tests (tests/test_web_support.py)."""
    from tests.cli_helpers import anthropic_env
    from tests.test_web_support import serve

    with serve(anthropic_env(tmp_path / "home", fake.base_url)) as served:
        yield served


@pytest.fixture()
def page(browser: Any, served: Served) -> Iterator[Any]:
    """The page of `served` in Chromium, model list loaded (tests/test_web_support.py `open_page`)."""
    from tests.test_web_support import open_page

    page = open_page(browser, served.url)
    yield page
    page.context.close()
