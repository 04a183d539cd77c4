"""A history search is bounded: at most 32 words, and stopped after 2 s.

A search's cost grows far faster than its words (1,000 common words took
20 s here), and in `chinwag serve` the search holds the history reader that
opening a conversation waits for. Too many words is one clear line: exit 2
in `chinwag history search`, a 400 the page shows. A search that runs past
its time is stopped by SQLite's progress handler; the test drives that
through the store with a zero-second bound (simulated: no search within 32
words is reliably slow on a small test database).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from chinwag.errors import UsageError
from chinwag.paths import database_file
from chinwag.history.store import MAX_SEARCH_WORDS, Store
from tests.cli_helpers import anthropic_env, chinwag_env, run_chinwag
from tests.fakes.server import ScriptedServer
from tests.test_web_support import Served, serve

VOCABULARY = [f"word{i}" for i in range(30)]  # common words: every message holds most of them


def fill(path: Path, conversations: int = 20) -> None:
    rng = random.Random(18)
    store = Store.open(path)
    try:
        for _ in range(conversations):
            cid = store.start_conversation()
            for role in ("user", "assistant") * 3:
                store.add_message(cid, role, " ".join(rng.choice(VOCABULARY) for _ in range(200)))
    finally:
        store.close()


def many_words(count: int) -> list[str]:
    rng = random.Random(7000)
    return [rng.choice(VOCABULARY) for _ in range(count)]


@pytest.fixture()
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    path = database_file(chinwag_env(home))
    path.parent.mkdir(parents=True, exist_ok=True)
    fill(path)
    return home


@pytest.fixture()
def served(home: Path, fake: ScriptedServer) -> Iterator[Served]:
    with serve(anthropic_env(home, fake.base_url)) as served:
        yield served


def test_a_7000_word_search_in_the_page_is_one_clear_400_and_the_history_still_opens(served: Served) -> None:
    query = "+".join(many_words(7000))
    status, _, body = served.request("GET", f"/api/conversations?q={query}")
    assert status == 400, body[:200]
    assert json.loads(body)["error"] == f"a search can have at most {MAX_SEARCH_WORDS} words; this one has 7,000."
    status, _, body = served.request("GET", "/api/conversations/1")
    assert status == 200 and b"word" in body
    status, _, body = served.request("GET", "/api/conversations?q=" + "+".join(many_words(MAX_SEARCH_WORDS)))
    assert status == 200 and json.loads(body)["conversations"]


def test_a_7000_word_history_search_is_one_line_and_exit_2(home: Path) -> None:
    done = run_chinwag(["history", "search", *many_words(7000)], chinwag_env(home))
    assert done.returncode == 2, done.stdout[-300:]
    assert done.stderr == f"chinwag: a search can have at most {MAX_SEARCH_WORDS} words; this one has 7,000.\n"
    done = run_chinwag(["history", "search", *many_words(3)], chinwag_env(home))
    assert done.returncode == 0 and "word" in done.stdout


def test_a_search_past_its_time_is_stopped_and_the_store_reads_on(tmp_path: Path) -> None:
    fill(tmp_path / "history.db")
    store = Store.open(tmp_path / "history.db")
    try:
        with pytest.raises(UsageError, match=r"^the search took over 0 s and was stopped; search for fewer or rarer words\.$"):
            store.search(" ".join(many_words(MAX_SEARCH_WORDS)), seconds=0)
        assert store.search(" ".join(many_words(MAX_SEARCH_WORDS)))  # the handler is gone: the same search runs
        assert store.conversation(1) is not None
        assert len(store.messages(1)) == 6
    finally:
        store.close()
