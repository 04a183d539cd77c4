"""A provider's stream cancelled from another thread (`Provider.cancel`), the
seam the page's Stop stands on: the HTTP wires close their connection (the
scripted server on 127.0.0.1 sees the close), wake a retry's back-off and
send nothing more; the bundled model's runner is told to stop and stays
usable. And `chinwag serve` stops a reply without installing an audit hook.

Real threads, a real HTTP server, the real runner process; nothing simulated."""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from chinwag.errors import LocalModelError, ProviderError, StreamInterrupted
from chinwag.events import Event, Retrying, Stop, TextDelta
from chinwag.providers.anthropic import AnthropicProvider
from chinwag.providers.local import LocalProvider
from chinwag.providers.openai import OpenAIProvider
from chinwag.records import ChatRequest, Message
from tests.cli_helpers import chinwag_env
from tests.fakes.server import Reply, ScriptedServer
from tests.procs import cpu_seconds

WIRES = ("anthropic", "openai")


def http_provider(wire: str, base_url: str) -> AnthropicProvider | OpenAIProvider:
    if wire == "anthropic":
        return AnthropicProvider(api_key="test-key", base_url=base_url)
    return OpenAIProvider(api_key="test-key", base_url=base_url + "/v1")


def request(model: str = "claude-sonnet-4-20250514", max_tokens: int = 50,
            text: str = "Hi") -> ChatRequest:
    return ChatRequest(model=model, messages=(Message("user", text),), max_tokens=max_tokens)


class Reader:
    """Iterates a stream on a thread of its own, handing each event over and
    keeping how it ended (the error raised, if any)."""

    def __init__(self, events: Iterator[Event]) -> None:
        self.events: queue.Queue[Event] = queue.Queue()
        self.error: BaseException | None = None
        self._stream = events
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            for event in self._stream:
                self.events.put(event)
        except BaseException as exc:  # noqa: BLE001 - kept for the test to look at
            self.error = exc

    def next_of(self, kind: type[Event], timeout: float = 10) -> Event:
        while True:
            event = self.events.get(timeout=timeout)
            if isinstance(event, kind):
                return event


@pytest.mark.parametrize("wire", WIRES)
def test_a_cancel_from_another_thread_closes_the_connection_of_a_held_reply(
        wire: str, fake: ScriptedServer) -> None:
    fake.enqueue(Reply(chunks=["Partial", " rest"], hold_after=1))
    provider = http_provider(wire, fake.base_url)
    try:
        reader = Reader(provider.stream(request()))
        assert reader.next_of(TextDelta) == TextDelta("Partial")
        provider.cancel()  # the reader is blocked waiting for the held rest
        assert fake.wait_closed(1, timeout=5), "the server never saw the connection close"
        reader.thread.join(5)
        assert not reader.thread.is_alive()
        assert isinstance(reader.error, StreamInterrupted) and reader.error.reason == "stopped"
        fake.enqueue(Reply(chunks=["Next."]))  # the provider goes on: a new stream is not cancelled
        events = list(provider.stream(request()))
        assert TextDelta("Next.") in events and isinstance(events[-1], Stop)
    finally:
        provider.close()


@pytest.mark.parametrize("wire", WIRES)
def test_a_cancel_wakes_a_retry_back_off_and_nothing_more_is_sent(wire: str, fake: ScriptedServer) -> None:
    fake.enqueue(Reply(status=529, headers={"retry-after": "30"}), Reply(chunks=["never asked for"]))
    provider = http_provider(wire, fake.base_url)
    try:
        reader = Reader(provider.stream(request()))
        retrying = reader.next_of(Retrying)
        assert isinstance(retrying, Retrying) and retrying.delay == 30
        provider.cancel()
        reader.thread.join(5)  # not the 30 s the server asked for
        assert not reader.thread.is_alive()
        assert isinstance(reader.error, StreamInterrupted) and reader.error.reason == "stopped"
        assert len([r for r in fake.requests if r.method == "POST"]) == 1
    finally:
        provider.close()


@pytest.mark.parametrize("wire", WIRES)
def test_a_cancel_before_the_first_event_sends_nothing(wire: str, fake: ScriptedServer) -> None:
    provider = http_provider(wire, fake.base_url)
    try:
        events = provider.stream(request())
        provider.cancel()
        with pytest.raises(ProviderError) as raised:
            next(iter(events))
        assert isinstance(raised.value, StreamInterrupted) and raised.value.reason == "stopped"
        assert not [r for r in fake.requests if r.method == "POST"]
    finally:
        provider.close()


def test_a_cancel_from_another_thread_stops_the_local_runner_which_stays_usable() -> None:
    provider = LocalProvider(context_size=2048)
    try:
        long = request(model="", max_tokens=400, text="Write a long story about a lighthouse keeper and a storm.")
        reader = Reader(provider.stream(long))
        reader.next_of(TextDelta, timeout=60)
        runner = provider.pid
        assert runner is not None
        provider.cancel()
        reader.thread.join(10)
        assert not reader.thread.is_alive()
        assert isinstance(reader.error, LocalModelError) and "stopped" in str(reader.error)
        received = [reader.events.get_nowait() for _ in range(reader.events.qsize())]
        assert not any(isinstance(e, Stop) for e in received)  # it did not run to its end
        # The runner stopped generating: measured over a second of wall time, it is idle.
        before = cpu_seconds(runner)
        threading.Event().wait(1.0)
        assert cpu_seconds(runner) - before < 0.2
        events = list(provider.stream(request(model="", max_tokens=8, text="Say yes.")))
        assert isinstance(events[-1], Stop) and provider.pid == runner  # the same runner answers next
    finally:
        provider.close()


SITECUSTOMIZE = """
import os, sys

def _record(event, args):
    if event == "sys.addaudithook":
        with open(os.environ["CHINWAG_TEST_AUDIT_LOG"], "a") as log:
            log.write("sys.addaudithook\\n")

sys.addaudithook(_record)
"""


def test_the_pages_stop_works_without_installing_an_audit_hook(tmp_path: Path, fake: ScriptedServer) -> None:
    """`chinwag serve` runs with a sitecustomize whose audit hook (installed
    first) records every later `sys.addaudithook`; a reply is streamed and
    stopped from the page's API: the server sees the close, no hook was added."""
    from tests.test_web_support import serve
    from tests.test_web_turns import post, posts

    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(SITECUSTOMIZE)
    log = tmp_path / "audit.log"
    log.touch()
    env = chinwag_env(tmp_path, OPENAI_BASE_URL=f"{fake.base_url}/v1", OPENAI_API_KEY="sk-openai-test-key",
                      CHINWAG_TEST_AUDIT_LOG=str(log),
                      PYTHONPATH=os.pathsep.join([str(hooks), os.environ.get("PYTHONPATH", "")]))
    fake.enqueue(Reply(chunks=["Partial", " rest"], hold_after=1))
    with serve(env) as served:
        result: dict[str, object] = {}
        thread = threading.Thread(target=lambda: result.update(
            zip(("status", "events", "body"), post(served, "/api/chat", text="long"))))
        thread.start()
        assert fake.wait_requests(1, timeout=10)
        while not (posts(fake) and fake.requests[-1].text_sent_at):
            assert thread.is_alive()
            threading.Event().wait(0.01)
        status, _, body = post(served, "/api/conversations/1/stop")
        assert status == 200 and body == b'{"stopped":true}'
        assert fake.wait_closed(1, timeout=5)
        thread.join(10)
        assert result["events"][-1]["status"] == "stopped"  # type: ignore[index]
    assert log.read_text() == ""
