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


def test_ctrl_c_between_a_tool_round_and_the_next_request_records_the_calls_once(
        scripted_server: ScriptedServer, tmp_path: Path) -> None:
    """A Ctrl-C that lands after a round's results went back and before the next
    request was built (simulated: the recorder's `begin_reply` for the next round
    raises KeyboardInterrupt, as a SIGINT there would). The reply that asked for
    the call is recorded once: no second copy of a call after its result."""
    from chinwag.config import resolve
    from chinwag.session import open_session
    from chinwag.toolloop import ToolUse
    from tests.fakes.tool_wire import anthropic_calls

    (tmp_path / "a.txt").write_text("x\n")
    env = {"ANTHROPIC_API_KEY": "test", "ANTHROPIC_BASE_URL": scripted_server.base_url,
           "CHINWAG_HOME": str(tmp_path / "home")}
    settings = resolve(env, tmp_path, {"tools": ["list_files"]})
    session = open_session(settings, env)
    session.tool_use = ToolUse(settings.tools, tmp_path, env, None)
    try:
        recorder = session.recorder
        assert recorder is not None
        begin_reply, calls = recorder.begin_reply, []

        def interrupted_next_round(*args: object) -> None:
            calls.append(args)
            if len(calls) == 2:  # the first is the turn's own; the second starts round two
                raise KeyboardInterrupt
            begin_reply(*args)  # type: ignore[arg-type]

        recorder.begin_reply = interrupted_next_round  # type: ignore[method-assign]
        scripted_server.enqueue(anthropic_calls([("toolu_1", "list_files", {})]))
        reply = session.ask("look", [])
        recorder.begin_reply = begin_reply  # type: ignore[method-assign]
        roles = [(m.role, [b.type for b in m.blocks]) for m in session.conversation.messages]
        tool_uses = [b for m in session.conversation.messages for b in m.blocks if b.type == "tool_call"]
        results = [b for m in session.conversation.messages for b in m.blocks if b.type == "tool_result"]
        assert len(tool_uses) == 1 and len(results) == 1, roles
        assert session.conversation.messages[-1].role == "user", roles  # the results, last
        assert reply.cancelled
        scripted_server.enqueue(fake.Reply(chunks=["Next."]))
        assert session.ask("go on", []).text == "Next."
        sent = scripted_server.requests[-1].json["messages"]
        assert sum(1 for m in sent for b in m["content"] if isinstance(b, dict) and b.get("type") == "tool_use") == 1
    finally:
        session.close()
    resumed = open_session(settings, env, continue_last=True)  # the history holds the call once too
    try:
        kept = [b.type for m in resumed.conversation.messages for b in m.blocks]
        assert kept.count("tool_call") == 1 and kept.count("tool_result") == 1, kept
    finally:
        resumed.close()
