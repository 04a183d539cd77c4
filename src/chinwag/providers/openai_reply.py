"""An OpenAI-compatible server's reply as chinwag's events, streamed or
whole, and how its errors say a prompt is too long.

Streaming chunks carry `choices[0].delta.content`; we ask for a final usage
chunk (`stream_options.include_usage`) and stop at `data: [DONE]`. Chunks with
no choices, role-only deltas, null content and fields we do not know are
skipped. Reasoning servers (DeepSeek, vLLM, llama.cpp) stream
`reasoning_content` or `reasoning`: shown as thinking. Tool calls arrive as
`delta.tool_calls[]` fragments joined by `index`: the first carries `id` and
`function.name`, `arguments` comes in pieces (null meaning ""); Ollama reuses
index 0 for parallel calls, so a new `id` starts a new call. They end with
`finish_reason: "tool_calls"`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from chinwag.errors import ContextOverflow, StreamInterrupted
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
from chinwag.providers.http import read_to_end
from chinwag.providers.http_failures import error_detail
from chinwag.providers.wire import tool_input, whole

if TYPE_CHECKING:
    import httpx2

# OpenAI's names for why a reply ended, in the vocabulary of chinwag's Stop.
STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "content_filter": "refusal",
                "tool_calls": "tool_use", "function_call": "tool_use"}
# How a server says the prompt is longer than the model takes. OpenAI (and
# llama-cpp-python's server) set `code`, llama.cpp's llama-server sets `type`;
# vLLM, Ollama, TGI and older llama-servers only say it in words.
OVERFLOW_CODES = frozenset({"context_length_exceeded", "exceed_context_size_error"})
OVERFLOW_WORDS = re.compile(
    r"context[ _-]?length|context window|maximum context|too many tokens|prompt (is )?too long"
    r"|exceeds? (the )?(available )?context|input is too long|reduce the length"
    r"|longer than the maximum model length"  # vLLM: "The decoder prompt (length N) is longer than ..."
    r"|`inputs` tokens \+ `max_new_tokens` must be|`inputs` must have less than",  # TGI
    re.IGNORECASE,
)


class _ToolCalls:
    """Tool-call fragments joined into whole calls, in the order they began."""

    def __init__(self) -> None:
        self._by_index: dict[int, list[Any]] = {}  # index -> [id, name, argument pieces]
        self._order: list[list[Any]] = []

    def add(self, fragment: dict[str, Any]) -> Iterator[Event]:
        index = fragment.get("index", 0)
        index = index if isinstance(index, int) else 0
        function = fragment.get("function") or {}
        call_id = fragment.get("id")
        current = self._by_index.get(index)
        if current is None or (call_id and current[0] and call_id != current[0]):  # Ollama: a new id, a new call
            current = [str(call_id or f"call_{len(self._order)}"), "", []]
            self._by_index[index] = current
            self._order.append(current)
        elif call_id and not current[0]:
            current[0] = str(call_id)
        name = function.get("name")
        if isinstance(name, str) and name:
            started = bool(current[1])
            current[1] += name
            if not started:
                yield ToolCallStart(current[0], current[1])
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            current[2].append(arguments)
            yield ToolInputDelta(current[0], arguments)

    def ready(self) -> Iterator[Event]:
        for call_id, name, pieces in self._order:
            yield ToolCallReady(call_id, name, tool_input("".join(pieces)))
        self._order, self._by_index = [], {}


def parse_stream(response: httpx2.Response) -> Iterator[Event]:
    import httpx2

    usage: dict[str, Any] = {}
    finish_reason = None
    calls = _ToolCalls()
    events = iter(httpx2.EventSource(response))
    for sse in events:
        if sse.data.strip() == "[DONE]":
            read_to_end(events)  # so the connection goes back to the pool
            break
        if not sse.data.strip():
            continue
        chunk = sse.json()
        if not isinstance(chunk, dict):
            continue
        if chunk.get("error"):
            message = f"the server stopped the reply: {error_detail(sse.data)}."
            if is_overflow(chunk):  # llama-server says so in the stream, once it has begun one
                raise ContextOverflow(message)
            # As for Anthropic: retried only if no text had arrived.
            raise StreamInterrupted(message, reason="stopped by the server", retryable=True)
        usage = chunk.get("usage") or usage
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(reasoning, str) and reasoning:
                yield ThinkingDelta(whole(reasoning))
            content = delta.get("content")
            if isinstance(content, str) and content:
                yield TextDelta(whole(content))
            for fragment in delta.get("tool_calls") or []:
                if isinstance(fragment, dict):
                    yield from calls.add(fragment)
            finish_reason = choice.get("finish_reason") or finish_reason
    else:
        if finish_reason is None:
            raise StreamInterrupted("the reply ended before the server finished it (no [DONE]).")
    yield from calls.ready()
    yield _usage_event(usage)
    yield Stop(STOP_REASONS.get(finish_reason or "stop", finish_reason or "end_turn"))


def parse_whole(response: httpx2.Response) -> Iterator[Event]:
    import json

    response.read()
    data = response.json()
    choice = (data.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        yield ThinkingDelta(whole(reasoning))
    text = message.get("content") or ""
    if text:
        yield TextDelta(whole(text))
    calls = _ToolCalls()
    for index, call in enumerate(message.get("tool_calls") or []):
        function = call.get("function") or {} if isinstance(call, dict) else {}
        arguments = function.get("arguments")
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments or {})
        yield from calls.add({"index": index, "id": call.get("id") if isinstance(call, dict) else None,
                              "function": {"name": function.get("name"), "arguments": arguments}})
    yield from calls.ready()
    usage = data.get("usage") or {}
    yield _usage_event(usage)
    reason = choice.get("finish_reason") or "stop"
    yield Stop(STOP_REASONS.get(reason, reason))


def is_overflow(body: object) -> bool:
    """Whether an error body says the prompt does not fit the model's context
    window, in any of the shapes compatible servers send: {"error": {...}}
    (OpenAI, llama.cpp, Ollama, newer vLLM), the object itself (older vLLM),
    or {"error": "text"} (TGI)."""
    error = body.get("error", body) if isinstance(body, dict) else body
    if isinstance(error, dict):
        flags = (error.get("code"), error.get("type"))
        if any(isinstance(flag, str) and flag in OVERFLOW_CODES for flag in flags):
            return True
        error = error.get("message")
    return isinstance(error, str) and OVERFLOW_WORDS.search(error) is not None


def _usage_event(usage: dict[str, Any]) -> Usage:
    """prompt_tokens counts all input, cached included; completion_tokens, the reasoning too."""
    prompt = usage.get("prompt_tokens_details")
    completion = usage.get("completion_tokens_details")
    cached = prompt.get("cached_tokens") if isinstance(prompt, dict) else None
    reasoning = completion.get("reasoning_tokens") if isinstance(completion, dict) else None
    return Usage(usage.get("prompt_tokens"), usage.get("completion_tokens"),
                 cached if isinstance(cached, int) else None, None,
                 reasoning if isinstance(reasoning, int) else None)
