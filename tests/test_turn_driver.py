"""The one driver (driver.py) and the session turn's explicit phases
(session_turn.py), against the scripted server on 127.0.0.1 (real HTTP, real
threads): the phases a turn goes through as a sink sees them, a transition
the table does not allow, and `TurnDriver.stop()` from another thread ending
a held reply at once with what arrived kept (the page's Stop, without the page)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from chinwag import Chat
from chinwag.driver import TurnDriver
from chinwag.errors import StreamInterrupted
from chinwag.events import Event, TextDelta
from chinwag.records import Reply
from chinwag.session_turn import Phase, SessionTurn
from tests.fakes import reply as fake
from tests.fakes.server import ScriptedServer


@pytest.fixture
def chat(scripted_server: ScriptedServer, tmp_path: Path) -> Iterator[Chat]:
    chat = Chat("claude-x", api_key="test-key", base_url=scripted_server.base_url,
                environ={"CHINWAG_HOME": str(tmp_path)})
    yield chat
    chat.close()


class PhaseSink:
    """Notes the turn's phase at each call a sink gets, and when text first came."""

    def __init__(self, turn: SessionTurn) -> None:
        self.turn, self.seen = turn, [("start", turn.phase)]
        self.text = threading.Event()

    def on_start(self) -> None:
        self.seen.append(("on_start", self.turn.phase))

    def on_event(self, event: Event, reply: Reply) -> None:
        self.seen.append((event.type, self.turn.phase))
        if isinstance(event, TextDelta):
            self.text.set()

    def on_end(self, reply: Reply) -> None:
        self.seen.append(("on_end", self.turn.phase))


def test_a_turn_goes_from_preparing_through_streaming_to_done(chat: Chat, scripted_server: ScriptedServer) -> None:
    scripted_server.enqueue(fake.Reply(chunks=["Hello", " there."]))
    turn = chat._session.begin("hi")
    sink = PhaseSink(turn)
    reply = TurnDriver(turn, [sink]).run()
    assert reply.status == "complete" and reply.text == "Hello there."
    assert sink.seen[:2] == [("start", Phase.PREPARING), ("on_start", Phase.PREPARING)]
    assert {phase for kind, phase in sink.seen if kind == "text"} == {Phase.STREAMING}
    assert sink.seen[-1] == ("on_end", Phase.DONE)
    assert chat.messages[-1].content == "Hello there."


def test_a_transition_the_table_does_not_allow_is_refused(chat: Chat) -> None:
    turn = chat._session.begin("hi")
    with pytest.raises(AssertionError, match="cannot go from preparing to done"):
        turn._enter(Phase.DONE)
    TurnDriver(turn).end()  # never streamed: ended as a stopped turn
    assert turn.phase is Phase.DONE and turn.reply.cancelled


def test_stop_from_another_thread_ends_a_held_reply_at_once_keeping_its_text(
        chat: Chat, scripted_server: ScriptedServer) -> None:
    scripted_server.enqueue(fake.Reply(chunks=["Partial", " never sent"], hold_after=1))
    turn = chat._session.begin("tell me")
    sink = PhaseSink(turn)
    driver = TurnDriver(turn, [sink])
    ended: list[Reply] = []
    thread = threading.Thread(target=lambda: ended.append(driver.run()), daemon=True)
    thread.start()
    assert sink.text.wait(10)
    driver.stop()  # the driving thread is blocked reading the held reply
    assert scripted_server.wait_closed(1, timeout=5)
    thread.join(5)
    assert not thread.is_alive()
    reply = ended[0]
    assert reply.text == "Partial" and reply.status == "interrupted"
    assert isinstance(reply.failure, StreamInterrupted) and reply.failure.reason == "stopped"
    assert sink.seen[-1] == ("on_end", Phase.DONE)
    assert chat.messages[-1].content == "Partial"  # what arrived is kept in the conversation


def test_stop_before_the_turn_starts_sends_nothing(chat: Chat, scripted_server: ScriptedServer) -> None:
    turn = chat._session.begin("never asked")
    driver = TurnDriver(turn)
    driver.stop()
    reply = driver.run()
    assert reply.cancelled and reply.status == "interrupted"
    assert not [r for r in scripted_server.requests if r.method == "POST"]
