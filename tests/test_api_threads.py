"""One `Chat` used from two threads: its turns take turns.

Real threads ask one Chat at the same time, over real HTTP to the scripted
server (which streams slowly, so the two turns would overlap), saving to a
real history: each request carries exactly its own question after the
exchange before it, and both replies are complete, in the Chat and in the
history. A `stream()` holds the Chat until it is exhausted, closed or
dropped.
"""

from __future__ import annotations

import gc
import threading
from pathlib import Path

import pytest

from chinwag import Chat, TextDelta
from chinwag.errors import UsageError
from chinwag.records import Reply as ChatReply
from chinwag.history.store import Store
from tests.fakes.server import Reply, ScriptedServer


def _env(home: Path, server: ScriptedServer) -> dict[str, str]:
    return {"CHINWAG_HOME": str(home), "ANTHROPIC_API_KEY": "test-key", "ANTHROPIC_BASE_URL": server.base_url}


def test_two_threads_asking_one_chat_each_get_their_own_turn(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=["first ", "answer ", "here."], chunk_delay=0.1),
                            Reply(chunks=["second ", "answer ", "here."], chunk_delay=0.1))
    replies: dict[str, ChatReply] = {}
    start = threading.Barrier(2)
    with Chat(environ=_env(tmp_path, scripted_server)) as chat:
        def ask(question: str) -> None:
            start.wait()
            replies[question] = chat.ask(question)

        threads = [threading.Thread(target=ask, args=(q,)) for q in ("question A", "question B")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        messages = [(m.role, m.content) for m in chat.messages]
    assert all(reply.status == "complete" for reply in replies.values()), replies
    first, second = (r.json["messages"] for r in scripted_server.requests[:2])
    asked_first = first[0]["content"]
    asked_second = "question B" if asked_first == "question A" else "question A"
    assert first == [{"role": "user", "content": asked_first}]
    assert second == [{"role": "user", "content": asked_first},
                      {"role": "assistant", "content": "first answer here."},
                      {"role": "user", "content": asked_second}]
    assert replies[asked_first].text == "first answer here." and replies[asked_second].text == "second answer here."
    expected = [("user", asked_first), ("assistant", "first answer here."),
                ("user", asked_second), ("assistant", "second answer here.")]
    assert messages == expected
    store = Store.open(tmp_path / "history.db", read_only=True)
    try:
        saved = store.messages(chat.conversation_id or 0)
    finally:
        store.close()
    assert [(m.role, m.content) for m in saved] == expected
    assert [m.status for m in saved] == ["complete"] * 4


def test_a_stream_holds_the_chat_until_it_is_closed(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=["one ", "two ", "three"], hold_after=1), Reply(chunks=["Next."]))
    with Chat(environ=_env(tmp_path, scripted_server)) as chat:
        stream = chat.stream("stream this")
        first = next(stream)
        assert isinstance(first, TextDelta) and first.text == "one "
        with pytest.raises(UsageError, match="stream"):  # the same thread would wait for itself
            chat.ask("too soon")
        other: list[ChatReply] = []
        waiter = threading.Thread(target=lambda: other.append(chat.ask("after the stream")))
        waiter.start()
        waiter.join(timeout=0.5)
        assert waiter.is_alive() and len(scripted_server.requests) == 1, "the second ask did not wait its turn"
        stream.close()  # stopping early keeps the partial reply and lets the other thread in
        waiter.join(timeout=30)
        assert other and other[0].text == "Next."
    assert scripted_server.requests[1].json["messages"] == [
        {"role": "user", "content": "stream this"}, {"role": "assistant", "content": "one "},
        {"role": "user", "content": "after the stream"}]


def test_a_dropped_stream_lets_the_next_turn_in(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=["one ", "two"], hold_after=1), Reply(chunks=["Fine."]))
    with Chat(environ=_env(tmp_path, scripted_server)) as chat:
        stream = chat.stream("abandon me")
        next(stream)
        del stream  # never exhausted nor closed: dropping it closes it
        gc.collect()
        assert chat.ask("still there?").text == "Fine."
