"""Provider behaviour under faults, for both the Anthropic and OpenAI providers.

Failures before the first text are retried with the SDKs' policy (0.5 s
doubling, 2 retries, `retry-after-ms` / `retry-after` honoured) and announced
with `Retrying` events; the delays are recorded by a fake sleep, never waited.
Failures after text raise `StreamInterrupted` once the text that did arrive
has been yielded. A normal end keeps the connection for the next request
(so does an error status: its body is read whole); every other way out closes
it, as the server sees it. tests/test_connection_reuse.py covers reuse itself.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from chinwag.errors import (
    AuthError,
    BadRequest,
    ConnectionFailed,
    Overloaded,
    ProviderError,
    RateLimited,
    StreamInterrupted,
)
from chinwag.events import (
    Event,
    Retrying,
    Stop,
    TextDelta,
    ThinkingDelta,
    ToolCallReady,
    ToolCallStart,
    ToolInputDelta,
    Usage,
)
from chinwag.records import ChatRequest, Message
from tests.fakes.server import Reply, ScriptedServer
from tests.fakes.sleep import RecordingSleep
from tests.http_providers import APIS, HELLO, collect, http_provider

def request_for(api: str) -> ChatRequest:
    model = "claude-sonnet-4-20250514" if api == "anthropic" else "gpt-4o-mini"
    return ChatRequest(model=model, messages=(Message("user", "Hi"),), system="Be brief.", max_tokens=200)


def stream(api: str, server_or_url: ScriptedServer | str, sleep: RecordingSleep, **http: object) -> Iterator[Event]:
    url = server_or_url if isinstance(server_or_url, str) else server_or_url.base_url
    return http_provider(api, url, sleep, **http).stream(request_for(api))


def retries(events: list[Event]) -> list[tuple[int, int, float]]:
    return [(e.attempt, e.max_attempts, e.delay) for e in events if isinstance(e, Retrying)]


def without_retries(events: list[Event]) -> list[Event]:
    return [e for e in events if not isinstance(e, Retrying)]


# -- retried before the first text ---------------------------------------


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("status", [529, 503, 500])
def test_server_errors_are_retried_with_backoff_then_the_reply_arrives_whole(
    scripted_server: ScriptedServer, fake_sleep: RecordingSleep, api: str, status: int
) -> None:
    scripted_server.enqueue(Reply(status=status), Reply(status=status), Reply(chunks=["Hel", "lo"]))
    events, error = collect(stream(api, scripted_server, fake_sleep))
    assert error is None
    assert retries(events) == [(2, 3, 0.5), (3, 3, 1.0)]
    assert all(isinstance(e, Retrying) for e in events[:2])  # announced before any text
    assert all(isinstance(e.reason, str) and e.reason for e in events[:2] if isinstance(e, Retrying))
    assert events[2:] == HELLO
    assert fake_sleep.delays == [0.5, 1.0]
    assert len(scripted_server.requests) == 3
    # Each error body is read whole, so every attempt goes out on the one kept-alive connection.
    assert scripted_server.connections == 1


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize(
    ("headers", "delay"),
    [
        ({"retry-after-ms": "10"}, 0.01),
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after-ms": "250", "retry-after": "7"}, 0.25),  # the precise one wins, as in the SDKs
    ],
)
def test_retry_waits_as_long_as_the_server_asks(
    scripted_server: ScriptedServer, fake_sleep: RecordingSleep, api: str, headers: dict[str, str], delay: float
) -> None:
    scripted_server.enqueue(Reply(status=529, headers=headers), Reply(chunks=["Hel", "lo"]))
    events, error = collect(stream(api, scripted_server, fake_sleep))
    assert error is None
    assert retries(events) == [(2, 3, delay)]
    assert fake_sleep.delays == [delay]
    assert events[1:] == HELLO


@pytest.mark.parametrize("api", APIS)
def test_rate_limit_with_retry_after_waits_then_succeeds(
    scripted_server: ScriptedServer, fake_sleep: RecordingSleep, api: str
) -> None:
    scripted_server.enqueue(Reply(status=429, headers={"retry-after": "2"}), Reply(chunks=["Hel", "lo"]))
    events, error = collect(stream(api, scripted_server, fake_sleep))
    assert error is None
    assert fake_sleep.delays == [2.0]
    assert retries(events) == [(2, 3, 2.0)]
    assert events[1:] == HELLO


@pytest.mark.parametrize("api", APIS)
def test_connection_dropped_before_any_text_is_retried(
    scripted_server: ScriptedServer, fake_sleep: RecordingSleep, api: str
) -> None:
    scripted_server.enqueue(Reply(drop_after=0), Reply(chunks=["Hel", "lo"]))
    events, error = collect(stream(api, scripted_server, fake_sleep))
    assert error is None
    assert retries(events) == [(2, 3, 0.5)]
    assert events[1:] == HELLO


# -- retries run out, or are not allowed -----------------------------------


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize(("status", "error_class"), [(529, Overloaded), (503, Overloaded), (429, RateLimited)])
def test_exhausted_retries_raise_the_matching_error(
    scripted_server: ScriptedServer, fake_sleep: RecordingSleep, api: str, status: int,
    error_class: type[ProviderError],
) -> None:
    scripted_server.enqueue(*[Reply(status=status) for _ in range(3)], Reply(chunks=["never", "sent"]))
    events, error = collect(stream(api, scripted_server, fake_sleep))
    assert type(error) is error_class
    assert events == [e for e in events if isinstance(e, Retrying)]
    assert retries(events) == [(2, 3, 0.5), (3, 3, 1.0)]
    assert fake_sleep.delays == [0.5, 1.0]
    assert len(scripted_server.requests) == 3
    assert scripted_server.pending_replies == 1


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("status", [401, 403])
def test_refused_key_raises_auth_error_without_retrying(
    scripted_server: ScriptedServer, fake_sleep: RecordingSleep, api: str, status: int
) -> None:
    scripted_server.enqueue(Reply(status=status))
    events, error = collect(stream(api, scripted_server, fake_sleep))
    assert isinstance(error, AuthError)
    assert events == []
    assert fake_sleep.delays == []
    assert len(scripted_server.requests) == 1


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("status", [400, 404, 413, 422])
def test_rejected_request_raises_bad_request_with_the_server_message(
    scripted_server: ScriptedServer, fake_sleep: RecordingSleep, api: str, status: int
) -> None:
    message = "max_tokens: 999999 > 64000, which is the maximum allowed"
    scripted_server.enqueue(Reply(status=status, error_message=message))
    events, error = collect(stream(api, scripted_server, fake_sleep))
    assert isinstance(error, BadRequest)
    assert message in str(error)
    assert events == []
    assert len(scripted_server.requests) == 1


@pytest.mark.parametrize("api", APIS)
def test_refused_connection_raises_connection_failed_after_retries(
    refused_url: str, fake_sleep: RecordingSleep, api: str
) -> None:
    events, error = collect(stream(api, refused_url, fake_sleep))
    assert isinstance(error, ConnectionFailed)
    assert retries(events) == [(2, 3, 0.5), (3, 3, 1.0)]
    assert fake_sleep.delays == [0.5, 1.0]


@pytest.mark.parametrize("api", APIS)
def test_no_first_byte_within_the_read_timeout_raises_connection_failed(
    scripted_server: ScriptedServer, fake_sleep: RecordingSleep, api: str
) -> None:
    scripted_server.enqueue(Reply(delay_first_byte=1.5))
    events, error = collect(stream(api, scripted_server, fake_sleep, max_retries=0, read_timeout=0.2))
    assert isinstance(error, ConnectionFailed)
    assert events == []
    assert scripted_server.wait_closed(1, timeout=1)


# -- failures after text ---------------------------------------------------

FOUR = ["a", "b", "c", "d"]


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize(
    "fault",
    [{"drop_after": 2}, {"error_after": 2}, {"malformed_after": 2}, {"no_stop": True}],
    ids=["dropped", "error-event", "malformed-json", "no-end-marker"],
)
def test_mid_stream_failure_raises_after_the_text_that_arrived(
    scripted_server: ScriptedServer, fake_sleep: RecordingSleep, api: str, fault: dict[str, object]
) -> None:
    scripted_server.enqueue(Reply(chunks=FOUR, **fault), Reply(chunks=["never", "sent"]))  # type: ignore[arg-type]
    events, error = collect(stream(api, scripted_server, fake_sleep))
    assert isinstance(error, StreamInterrupted)
    arrived = FOUR if fault == {"no_stop": True} else FOUR[:2]
    assert events == [TextDelta(t) for t in arrived]
    assert fake_sleep.delays == []  # text was shown: never retried
    assert len(scripted_server.requests) == 1


@pytest.mark.parametrize("api", APIS)
def test_error_event_message_names_the_error(
    scripted_server: ScriptedServer, fake_sleep: RecordingSleep, api: str
) -> None:
    scripted_server.enqueue(Reply(chunks=FOUR, error_after=1))
    events, error = collect(stream(api, scripted_server, fake_sleep))
    assert isinstance(error, StreamInterrupted)
    assert "Overloaded" in str(error)
    assert events == [TextDelta("a")]


# -- kept after a normal end, closed on every other way out -------------------


@pytest.mark.parametrize("api", APIS)
def test_connection_kept_after_a_normal_end_until_close(
    scripted_server: ScriptedServer, fake_sleep: RecordingSleep, api: str
) -> None:
    provider = http_provider(api, scripted_server.base_url, fake_sleep)
    scripted_server.enqueue(Reply(chunks=["Hel", "lo"]))
    assert list(provider.stream(request_for(api))) == HELLO
    assert not scripted_server.wait_closed(1, timeout=0.2)  # kept for the next turn
    provider.close()  # at exit
    assert scripted_server.wait_closed(1, timeout=2)


@pytest.mark.parametrize("api", APIS)
def test_connection_closed_when_the_consumer_stops_early(
    scripted_server: ScriptedServer, fake_sleep: RecordingSleep, api: str
) -> None:
    # The server holds the rest back, so the close can only come from the client.
    scripted_server.enqueue(Reply(chunks=["Hel", "lo", "!"], hold_after=1))
    events = stream(api, scripted_server, fake_sleep)
    assert next(events) == TextDelta("Hel")
    events.close()  # type: ignore[attr-defined]
    assert scripted_server.wait_closed(1, timeout=2)


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize(
    "fault", [{"error_after": 1}, {"malformed_after": 1}], ids=["error-event", "malformed-json"]
)
def test_connection_closed_after_an_exception_mid_stream(
    scripted_server: ScriptedServer, fake_sleep: RecordingSleep, api: str, fault: dict[str, int]
) -> None:
    # error-event: the server ends the body and would keep the connection alive;
    # malformed-json: the server goes on sending. Either way the client must hang up.
    scripted_server.enqueue(Reply(chunks=["Hel", "lo"], **fault))  # type: ignore[arg-type]
    events, error = collect(stream(api, scripted_server, fake_sleep))
    assert isinstance(error, StreamInterrupted)
    assert events == [TextDelta("Hel")]
    assert scripted_server.wait_closed(1, timeout=2)


@pytest.mark.parametrize("api", APIS)
def test_connection_kept_after_an_error_status_until_close(
    scripted_server: ScriptedServer, fake_sleep: RecordingSleep, api: str
) -> None:
    # The error body was read whole: the connection is clean, and the next request uses it.
    provider = http_provider(api, scripted_server.base_url, fake_sleep)
    scripted_server.enqueue(Reply(status=401), Reply(chunks=["Hel", "lo"]))
    _, error = collect(provider.stream(request_for(api)))
    assert isinstance(error, AuthError)
    assert not scripted_server.wait_closed(1, timeout=0.2)
    assert list(provider.stream(request_for(api))) == HELLO
    assert scripted_server.connections == 1
    provider.close()
    assert scripted_server.wait_closed(1, timeout=2)


# -- streaming is real, unknown events are harmless -----------------------


@pytest.mark.parametrize("api", APIS)
def test_first_text_is_yielded_while_the_server_holds_back_the_rest(
    scripted_server: ScriptedServer, fake_sleep: RecordingSleep, api: str
) -> None:
    reply = Reply(chunks=["Hel", "lo"], hold_after=1)
    safety = threading.Timer(1.5, reply.release.set)  # a buffering client would hang without it
    safety.start()
    try:
        scripted_server.enqueue(reply)
        events = stream(api, scripted_server, fake_sleep)
        assert next(events) == TextDelta("Hel")
        assert not reply.release.is_set(), "the first text only arrived once the server let go"
        reply.release.set()
        assert list(events) == HELLO[1:]
    finally:
        safety.cancel()


@pytest.mark.parametrize("api", APIS)
def test_unknown_events_are_skipped_and_thinking_is_kept(
        scripted_server: ScriptedServer, fake_sleep: RecordingSleep, api: str) -> None:
    scripted_server.enqueue(Reply(chunks=["Hel", "lo", " 👋"], unknown_events=True))
    events, error = collect(stream(api, scripted_server, fake_sleep))
    assert error is None
    thinking = [e for e in events if isinstance(e, ThinkingDelta)]
    assert thinking and "".join(e.text for e in thinking).startswith("The user greets me")
    rest = [e for e in events if not isinstance(e, (ThinkingDelta, ToolCallStart, ToolInputDelta, ToolCallReady))]
    assert rest == [TextDelta("Hel"), TextDelta("lo"), TextDelta(" 👋"), Usage(12, 3), Stop("end_turn")]


FUTURE_ANTHROPIC = "".join(
    f"event: {name}\ndata: {data}\n\n"
    for name, data in [
        ("message_start", '{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant",'
                          '"model":"claude-x","content":[],"stop_reason":null,"stop_sequence":null,'
                          '"usage":{"input_tokens":3,"output_tokens":1},"future_field":{"a":1}}}'),
        ("content_block_start", '{"type":"content_block_start","index":0,"content_block":'
                                '{"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{}}}'),
        ("content_block_delta", '{"type":"content_block_delta","index":0,"delta":{"type":"future_delta","x":1}}'),
        ("content_block_stop", '{"type":"content_block_stop","index":0}'),
        ("future_event", '{"type":"future_event","payload":[1,2,3]}'),
        ("content_block_start", '{"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}'),
        ("content_block_delta", '{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"ok"}}'),
        ("content_block_stop", '{"type":"content_block_stop","index":1}'),
        ("message_delta", '{"type":"message_delta","delta":{"stop_reason":"pause_turn","stop_sequence":null},'
                          '"usage":{"output_tokens":4}}'),
        ("message_stop", '{"type":"message_stop"}'),
    ]
)
FUTURE_OPENAI = "".join(
    f"data: {data}\n\n"
    for data in [
        '{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":'
        '{"role":"assistant","tool_calls":[{"index":0,"id":"call_1","type":"function","function":'
        '{"name":"f","arguments":""}}]},"finish_reason":null}]}',
        '{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":'
        '{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]},"finish_reason":null}]}',
        '{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":'
        '{"content":"ok","audio":{"id":"a"}},"finish_reason":null}],"future_field":true}',
        '{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},'
        '"finish_reason":"tool_calls"}]}',
        '{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[],'
        '"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}',
        "[DONE]",
    ]
)


@pytest.mark.parametrize(
    ("api", "raw", "stop"),
    [("anthropic", FUTURE_ANTHROPIC, "pause_turn"), ("openai", FUTURE_OPENAI, "tool_use")],
    ids=APIS,
)
def test_event_and_block_types_from_the_future_are_skipped(
    scripted_server: ScriptedServer, fake_sleep: RecordingSleep, api: str, raw: str, stop: str
) -> None:
    scripted_server.enqueue(Reply(raw=raw))
    events, error = collect(stream(api, scripted_server, fake_sleep))
    assert error is None
    # Server-side tools (Anthropic's server_tool_use) are not ours to run: skipped.
    calls = [e for e in events if isinstance(e, ToolCallReady)]
    assert calls == ([ToolCallReady("call_1", "f", {})] if api == "openai" else [])
    assert [e for e in events if not isinstance(e, (ToolCallStart, ToolInputDelta, ToolCallReady))] == \
        [TextDelta("ok"), Usage(3, 4), Stop(stop)]


# -- model listing ------------------------------------------------------------


@pytest.mark.parametrize("api", APIS)
def test_model_listing_with_a_refused_key_raises_auth_error(
    scripted_server: ScriptedServer, fake_sleep: RecordingSleep, api: str
) -> None:
    scripted_server.models_error = Reply(status=401)
    with pytest.raises(AuthError):
        http_provider(api, scripted_server.base_url, fake_sleep).list_models()
