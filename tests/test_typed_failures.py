"""A failed reply keeps its typed error, end to end.

`chinwag.Chat` against the scripted server (real HTTP, both wires) answering
401, 529 and "the prompt is too long": `reply.failure` is the error's class,
`reply.error` its message, `reply.raise_for_status()` and
`ask(..., raise_errors=True)` raise it. The session halves the history on a
`ContextOverflow`, which each provider decides where it reads the server's
answer (an error code or type, or the words a server without one uses), and
on nothing else: the wording of a message no longer matters downstream.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from chinwag import AuthError, Chat, ChinwagError, ContextOverflow, Overloaded, ProviderError, TextDelta
from chinwag.events import Event, Notice
from chinwag.config import Settings
from chinwag.conversation import Conversation
from chinwag.providers.anthropic import AnthropicProvider
from chinwag.providers.base import Provider
from chinwag.providers.local import LocalProvider
from chinwag.providers.openai import OpenAIProvider
from chinwag.records import Message, Reply, Window
from chinwag.session import Session
from tests.cli_helpers import chinwag_env, run_chinwag
from tests.fakes import reply as fake
from tests.fakes.server import ScriptedServer

WIRES = ["anthropic", "openai"]
TOO_LONG = {  # each wire's own way of saying it, as the real APIs do
    "anthropic": fake.Reply(status=400, error_message="prompt is too long: 215000 tokens > 200000 maximum"),
    "openai": fake.Reply(status=400, error_code="context_length_exceeded",
                         error_message="This model's maximum context length is 128000 tokens. However, your "
                                       "messages resulted in 130000 tokens. Please reduce the length of the messages."),
}
OVERLOADED = fake.Reply(status=529, headers={"retry-after-ms": "1"})  # three of them: past the two retries
FAILURES: list[tuple[str, list[fake.Reply], type[ProviderError]]] = [
    ("401", [fake.Reply(status=401)], AuthError),
    ("529", [OVERLOADED, OVERLOADED, OVERLOADED], Overloaded),
    ("too long", [], ContextOverflow),  # the wire's TOO_LONG
]


ChatOn = Callable[[str], Chat]


@pytest.fixture
def chat_on(scripted_server: ScriptedServer, tmp_path: Path) -> Iterator[ChatOn]:
    """`chat_on(wire)`: a Chat talking to the scripted server in that wire's format, closed afterwards."""
    chats: list[Chat] = []

    def make(wire: str) -> Chat:
        environ = {"CHINWAG_HOME": str(tmp_path)}
        if wire == "anthropic":
            chat = Chat("claude-x", api_key="test-key", base_url=scripted_server.base_url, environ=environ)
        else:
            chat = Chat("openai:test-model", api_key="test-key", base_url=scripted_server.base_url + "/v1",
                        environ=environ)
        chats.append(chat)
        return chat

    yield make
    for chat in chats:
        chat.close()


def _script(server: ScriptedServer, wire: str, replies: list[fake.Reply]) -> None:
    server.enqueue(*(replies or [TOO_LONG[wire]]))


@pytest.mark.parametrize("wire", WIRES)
@pytest.mark.parametrize(("name", "replies", "kind"), FAILURES, ids=[f[0] for f in FAILURES])
def test_a_failed_reply_keeps_its_typed_error_and_raises_it_on_request(
        chat_on: ChatOn, scripted_server: ScriptedServer, wire: str, name: str,
        replies: list[fake.Reply], kind: type[ProviderError]) -> None:
    chat = chat_on(wire)
    _script(scripted_server, wire, replies)
    reply = chat.ask("hi")
    assert reply.status == "error" and type(reply.failure) is kind
    assert reply.error == reply.failure.message  # the text every reader had stays
    with pytest.raises(kind) as raised:
        reply.raise_for_status()
    assert raised.value is reply.failure

    _script(scripted_server, wire, replies)
    with pytest.raises(kind) as raised:
        chat.ask("hi again", raise_errors=True)
    assert isinstance(raised.value, ChinwagError)
    # Raising comes after the turn is recorded, as the default's reply would be.
    assert [m.content for m in chat.messages] == ["hi", "hi again"]


@pytest.mark.parametrize("wire", WIRES)
def test_the_default_stays_a_reply_not_an_exception(chat_on: ChatOn, scripted_server: ScriptedServer, wire: str) -> None:
    chat = chat_on(wire)
    scripted_server.enqueue(fake.Reply(status=401), fake.Reply(chunks=["Fine."]))
    assert chat.ask("hi").status == "error"
    reply = chat.ask("again", raise_errors=True)
    assert reply.status == "complete" and reply.failure is None and reply.error is None
    reply.raise_for_status()  # a complete reply raises nothing


@pytest.mark.parametrize("wire", WIRES)
def test_a_stream_raises_its_failure_after_the_text_that_came_when_asked(
        chat_on: ChatOn, scripted_server: ScriptedServer, wire: str) -> None:
    chat = chat_on(wire)
    scripted_server.enqueue(fake.Reply(chunks=["Half ", "a reply"], drop_after=1))
    texts: list[str] = []
    with pytest.raises(ProviderError) as raised:
        for event in chat.stream("tell me", raise_errors=True):
            if isinstance(event, TextDelta):
                texts.append(event.text)
    assert texts == ["Half "] and "dropped" in raised.value.message
    assert chat.messages[-1].content == "Half "  # the partial reply is kept all the same


@pytest.mark.parametrize("wire", WIRES)
def test_a_stopped_stream_raises_nothing(chat_on: ChatOn, scripted_server: ScriptedServer, wire: str) -> None:
    chat = chat_on(wire)
    scripted_server.enqueue(fake.Reply(chunks=["First ", "second"], hold_after=1))
    stream = chat.stream("go", raise_errors=True)
    assert next(e for e in stream if isinstance(e, TextDelta)).text == "First "
    stream.close()  # type: ignore[attr-defined]  # a generator
    assert scripted_server.wait_closed(1, timeout=5)
    assert chat.messages[-1].content == "First "


def test_a_reply_without_its_error_object_keeps_its_text() -> None:
    """A reply rebuilt from saved text (the store keeps no error object) still
    says why, and raises a ChinwagError with that text; a stopped one raises nothing."""
    saved = Reply(text="Half", status="interrupted", error="the connection dropped mid-reply.")
    assert saved.failure is None and saved.error == "the connection dropped mid-reply."
    with pytest.raises(ChinwagError, match="the connection dropped mid-reply"):
        saved.raise_for_status()
    Reply(text="Half", status="interrupted", error="stopped", cancelled=True).raise_for_status()
    assert saved.message == Message("assistant", "Half")


def test_a_failed_turn_saved_and_read_back_from_history(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    """The failure object is never written: the history still shows the failed
    reply, and `-c` goes on from it."""
    env = chinwag_env(tmp_path, ANTHROPIC_API_KEY="k", ANTHROPIC_BASE_URL=scripted_server.base_url)
    scripted_server.enqueue(fake.Reply(chunks=["Half "], drop_after=1))
    failed = run_chinwag(["first"], env)
    assert failed.returncode == 1 and "dropped" in failed.stderr
    shown = run_chinwag(["history", "show", "1"], env)
    assert shown.returncode == 0 and "Half" in shown.stdout and "interrupted" in shown.stdout
    scripted_server.enqueue(fake.Reply(chunks=["Answered."]))
    again = run_chinwag(["-c", "second"], env)
    assert again.returncode == 0 and again.stdout == "Answered.\n", again.stderr
    assert [m["content"] for m in scripted_server.requests[-1].json["messages"]] == ["first", "Half ", "second"]


# -- halving the history: decided by the provider's type, never by the words ---------------------------

def _turns(n: int, size: int = 100) -> list[Message]:
    messages = []
    for i in range(n):
        messages += [Message("user", f"question {i} " + "x" * size), Message("assistant", f"answer {i} " + "y" * size)]
    return messages


def _halves(session: Session) -> Reply:
    session.conversation.messages = _turns(20)
    return session.ask("latest", [])


def _http_session(provider: Provider, name: str) -> Session:
    settings = Settings(provider=name, model="m", system="s", max_tokens=100, temperature=None)
    return Session(settings, provider, Conversation("s"))


OVERFLOWS = {  # how real servers say it, each in its own shape; words that no regular expression knew included
    "anthropic": ("anthropic", fake.Reply(status=400, error_message="input length and `max_tokens` exceed context "
                                          "limit: 188240 + 21333 > 200000, decrease input length or `max_tokens` "
                                          "and try again")),
    "openai code, new words": ("openai", fake.Reply(status=400, error_code="context_length_exceeded",
                                                    error_message="Your input is over this deployment's budget.")),
    "llama-server type": ("openai", fake.Reply(status=400, error_json={"error": {
        "code": 400, "type": "exceed_context_size_error", "n_prompt_tokens": 9000, "n_ctx": 4096,
        "message": "the request (9000 tokens) is over what this slot holds (4096 tokens)"}})),
    "llama-server in the stream": ("openai", fake.Reply(chunks=["never sent"], error_after=0,
                                                        error_type="exceed_context_size_error")),
    "vllm": ("openai", fake.Reply(status=400, error_json={
        "object": "error", "type": "BadRequestError", "param": None, "code": 400,
        "message": "This model's maximum context length is 4096 tokens. However, you requested 9000 tokens "
                   "(8900 in the messages, 100 in the completion). Please reduce the length of the messages."})),
    "tgi": ("openai", fake.Reply(status=422, error_json={
        "error": "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096. "
                 "Given: 9000 `inputs` tokens and 100 `max_new_tokens`", "error_type": "validation"})),
    "ollama": ("openai", fake.Reply(status=400, error_message="prompt too long; exceeded max context length by 4904 tokens")),
}


@pytest.mark.parametrize("case", list(OVERFLOWS))
def test_an_overflow_from_each_server_halves_the_history(scripted_server: ScriptedServer, case: str) -> None:
    wire, too_long = OVERFLOWS[case]
    scripted_server.enqueue(too_long, fake.Reply(chunks=["Fits now."]))
    if wire == "anthropic":
        session = _http_session(AnthropicProvider("test-key", scripted_server.base_url), "anthropic")
    else:
        session = _http_session(OpenAIProvider(None, scripted_server.base_url + "/v1"), "openai")
    reply = _halves(session)
    assert reply.status == "complete" and reply.text == "Fits now.", reply.error
    first, second = (r.json["messages"] for r in scripted_server.requests)
    assert len(second) < len(first) and second[-1] == {"role": "user", "content": "latest"}


@pytest.mark.parametrize("wire", WIRES)
def test_a_failure_that_only_mentions_the_context_is_not_an_overflow(scripted_server: ScriptedServer, wire: str) -> None:
    """A refused key whose message happens to speak of context length is a
    refused key: one request, no halving (a regular expression over the text said otherwise)."""
    scripted_server.enqueue(fake.Reply(status=401, error_message="key not valid for this context length tier"))
    if wire == "anthropic":
        session = _http_session(AnthropicProvider("test-key", scripted_server.base_url), "anthropic")
    else:
        session = _http_session(OpenAIProvider("test-key", scripted_server.base_url + "/v1"), "openai")
    reply = _halves(session)
    assert isinstance(reply.failure, AuthError) and len(scripted_server.requests) == 1


class _UnmeasuredLocal(LocalProvider):
    """The real bundled model in its runner, with chinwag not told its window
    (simulated: the session then sends the whole history, as to a server it
    cannot measure), so llama.cpp itself refuses the prompt."""

    def context_window(self, model: str) -> Window | None:
        return None


class _Notices(list[str]):
    """A sink that keeps the text of every Notice event."""

    def on_start(self) -> None:
        pass

    def on_event(self, event: Event, reply: Reply) -> None:
        if isinstance(event, Notice):
            self.append(event.text)

    def on_end(self, reply: Reply) -> None:
        pass


def test_the_local_model_refusing_a_long_prompt_is_an_overflow_and_halves_the_history() -> None:
    provider = _UnmeasuredLocal(context_size=256)
    history = [Message(role, f"{role} {i}: " + "lighthouse keeper in a storm " * 8)
               for i in range(6) for role in ("user", "assistant")]  # ~500 tokens: more than 256
    try:
        settings = Settings(provider="local", model="", system="Be brief.", max_tokens=4, temperature=0)
        session = Session(settings, provider, Conversation("Be brief."))
        request = session.request(history + [Message("user", "latest")])
        with pytest.raises(ContextOverflow, match="exceed context window"):  # the runner's refusal, typed
            list(provider.stream(request))
        session.conversation.messages = list(history)
        notices = _Notices()
        reply = session.ask("latest", [notices])
        assert reply.status == "complete" and reply.failure is None, reply.error
        assert len(notices) == 1 and "left out the oldest" in notices[0]
    finally:
        provider.close()
