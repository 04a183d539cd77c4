"""Conformance of tool calls and thinking: the official SDKs are the reference.

Each scripted reply (`tests/fakes/tool_wire.py`, or a raw transcript in
`tests/fixtures/`) is read twice from the same server: once by the official
SDK's own accumulator (anthropic `messages.stream(...).get_final_message()`,
openai `chat.completions.stream(...).get_final_completion()`), once by
chinwag's provider, its events folded into a reply by `turn.accumulate` as a
chat does. The calls (id, name, parsed input), the thinking (text and
signature), the text and the stop reason must agree.

One deliberate difference is tested against the expected calls instead:
Ollama sends parallel calls all at index 0, and the openai SDK's accumulator
merges them into one; chinwag starts a new call at each new id.

Requests are compared too: a conversation holding tool calls, their results
and signed thinking goes out as the SDK sends it, with the tools offered in
each API's shape.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import anthropic
import openai
import pytest

from chinwag.events import (
    Event,
    Stop,
    ToolCallReady,
    ToolCallStart,
    ToolInputDelta,
    Usage,
)
from chinwag.providers.anthropic import AnthropicProvider
from chinwag.providers.openai import OpenAIProvider
from chinwag.records import (
    ChatRequest,
    Message,
    Reply,
    Text,
    Thinking,
    ToolCall,
    ToolResult,
    ToolSpec,
)
from chinwag.turn import accumulate
from tests.fakes.server import Reply as Script
from tests.fakes.server import ScriptedServer
from tests.fakes.tool_wire import anthropic_calls, openai_calls

CLAUDE = "claude-sonnet-4-20250514"
GPT = "gpt-4o-mini"
SYSTEM = "Use the tools when they help."
HI = "What is in notes.txt, and the weather in São Paulo?"
APIS = ["anthropic", "openai"]
# OpenAI finish reasons in chinwag's vocabulary (chinwag.events.Stop), written
# out here rather than taken from the provider under test.
NORMALISED = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}

TOOLS = (
    ToolSpec("read_file", "Read a text file.",
             {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}),
    ToolSpec("get_weather", "Current weather for a city.",
             {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"enum": ["°C", "°F"]}},
              "required": ["city"]}),
    ToolSpec("list_files", "List the working directory.", {"type": "object", "properties": {}}),
)

# A block of a finished reply, as both sides are reduced to for comparison:
# ("text", text) | ("thinking", text, signature) | ("tool_call", id, name, input).
Part = tuple[Any, ...]


@dataclass
class Content:
    parts: list[Part]
    stop: str | None


# -- the reference: the official SDKs' accumulators ---------------------------


def sdk_anthropic(server: ScriptedServer) -> Content:
    with anthropic.Anthropic(api_key="test-key", base_url=server.base_url, max_retries=0) as client:
        with client.messages.stream(model=CLAUDE, max_tokens=200, system=SYSTEM,
                                    messages=[{"role": "user", "content": HI}]) as stream:
            message = stream.get_final_message()
    parts: list[Part] = []
    for block in message.content:
        if block.type == "text" and block.text:
            parts.append(("text", block.text))
        elif block.type == "thinking":
            parts.append(("thinking", block.thinking, block.signature))
        elif block.type == "tool_use":
            parts.append(("tool_call", block.id, block.name, block.input))
    return Content(parts, message.stop_reason)


def sdk_openai(server: ScriptedServer) -> Content:
    with openai.OpenAI(api_key="test-key", base_url=server.base_url + "/v1", max_retries=0) as client:
        with client.chat.completions.stream(model=GPT, messages=[{"role": "user", "content": HI}],
                                            stream_options={"include_usage": True}) as stream:
            completion = stream.get_final_completion()
    choice = completion.choices[0]
    message = choice.message
    parts: list[Part] = []
    extra = message.model_extra or {}  # reasoning is not in the SDK's types: it accumulates as an extra field
    reasoning = extra.get("reasoning_content") or extra.get("reasoning")
    if reasoning:
        parts.append(("thinking", reasoning, ""))
    if message.content:
        parts.append(("text", message.content))
    for call in message.tool_calls or []:
        assert call.type == "function"
        # The SDK hands over the arguments as sent; "" (or none at all) is how the API says "no arguments".
        arguments = call.function.arguments or "{}"
        parts.append(("tool_call", call.id, call.function.name, json.loads(arguments)))
    return Content(parts, NORMALISED.get(str(choice.finish_reason), choice.finish_reason))


def sdk(api: str, server: ScriptedServer) -> Content:
    return (sdk_anthropic if api == "anthropic" else sdk_openai)(server)


# -- ours ---------------------------------------------------------------------


def provider(api: str, server: ScriptedServer) -> AnthropicProvider | OpenAIProvider:
    if api == "anthropic":
        return AnthropicProvider(api_key="test-key", base_url=server.base_url, max_retries=0)
    return OpenAIProvider(api_key="test-key", base_url=server.base_url + "/v1", max_retries=0)


def request(api: str, messages: tuple[Message, ...], **kwargs: Any) -> ChatRequest:
    return ChatRequest(model=CLAUDE if api == "anthropic" else GPT, messages=messages, system=SYSTEM,
                       max_tokens=200, tools=TOOLS, **kwargs)


def our_events(api: str, server: ScriptedServer, messages: tuple[Message, ...] = (Message("user", HI),),
               **kwargs: Any) -> list[Event]:
    ours = provider(api, server)
    try:
        return list(ours.stream(request(api, messages, **kwargs)))
    finally:
        ours.close()


def folded(events: list[Event]) -> Reply:
    """The reply a chat would record from `events`."""
    reply = Reply()
    for event in events:
        reply = accumulate(reply, event, 0.0)
    return reply


def content_of(events: list[Event]) -> Content:
    """What `events` amount to, after checking the tool-call events agree with each other."""
    check_call_events(events)
    reply = folded(events)
    parts: list[Part] = []
    for block in reply.blocks or ((Text(reply.text),) if reply.text else ()):
        if isinstance(block, Text):
            parts.append(("text", block.text))
        elif isinstance(block, Thinking):
            parts.append(("thinking", block.text, block.signature))
        elif isinstance(block, ToolCall):
            parts.append(("tool_call", block.id, block.name, dict(block.input)))
    return Content(parts, reply.stop_reason)


def check_call_events(events: list[Event]) -> None:
    """Usage then Stop end the stream; each call is announced (id, name) before its
    input fragments, and the fragments join into the JSON of its final input."""
    assert [type(e) for e in events[-2:]] == [Usage, Stop]
    started: dict[str, str] = {}
    pieces: dict[str, list[str]] = {}
    for event in events:
        if isinstance(event, ToolCallStart):
            assert event.id not in started, f"call {event.id} started twice"
            started[event.id] = event.name
            pieces[event.id] = []
        elif isinstance(event, ToolInputDelta):
            assert event.id in started, f"input for {event.id} before its start"
            pieces[event.id].append(event.json)
        elif isinstance(event, ToolCallReady):
            assert started.get(event.id) == event.name
            # Joined as UTF-16 would be: a character's halves may come in two fragments.
            text = "".join(pieces[event.id]).encode("utf-16-le", "surrogatepass").decode("utf-16-le")
            assert dict(event.input) == (json.loads(text) if text else {})


def ours(api: str, server: ScriptedServer) -> Content:
    return content_of(our_events(api, server))


def both(api: str, server: ScriptedServer, script: Script) -> tuple[Content, Content]:
    server.enqueue(script, script)
    return sdk(api, server), ours(api, server)


# -- scripted replies, on both wires ------------------------------------------

UNICODE_INPUT = {
    "text": "café, 世界, 👋🏽 and 👨‍👩‍👧",
    "quote": 'she said "hi"\nthen left\\',
    "nested": {"list": [1, "ü", None, True, 2.5], "empty": "", "tab": "a\tb"},
}
PARALLEL = [
    ("call_01", "read_file", {"path": "notes.txt"}),
    ("call_02", "get_weather", {"city": "São Paulo", "unit": "°C"}),
    ("call_03", "list_files", {}),
]
CASES: dict[str, dict[str, Any]] = {
    "one-call": {"calls": [("call_01", "read_file", {"path": "notes.txt"})]},
    "parallel-calls-after-text": {"calls": PARALLEL, "text": "Let me look at all three."},
    "empty-arguments": {"calls": [("call_01", "list_files", {})]},
    "unicode-arguments": {"calls": [("call_01", "read_file", UNICODE_INPUT)]},
    "thinking-then-call": {"calls": [("call_01", "get_weather", {"city": "Zürich"})],
                           "thinking": "The user wants the weather; one call will do. ✓"},
    "thinking-text-and-calls": {"calls": PARALLEL[:2], "thinking": "Two things to fetch.", "text": "On it."},
    "text-only-end-turn": {"calls": [], "text": "No tools needed.", "stop": "end_turn"},
}


def scripted(api: str, case: dict[str, Any]) -> Script:
    if api == "anthropic":
        return anthropic_calls(**case)
    case = dict(case)
    case.pop("stop", None)  # openai_calls finishes with tool_calls when there are calls, else stop
    return openai_calls(reasoning=case.pop("thinking", ""), **case)


def expected(api: str, case: dict[str, Any]) -> Content:
    parts: list[Part] = []
    if case.get("thinking"):
        parts.append(("thinking", case["thinking"], "sig-1" if api == "anthropic" else ""))
    if case.get("text"):
        parts.append(("text", case["text"]))
    parts += [("tool_call", *call) for call in case["calls"]]
    return Content(parts, "tool_use" if case["calls"] else "end_turn")


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("name", list(CASES))
def test_streamed_tool_calls_match_the_official_sdk(scripted_server: ScriptedServer, api: str, name: str) -> None:
    reference, got = both(api, scripted_server, scripted(api, CASES[name]))
    assert reference == expected(api, CASES[name])  # the fake speaks a format the SDK reads
    assert got == reference


@pytest.mark.parametrize("api", APIS)
def test_tool_input_split_across_http_chunks_mid_character(scripted_server: ScriptedServer, api: str) -> None:
    script = scripted(api, CASES["unicode-arguments"])
    script.fragment = 3  # every event cut into 3-byte HTTP chunks: UTF-8 characters split too
    reference, got = both(api, scripted_server, script)
    assert got == reference == expected(api, CASES["unicode-arguments"])


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_openai_compatible_reasoning_then_call_matches_the_sdk(scripted_server: ScriptedServer, field: str) -> None:
    """DeepSeek, vLLM and llama.cpp stream `reasoning_content`; Ollama and OpenRouter `reasoning`."""
    case: dict[str, Any] = {"calls": [("call_01", "get_weather", {"city": "Zürich"})],
                            "thinking": "Weather, so: a call."}
    script = openai_calls(case["calls"], reasoning=case["thinking"], reasoning_field=field)
    reference, got = both("openai", scripted_server, script)
    assert reference == expected("openai", case)
    assert got == reference


def test_openai_empty_string_arguments_are_an_empty_input(scripted_server: ScriptedServer) -> None:
    """`arguments: ""` on the call's only fragment (null ones are in openai_tool_escapes.sse)."""
    script = openai_calls([("call_01", "list_files", {})], empty_arguments="")
    reference, got = both("openai", scripted_server, script)
    assert reference == Content([("tool_call", "call_01", "list_files", {})], "tool_use")
    assert got == reference


def test_anthropic_input_given_whole_at_block_start_matches_the_sdk(scripted_server: ScriptedServer) -> None:
    """A tool_use block whose `input` comes complete in content_block_start, with no
    input_json_delta (some Anthropic-compatible servers): the SDK keeps that input."""
    script = anthropic_calls([("toolu_01", "read_file", {"path": "notes.txt"})], input_at_start=True)
    reference, got = both("anthropic", scripted_server, script)
    assert reference == Content([("tool_call", "toolu_01", "read_file", {"path": "notes.txt"})], "tool_use")
    assert got == reference


def test_anthropic_thinking_given_whole_at_block_start_matches_the_sdk(scripted_server: ScriptedServer) -> None:
    """The same for a thinking block: its text and signature in content_block_start, no deltas."""
    script = anthropic_calls([("toolu_01", "list_files", {})], thinking="Just list them.", signature="sig-whole",
                             thinking_at_start=True)
    reference, got = both("anthropic", scripted_server, script)
    assert reference == Content([("thinking", "Just list them.", "sig-whole"),
                                 ("tool_call", "toolu_01", "list_files", {})], "tool_use")
    assert got == reference


# -- recorded transcripts -----------------------------------------------------

ESCAPED_NOTE = {"note": 'café "quoted"\nline 2 \\ done', "emoji": "😀 👋🏽", "where": "世界"}
TRANSCRIPTS = [
    ("anthropic", "anthropic_tool_escapes.sse", Content(
        [("text", "Saving that note."), ("tool_call", "toolu_01EscapesCut", "write_note", ESCAPED_NOTE)],
        "tool_use")),
    ("openai", "openai_tool_escapes.sse", Content(
        [("text", "Checking both."), ("tool_call", "call_Esc0", "write_note", ESCAPED_NOTE),
         ("tool_call", "call_Esc1", "get_weather", {"city": "São Paulo", "unit": "°C"})], "tool_use")),
    ("anthropic", "anthropic_thinking_tool.sse", None),  # its content is checked by the SDK alone
]


@pytest.mark.parametrize("fragment", [None, 3], ids=["whole-events", "3-byte-chunks"])
@pytest.mark.parametrize(("api", "fixture", "content"), TRANSCRIPTS, ids=[t[1] for t in TRANSCRIPTS])
def test_recorded_tool_transcript_reads_the_same_as_the_official_sdk(
    scripted_server: ScriptedServer, api: str, fixture: str, content: Content | None, fragment: int | None,
) -> None:
    """Input fragments cut inside escapes (\\u00e9, \\", \\n, \\\\, a surrogate pair),
    parallel calls begun in one chunk with their fragments interleaved, a null fragment."""
    reference, got = both(api, scripted_server, Script.from_fixture(fixture, fragment=fragment))
    if content is not None:
        assert reference == content
    assert got == reference


def test_emoji_cut_between_its_utf16_halves_is_joined_again(scripted_server: ScriptedServer) -> None:
    """Each half arrives as a lone \\ud83d / \\ude00 escape in its own event (a proxy
    slicing JavaScript strings). The anthropic SDK cannot read this at all (it
    encodes each fragment as UTF-8 and fails): chinwag joins the halves, checked
    against the input the model meant."""
    scripted_server.enqueue(Script.from_fixture("anthropic_tool_surrogate_split.sse"))
    got = content_of(our_events("anthropic", scripted_server))
    assert got == Content([("tool_call", "toolu_01SurrogateCut", "write_note", {"note": "ok 😀 done"})], "tool_use")
    json.dumps(got.parts, ensure_ascii=False).encode("utf-8")  # storable and printable


def test_ollama_parallel_calls_at_index_0_stay_apart(scripted_server: ScriptedServer) -> None:
    """Ollama numbers every parallel call 0. The openai SDK's accumulator joins
    fragments by index, so it would merge these three into one call (ids and
    arguments concatenated): here chinwag deliberately differs, starting a new
    call at each new id, and is checked against the calls the server meant."""
    scripted_server.enqueue(Script.from_fixture("openai_ollama_index0.sse"))
    got = content_of(our_events("openai", scripted_server))
    assert got == Content([
        ("thinking", "Two cities, two calls.", ""),
        ("tool_call", "call_k3f9a1", "get_weather", {"city": "Zürich"}),
        ("tool_call", "call_p0x7c2", "get_weather", {"city": "東京"}),
        ("tool_call", "call_z81m4q", "get_time", {}),
    ], "tool_use")


def test_ollama_index_0_calls_from_the_tool_wire_stay_apart(scripted_server: ScriptedServer) -> None:
    """As above, with each call's arguments in fragments after its id."""
    scripted_server.enqueue(openai_calls(PARALLEL, text="Three calls.", same_index=True))
    got = content_of(our_events("openai", scripted_server))
    assert got == Content([("text", "Three calls."), *[("tool_call", *call) for call in PARALLEL]], "tool_use")


def test_openai_id_repeated_on_every_fragment_is_one_call(scripted_server: ScriptedServer) -> None:
    """Some servers repeat the id (and type) on every fragment of a call. The openai
    SDK's accumulator adds strings up, so its id would be the id repeated; chinwag
    takes the same id as the same call, checked against the calls the server meant."""
    scripted_server.enqueue(openai_calls(PARALLEL, id_every_fragment=True))
    got = content_of(our_events("openai", scripted_server))
    assert got == Content([("tool_call", *call) for call in PARALLEL], "tool_use")


# -- what goes over the wire --------------------------------------------------

RESULTS = (ToolResult("call_01", "milk, eggs"), ToolResult("call_02", "service unavailable", "error"))
SECOND_CALL = ToolCall("call_03", "list_files", {})
SECOND_RESULT = ToolResult("call_03", "notes.txt\n")
# After a failed turn the user's next words join the results (conversation.sendable()).
THEN = "Thanks. Anything else?"


def replied(api: str, server: ScriptedServer, script: Script) -> tuple[Any, Reply]:
    """The same reply read by the SDK (its final message) and by us (folded)."""
    server.enqueue(script, script)
    with_sdk: Any
    if api == "anthropic":
        with anthropic.Anthropic(api_key="test-key", base_url=server.base_url, max_retries=0) as client:
            with client.messages.stream(model=CLAUDE, max_tokens=200,
                                        messages=[{"role": "user", "content": HI}]) as stream:
                with_sdk = stream.get_final_message()
    else:
        with openai.OpenAI(api_key="test-key", base_url=server.base_url + "/v1", max_retries=0) as client:
            with client.chat.completions.stream(model=GPT, messages=[{"role": "user", "content": HI}]) as stream:
                with_sdk = stream.get_final_completion().choices[0].message
    return with_sdk, folded(our_events(api, server))


def test_anthropic_tool_round_trip_request_is_what_the_sdk_sends(scripted_server: ScriptedServer) -> None:
    """The SDK's own final message goes back as the assistant turn (its documented
    tool loop); ours is the reply we recorded. Thinking goes back signed and unchanged."""
    script = anthropic_calls(PARALLEL[:2], text="Let me look.", thinking="Read it, then the weather.",
                             signature="EqQBCkYIBRgCKkBzaWduYXR1cmU=")
    final, reply = replied("anthropic", scripted_server, script)
    results = [{"type": "tool_result", "tool_use_id": r.call_id, "content": r.content, "is_error": r.is_error}
               for r in RESULTS]
    sdk_messages: list[Any] = [
        {"role": "user", "content": HI},
        {"role": "assistant", "content": final.content},
        {"role": "user", "content": results},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "call_03", "name": "list_files", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_03", "content": "notes.txt\n",
                                      "is_error": False}, {"type": "text", "text": THEN}]},
    ]
    tools: Any = [{"name": t.name, "description": t.description, "input_schema": t.input_schema} for t in TOOLS]
    scripted_server.enqueue(Script(), Script())
    with anthropic.Anthropic(api_key="test-key", base_url=scripted_server.base_url, max_retries=0) as client:
        with client.messages.stream(model=CLAUDE, max_tokens=200 + 1024, system=SYSTEM, messages=sdk_messages,
                                    tools=tools, thinking={"type": "enabled", "budget_tokens": 1024}) as stream:
            stream.until_done()
    ours_messages = (Message("user", HI), reply.message, Message.of("user", RESULTS),
                     Message.of("assistant", (SECOND_CALL,)), Message.of("user", (SECOND_RESULT, Text(THEN))))
    our_events("anthropic", scripted_server, ours_messages, thinking_budget=1024)
    reference, got = scripted_server.requests[-2:]
    assert got.json == reference.json
    thinking = got.json["messages"][1]["content"][0]
    assert thinking == {"type": "thinking", "thinking": "Read it, then the weather.",
                        "signature": "EqQBCkYIBRgCKkBzaWduYXR1cmU="}
    assert got.json["tools"][0] == {"name": "read_file", "description": "Read a text file.",
                                    "input_schema": dict(TOOLS[0].input_schema)}


def test_anthropic_redacted_thinking_is_sent_back_in_a_tool_loop(scripted_server: ScriptedServer) -> None:
    script = anthropic_calls([PARALLEL[2]], redacted="EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIw")
    final, reply = replied("anthropic", scripted_server, script)
    assert [block.type for block in final.content] == ["redacted_thinking", "tool_use"]
    scripted_server.enqueue(Script())
    our_events("anthropic", scripted_server, (Message("user", HI), reply.message,
                                              Message.of("user", (SECOND_RESULT,))), thinking_budget=1024)
    sent = scripted_server.requests[-1].json["messages"][1]["content"]
    assert sent[0] == {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIw"}


def test_anthropic_unsigned_thinking_is_not_sent_back(scripted_server: ScriptedServer) -> None:
    """Reasoning from another provider has no signature, and the API would reject it."""
    scripted_server.enqueue(Script())
    assistant = Message.of("assistant", (Thinking("from elsewhere"), Text("Looking."), SECOND_CALL))
    our_events("anthropic", scripted_server, (Message("user", HI), assistant, Message.of("user", (SECOND_RESULT,))))
    sent = scripted_server.requests[-1].json["messages"][1]["content"]
    assert [block["type"] for block in sent] == ["text", "tool_use"]


def arguments_parsed(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages with each call's arguments parsed: the same JSON may be spaced differently."""
    out = []
    for message in messages:
        calls = [{**c, "function": {**c["function"], "arguments": json.loads(c["function"]["arguments"])}}
                 for c in message.get("tool_calls", [])]
        out.append({**message, "tool_calls": calls} if calls else message)
    return out


def test_openai_tool_round_trip_request_is_what_the_sdk_sends(scripted_server: ScriptedServer) -> None:
    """The assistant message carries the calls (content null when there was no
    text), each result follows as a `tool` message; OpenAI has no error flag, so
    a failed call's result says so in its text."""
    script = openai_calls(PARALLEL[:2], text="Let me look.", reasoning="Read it, then the weather.")
    final, reply = replied("openai", scripted_server, script)
    sdk_messages: list[Any] = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": HI},
        {"role": "assistant", "content": final.content, "tool_calls": [
            {"id": c.id, "type": "function", "function": {"name": c.function.name, "arguments": c.function.arguments}}
            for c in final.tool_calls]},
        {"role": "tool", "tool_call_id": "call_01", "content": "milk, eggs"},
        {"role": "tool", "tool_call_id": "call_02", "content": "error: service unavailable"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_03", "type": "function", "function": {"name": "list_files", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_03", "content": "notes.txt\n"},
        {"role": "user", "content": THEN},
    ]
    tools: Any = [{"type": "function", "function": {"name": t.name, "description": t.description,
                                                    "parameters": t.input_schema}} for t in TOOLS]
    scripted_server.enqueue(Script(), Script())
    with openai.OpenAI(api_key="test-key", base_url=scripted_server.base_url + "/v1", max_retries=0) as client:
        for _ in client.chat.completions.create(model=GPT, max_tokens=200, messages=sdk_messages, tools=tools,
                                                stream=True, stream_options={"include_usage": True}):
            pass
    ours_messages = (Message("user", HI), reply.message, Message.of("user", RESULTS),
                     Message.of("assistant", (SECOND_CALL,)), Message.of("user", (SECOND_RESULT, Text(THEN))))
    our_events("openai", scripted_server, ours_messages)
    reference, got = scripted_server.requests[-2:]
    assert arguments_parsed(got.json["messages"]) == arguments_parsed(reference.json["messages"])
    for key in ("model", "tools", "stream", "stream_options"):
        assert got.json[key] == reference.json[key], key
    assert got.json["messages"][5]["content"] is None
    assert got.json["tools"][0] == {"type": "function", "function": {
        "name": "read_file", "description": "Read a text file.", "parameters": dict(TOOLS[0].input_schema)}}
