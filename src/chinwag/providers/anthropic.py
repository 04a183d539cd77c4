"""Anthropic Messages API, spoken directly over httpx2.

Streaming events we act on: message_start (input tokens); content_block_start
(a tool_use block's id and name; its input too, if a server gives it whole
there); content_block_delta with a text_delta (the text), thinking_delta /
signature_delta (visible reasoning) or input_json_delta (a tool call's input,
in fragments joined per block index and parsed at content_block_stop; an
empty input is {}); message_delta (stop reason, output
tokens); message_stop (the end); error (the server gave up mid-reply: on a 200
response, so it is classified by its `type`). Everything else (ping,
citations, event types invented later) is skipped; redacted_thinking is kept
whole (shown as nothing) and sent back unchanged, as the API requires.

Requests send each message's blocks: tool calls as tool_use, their results as
tool_result (`tool_use_id`, `content`, `is_error`) in the next user message,
and signed thinking back unchanged within a tool loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from chinwag.context import estimate_tokens
from chinwag.errors import ContextOverflow, ProviderError, StreamInterrupted
from chinwag.events import (
    Event,
    Stop,
    TextDelta,
    ThinkingDelta,
    ToolCallReady,
    ToolCallStart,
    ToolInputDelta,
    Usage,
)
from chinwag.providers.http import ApiCall, read_to_end, stream_events
from chinwag.providers.http_provider import HttpProvider
from chinwag.providers.wire import base64_of, tool_input, whole
from chinwag.records import ChatRequest, Message, Text, Thinking, ToolCall, ToolResult, Window

if TYPE_CHECKING:
    import httpx2

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
CONTEXT_TOKENS = 200_000
# Mid-stream `event: error` types worth retrying (before the first text), and how the notice names them.
ERROR_EVENT_REASONS = {
    "overloaded_error": "overloaded", "api_error": "server error", "rate_limit_error": "rate limited",
}
# How the API says a prompt does not fit: an invalid_request_error (400) saying one of these.
OVERFLOW_PHRASES = ("prompt is too long", "exceed context limit")
# A tool_use block being streamed: id, name, input fragments, the `input` its start gave.
_Call = tuple[str, str, list[str], object]


class AnthropicProvider(HttpProvider):
    name = "anthropic"  # what it can do is declared in its registry row

    def __init__(self, api_key: str, base_url: str | None = None, **http: Any) -> None:
        super().__init__(base_url or DEFAULT_BASE_URL, **http)
        self.api_key = api_key

    def stream(self, request: ChatRequest) -> Iterator[Event]:
        call = ApiCall(
            url=f"{self.base_url}/v1/messages",
            headers={"x-api-key": self.api_key, "anthropic-version": API_VERSION},
            body=self._body(request),
            key_variable="ANTHROPIC_API_KEY",
            secrets=(self.api_key,),
            not_found_hint="ANTHROPIC_BASE_URL should not end in /v1" if self.base_url.endswith("/v1") else "",
            overflow=is_overflow,
        )
        parse = _parse_stream if request.stream else _parse_whole
        return stream_events(call, self.http, parse)

    def list_models(self) -> list[str]:
        from chinwag.providers.listing import get_model_ids

        headers = {"x-api-key": self.api_key, "anthropic-version": API_VERSION}
        return get_model_ids(f"{self.base_url}/v1/models", headers, self.http, "ANTHROPIC_API_KEY")

    def context_window(self, model: str) -> Window:
        # Every current Claude model takes 200k tokens; we estimate rather than
        # call the token-counting endpoint, which would cost a round trip per turn.
        return Window(CONTEXT_TOKENS, estimate_tokens)

    @staticmethod
    def _body(request: ChatRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": request.model,
            "max_tokens": request.max_tokens,
            "messages": [{"role": m.role, "content": _content(m)} for m in request.messages],
        }
        if request.system:
            body["system"] = request.system
        if request.temperature is not None and not request.thinking_budget:
            body["temperature"] = request.temperature  # thinking allows only the default
        if request.tools:
            body["tools"] = [{"name": t.name, "description": t.description, "input_schema": dict(t.input_schema)}
                             for t in request.tools]
        if request.thinking_budget:
            body["thinking"] = {"type": "enabled", "budget_tokens": request.thinking_budget}
            # The budget is part of max_tokens: leave the answer the room it was given.
            body["max_tokens"] = max(request.max_tokens, request.thinking_budget + request.max_tokens)
        if request.schema is not None:  # structured outputs: the reply is JSON matching the schema
            from chinwag.structured import strict_schema

            body["output_config"] = {"format": {"type": "json_schema", "schema": strict_schema(request.schema)}}
        if request.stream:
            body["stream"] = True
        return body


def _content(message: Message) -> str | list[dict[str, Any]]:
    """A message's content as the Messages API takes it: a string for text alone, else blocks."""
    if not message.blocks:
        return message.content
    blocks: list[dict[str, Any]] = []
    result: dict[str, Any] | None = None  # the tool_result an image or PDF after it belongs to
    for block in message.blocks:
        if isinstance(block, Text):
            if block.text:
                blocks.append({"type": "text", "text": block.text})
        elif isinstance(block, Thinking) and block.redacted:
            blocks.append({"type": "redacted_thinking", "data": block.redacted})
        elif isinstance(block, Thinking):
            if block.signature:  # unsigned reasoning (another provider's) cannot be sent back
                blocks.append({"type": "thinking", "thinking": block.text, "signature": block.signature})
        elif isinstance(block, ToolCall):
            blocks.append({"type": "tool_use", "id": block.id, "name": block.name, "input": dict(block.input)})
        elif isinstance(block, ToolResult):
            result = {"type": "tool_result", "tool_use_id": block.call_id, "content": block.content,
                      "is_error": block.is_error}
            blocks.append(result)
            continue
        else:  # an image or a PDF: base64, as the API takes an upload inline
            upload = {"type": block.type, "source": {
                "type": "base64", "media_type": block.media_type, "data": base64_of(block.data)}}
            if result is not None:  # a tool gave it (an MCP result): it goes inside that tool_result
                if isinstance(result["content"], str):
                    result["content"] = [{"type": "text", "text": result["content"]}] if result["content"] else []
                result["content"].append(upload)
                continue
            blocks.append(upload)
        result = None
    return blocks


def _parse_stream(response: httpx2.Response) -> Iterator[Event]:
    import httpx2

    usage = {"input_tokens": None, "output_tokens": None}
    stop_reason = "end_turn"
    calls: dict[object, _Call] = {}  # block index -> (id, name, input fragments, input at the start)
    events = iter(httpx2.EventSource(response))
    for sse in events:
        if sse.event == "ping":
            continue
        if sse.event == "error":
            raise _error_event(sse.data)
        data = sse.json()
        if not isinstance(data, dict):
            continue
        kind = data.get("type", sse.event)
        if kind == "content_block_delta":
            yield from _delta(data.get("delta") or {}, calls.get(data.get("index")))
        elif kind == "content_block_start":
            block = data.get("content_block") or {}
            if block.get("type") == "tool_use":
                call_id, name = str(block.get("id") or ""), str(block.get("name") or "")
                calls[data.get("index")] = (call_id, name, [], block.get("input"))
                yield ToolCallStart(call_id, name)
            elif block.get("type") == "text" and block.get("text"):
                yield TextDelta(whole(block["text"]))
            elif block.get("type") == "thinking" and (block.get("thinking") or block.get("signature")):
                yield ThinkingDelta(whole(str(block.get("thinking") or "")), str(block.get("signature") or ""))
            elif block.get("type") == "redacted_thinking" and block.get("data"):
                yield ThinkingDelta("", "", str(block["data"]))
        elif kind == "content_block_stop":
            call = calls.pop(data.get("index"), None)
            if call is not None:
                yield from _ready(*call)
        elif kind == "message_start":
            usage.update(_usage_of((data.get("message") or {}).get("usage")))
        elif kind == "message_delta":
            usage.update(_usage_of(data.get("usage")))
            stop_reason = (data.get("delta") or {}).get("stop_reason") or stop_reason
        elif kind == "message_stop":
            read_to_end(events)  # first: pooled even if the consumer stops at Stop
            yield _usage_event(usage)
            yield Stop(stop_reason)
            return
    raise StreamInterrupted("the reply ended before the server finished it (no message_stop).")


def _ready(call_id: str, name: str, fragments: list[str], at_start: object) -> Iterator[Event]:
    """A finished tool_use block's call. The API streams the input as fragments
    after an empty `input` at the start; some compatible servers put it whole in
    content_block_start instead, and the SDK keeps it then: so do we."""
    if not fragments and isinstance(at_start, dict) and at_start:
        import json

        yield ToolInputDelta(call_id, json.dumps(at_start, ensure_ascii=False))
        yield ToolCallReady(call_id, name, at_start)
        return
    yield ToolCallReady(call_id, name, tool_input("".join(fragments)))


def _delta(delta: dict[str, Any], call: _Call | None) -> Iterator[Event]:
    kind = delta.get("type")
    if kind == "text_delta" and delta.get("text"):
        yield TextDelta(whole(delta["text"]))
    elif kind == "thinking_delta" and delta.get("thinking"):
        yield ThinkingDelta(whole(delta["thinking"]))
    elif kind == "signature_delta" and delta.get("signature"):
        yield ThinkingDelta("", delta["signature"])
    elif kind == "input_json_delta" and call is not None:
        piece = delta.get("partial_json") or ""
        if piece:
            call[2].append(piece)
            yield ToolInputDelta(call[0], piece)


def _parse_whole(response: httpx2.Response) -> Iterator[Event]:
    response.read()
    data = response.json()
    for block in data.get("content") or []:
        kind = block.get("type")
        if kind == "text" and block.get("text"):
            yield TextDelta(whole(block["text"]))
        elif kind == "thinking":
            yield ThinkingDelta(whole(str(block.get("thinking") or "")), str(block.get("signature") or ""))
        elif kind == "redacted_thinking" and block.get("data"):
            yield ThinkingDelta("", "", str(block["data"]))
        elif kind == "tool_use":
            call_id, name = str(block.get("id") or ""), str(block.get("name") or "")
            yield ToolCallStart(call_id, name)
            value = block.get("input")
            yield ToolCallReady(call_id, name, value if isinstance(value, dict) else {})
    yield _usage_event(_usage_of(data.get("usage")))
    yield Stop(data.get("stop_reason") or "end_turn")


_USAGE_KEYS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")


def _usage_of(raw: object) -> dict[str, Any]:
    if not isinstance(raw, dict):
        return {}
    return {k: raw[k] for k in _USAGE_KEYS if isinstance(raw.get(k), int)}


def _usage_event(usage: dict[str, Any]) -> Usage:
    """Anthropic's input_tokens leaves out the cache's: all input is their sum. A
    cache count of 0 is None, as on the OpenAI wire when no cache was used."""
    read, write = usage.get("cache_read_input_tokens") or None, usage.get("cache_creation_input_tokens") or None
    uncached = usage.get("input_tokens")
    total = None if uncached is None else uncached + (read or 0) + (write or 0)
    return Usage(total, usage.get("output_tokens"), read, write)


def _error_event(data: str) -> ProviderError:
    from chinwag.providers.http_failures import error_detail

    import json

    try:
        error = json.loads(data).get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    kind = error.get("type", "error") if isinstance(error, dict) else "error"
    message = f"the server stopped the reply: {error_detail(data)} ({kind})."
    if is_overflow({"error": error}):
        return ContextOverflow(message)
    return StreamInterrupted(
        message,
        reason=ERROR_EVENT_REASONS.get(kind, "stopped by the server"),
        retryable=kind in ERROR_EVENT_REASONS,  # only ever retried before any text arrived
    )


def is_overflow(body: object) -> bool:
    """Whether an error body says the prompt does not fit the context window:
    "prompt is too long: 215000 tokens > 200000 maximum", or "input length and
    `max_tokens` exceed context limit: ..." (the API has no code for it)."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or error.get("type") != "invalid_request_error":
        return False
    message = str(error.get("message", "")).lower()
    return any(phrase in message for phrase in OVERFLOW_PHRASES)
