"""Conformance: the official SDKs are the reference.

Each scripted reply is read twice from the same server, once by the official
`anthropic` / `openai` SDK and once by chinwag's provider, and both must see
the same text (chunk by chunk), usage and stop reason. The scripted server is
checked the same way: if the SDKs can read it, it speaks the documented wire
format. Requests are compared too: ours must carry what the SDKs send.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import anthropic
import openai
import pytest

from chinwag.events import Event, Stop, TextDelta, ThinkingDelta, ToolCallReady, ToolCallStart, ToolInputDelta, Usage
from chinwag.providers.anthropic import AnthropicProvider
from chinwag.records import ChatRequest, Message
from chinwag.providers.openai import OpenAIProvider
from tests.fakes.server import RecordedRequest, Reply, ScriptedServer

CLAUDE = "claude-sonnet-4-20250514"
GPT = "gpt-4o-mini"
SYSTEM = "Be brief."
# OpenAI finish reasons in chinwag's vocabulary (see chinwag.events.Stop).
NORMALISED = {"stop": "end_turn", "length": "max_tokens"}
APIS = ["anthropic", "openai"]


@dataclass
class Outcome:
    chunks: list[str]
    input_tokens: int | None
    output_tokens: int | None
    stop_reason: str | None


# -- the reference: the official SDKs ------------------------------------


def sdk_anthropic(server: ScriptedServer, messages: list[dict[str, str]], stream: bool = True) -> Outcome:
    with anthropic.Anthropic(api_key="test-key", base_url=server.base_url, max_retries=0) as client:
        if not stream:
            message = client.messages.create(model=CLAUDE, max_tokens=200, system=SYSTEM, messages=messages)
            chunks = [block.text for block in message.content if block.type == "text"]
        else:
            with client.messages.stream(model=CLAUDE, max_tokens=200, system=SYSTEM, messages=messages) as s:
                chunks = [text for text in s.text_stream if text]
                message = s.get_final_message()
    return Outcome(chunks, message.usage.input_tokens, message.usage.output_tokens, message.stop_reason)


def sdk_openai(server: ScriptedServer, messages: list[dict[str, str]], stream: bool = True) -> Outcome:
    full = [{"role": "system", "content": SYSTEM}, *messages]
    with openai.OpenAI(api_key="test-key", base_url=server.base_url + "/v1", max_retries=0) as client:
        if not stream:
            completion = client.chat.completions.create(model=GPT, max_tokens=200, messages=full)
            choice = completion.choices[0]
            usage = completion.usage
            return Outcome(
                [choice.message.content] if choice.message.content else [],
                usage.prompt_tokens if usage else None,
                usage.completion_tokens if usage else None,
                NORMALISED.get(choice.finish_reason, choice.finish_reason),
            )
        chunks: list[str] = []
        finish = None
        usage = None
        for chunk in client.chat.completions.create(
            model=GPT, max_tokens=200, messages=full, stream=True, stream_options={"include_usage": True},
        ):
            usage = chunk.usage or usage
            for choice in chunk.choices:
                if choice.delta.content:
                    chunks.append(choice.delta.content)
                finish = choice.finish_reason or finish
    return Outcome(
        chunks,
        usage.prompt_tokens if usage else None,
        usage.completion_tokens if usage else None,
        NORMALISED.get(finish, finish) if finish else None,
    )


# -- ours -------------------------------------------------------------------


CONTENT_BESIDE_TEXT = (ThinkingDelta, ToolCallStart, ToolInputDelta, ToolCallReady)


def provider(api: str, server: ScriptedServer) -> AnthropicProvider | OpenAIProvider:
    if api == "anthropic":
        return AnthropicProvider(api_key="test-key", base_url=server.base_url, max_retries=0)
    return OpenAIProvider(api_key="test-key", base_url=server.base_url + "/v1", max_retries=0)


def ours(api: str, server: ScriptedServer, messages: list[dict[str, str]], stream: bool = True) -> Outcome:
    request = ChatRequest(
        model=CLAUDE if api == "anthropic" else GPT,
        messages=tuple(Message(m["role"], m["content"]) for m in messages),  # type: ignore[arg-type]
        system=SYSTEM,
        max_tokens=200,
        stream=stream,
    )
    ours = provider(api, server)
    try:
        return outcome_of(list(ours.stream(request)))
    finally:
        ours.close()


def outcome_of(events: list[Event]) -> Outcome:
    """The text events must be: TextDelta..., Usage, Stop; nothing else, in that order.
    Thinking and tool calls (tests/test_tool_conformance.py checks them) may come between."""
    events = [e for e in events if not isinstance(e, CONTENT_BESIDE_TEXT)]
    kinds = [type(e).__name__ for e in events]
    n = len(kinds) - 2
    assert kinds == ["TextDelta"] * n + ["Usage", "Stop"], kinds
    usage, stop = events[-2], events[-1]
    assert isinstance(usage, Usage) and isinstance(stop, Stop)
    return Outcome([e.text for e in events[:-2] if isinstance(e, TextDelta)], usage.input_tokens,
                   usage.output_tokens, stop.reason)


def sdk(api: str, server: ScriptedServer, messages: list[dict[str, str]], stream: bool = True) -> Outcome:
    return (sdk_anthropic if api == "anthropic" else sdk_openai)(server, messages, stream)


HI = [{"role": "user", "content": "Hi"}]


def both(api: str, server: ScriptedServer, reply: Reply, stream: bool = True) -> tuple[Outcome, Outcome]:
    server.enqueue(reply, reply)
    return sdk(api, server, HI, stream), ours(api, server, HI, stream)


# -- scripted replies ------------------------------------------------------

UNICODE = ["Hé", "llo 👋🏽", " 世界", " — ", "👨‍👩‍👧", " naïve\n", "Здравствуй"]

SCRIPTS = {
    "plain": lambda: Reply(chunks=["Hel", "lo"]),
    "unicode": lambda: Reply(chunks=UNICODE),
    "unicode-split-across-http-chunks": lambda: Reply(chunks=UNICODE, fragment=3),
    "unknown-events": lambda: Reply(chunks=["Hel", "lo", " there"], unknown_events=True),
    "max-tokens": lambda: Reply(chunks=["Cut"], stop_reason="max_tokens", input_tokens=99, output_tokens=7),
    "long-2000-chunks": lambda: Reply(chunks=[f"w{i} " for i in range(2000)]),
}


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("name", list(SCRIPTS))
def test_streamed_reply_matches_the_official_sdk(scripted_server: ScriptedServer, api: str, name: str) -> None:
    reply = SCRIPTS[name]()
    reference, got = both(api, scripted_server, reply)
    expected = Outcome(reply.chunks, reply.input_tokens, reply.completion_tokens, reply.stop_reason)
    assert reference == expected  # the fake speaks a format the SDK reads
    assert got == reference


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("name", ["plain", "unicode", "unknown-events", "max-tokens"])
def test_whole_reply_without_streaming_matches_the_official_sdk(
    scripted_server: ScriptedServer, api: str, name: str
) -> None:
    reply = SCRIPTS[name]()
    reference, got = both(api, scripted_server, reply, stream=False)
    assert reference == Outcome([reply.text], reply.input_tokens, reply.completion_tokens, reply.stop_reason)
    assert got == reference


TRANSCRIPTS = [
    ("anthropic", "anthropic_basic.sse", ["Hello", "! How can I", " help you today?"], 25, 12, "end_turn"),
    ("anthropic", "anthropic_thinking_tool.sse", ["Let me check ", "the weather in São Paulo ☀️."], 472, 89,
     "tool_use"),
    ("anthropic", "anthropic_crlf_nospace.sse", ["Line one\n", "line two."], 7, 5, "max_tokens"),
    ("openai", "openai_basic.sse", ["Hello", "! How can I", " help you today?"], 19, 10, "end_turn"),
    ("openai", "openai_llamacpp.sse", ["Bonjour", " à tous, 你好", " 🎉"], 31, 3, "max_tokens"),
]


@pytest.mark.parametrize(("api", "fixture", "chunks", "input_tokens", "output_tokens", "stop"), TRANSCRIPTS)
def test_recorded_transcript_reads_the_same_as_the_official_sdk(
    scripted_server: ScriptedServer, api: str, fixture: str, chunks: list[str],
    input_tokens: int, output_tokens: int, stop: str,
) -> None:
    reference, got = both(api, scripted_server, Reply.from_fixture(fixture))
    assert reference == Outcome(chunks, input_tokens, output_tokens, stop)
    assert got == reference


# -- what goes over the wire -----------------------------------------------

HISTORY = [
    {"role": "user", "content": "Explain how a CPU works in one paragraph."},
    {"role": "assistant", "content": "A CPU fetches, decodes and executes instructions…"},
    {"role": "user", "content": "And a GPU? 🙂"},
    {"role": "assistant", "content": "Many simpler cores, run in parallel."},
    {"role": "user", "content": "Thanks."},
]


def sdk_and_our_requests(api: str, server: ScriptedServer) -> tuple[RecordedRequest, RecordedRequest]:
    server.enqueue(Reply(), Reply())
    sdk(api, server, HISTORY)
    ours(api, server, HISTORY)
    reference, got = server.requests
    return reference, got


def bearer(request: RecordedRequest) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token if scheme == "Bearer" else None


def test_anthropic_request_carries_what_the_sdk_sends(scripted_server: ScriptedServer) -> None:
    reference, got = sdk_and_our_requests("anthropic", scripted_server)
    assert (reference.method, reference.path) == (got.method, got.path) == ("POST", "/v1/messages")
    # The API documents `x-api-key`; anthropic 2.x sends the same key as a bearer token.
    assert reference.headers.get("x-api-key", bearer(reference)) == "test-key"
    assert got.headers["x-api-key"] == "test-key"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", reference.headers["anthropic-version"])
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", got.headers["anthropic-version"])
    assert reference.headers["content-type"] == got.headers["content-type"] == "application/json"
    fields = ["model", "max_tokens", "messages", "system", "stream"]
    assert {k: got.json.get(k) for k in fields} == {k: reference.json.get(k) for k in fields}
    assert got.json == {"model": CLAUDE, "max_tokens": 200, "messages": HISTORY, "system": SYSTEM, "stream": True}


def test_openai_request_carries_what_the_sdk_sends(scripted_server: ScriptedServer) -> None:
    reference, got = sdk_and_our_requests("openai", scripted_server)
    assert (reference.method, reference.path) == (got.method, got.path) == ("POST", "/v1/chat/completions")
    assert bearer(reference) == bearer(got) == "test-key"
    assert reference.headers["content-type"] == got.headers["content-type"] == "application/json"
    system_first = [{"role": "system", "content": SYSTEM}, *HISTORY]
    assert reference.json["messages"] == got.json["messages"] == system_first
    assert reference.json["model"] == got.json["model"] == GPT
    assert reference.json["stream"] is got.json["stream"] is True
    assert reference.json["stream_options"] == got.json["stream_options"] == {"include_usage": True}
    # The SDK sends the limit under the name the caller used (here max_tokens);
    # either name is accepted from us, exactly one of them, with the right value.
    assert reference.json["max_tokens"] == 200
    limits = {k: v for k, v in got.json.items() if k in ("max_tokens", "max_completion_tokens")}
    assert list(limits.values()) == [200]


@pytest.mark.parametrize("api", APIS)
def test_history_is_sent_exactly_as_given_with_no_empty_message(scripted_server: ScriptedServer, api: str) -> None:
    _, got = sdk_and_our_requests(api, scripted_server)
    sent = got.json["messages"]
    if api == "openai":
        assert sent[0] == {"role": "system", "content": SYSTEM}
        sent = sent[1:]
    assert sent == HISTORY
    assert all(isinstance(m["content"], str) and m["content"].strip() for m in got.json["messages"])


@pytest.mark.parametrize("api", APIS)
def test_whole_reply_request_omits_streaming(scripted_server: ScriptedServer, api: str) -> None:
    both(api, scripted_server, Reply(), stream=False)
    reference, got = scripted_server.requests
    assert not reference.json.get("stream")
    assert not got.json.get("stream")
    assert "stream_options" not in got.json


# -- model listing ----------------------------------------------------------


def test_model_list_matches_the_official_sdks() -> None:
    models = ["claude-sonnet-4-20250514", "claude-3-5-haiku-20241022", "gpt-4o-mini"]
    with ScriptedServer(models=models) as server:
        with anthropic.Anthropic(api_key="test-key", base_url=server.base_url, max_retries=0) as a:
            assert [m.id for m in a.models.list()] == models
        with openai.OpenAI(api_key="test-key", base_url=server.base_url + "/v1", max_retries=0) as o:
            assert [m.id for m in o.models.list()] == models
        for api in APIS:
            ours = provider(api, server)
            assert ours.list_models() == models
            ours.close()
        listing: list[Any] = [(r.path, "anthropic-version" in r.headers) for r in server.requests]
        assert listing == [("/v1/models", True), ("/v1/models", False)] * 2
