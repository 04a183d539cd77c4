"""OpenAI chat completions, spoken directly over httpx2, for any compatible
server (OpenAI, vLLM, Ollama, llama.cpp, TGI).

Streaming chunks carry `choices[0].delta.content`; we ask for a final usage
chunk (`stream_options.include_usage`) and stop at `data: [DONE]`. Chunks with
no choices, role-only deltas, null content and fields we do not know are
skipped. Reasoning servers (DeepSeek, vLLM, llama.cpp) stream
`reasoning_content` or `reasoning`: shown as thinking. Tool calls arrive as
`delta.tool_calls[]` fragments joined by `index`: the first carries `id` and
`function.name`, `arguments` comes in pieces (null meaning ""); Ollama reuses
index 0 for parallel calls, so a new `id` starts a new call. They end with
`finish_reason: "tool_calls"`; results go back as an assistant message with
`tool_calls` (content null when there is no text), then `role: "tool"` messages.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from chinwag.context import estimate_tokens
from chinwag.errors import BadRequest, ContextOverflow, StreamInterrupted, UsageError
from chinwag.events import (
    Event,
    Notice,
    Retrying,
    Stop,
    TextDelta,
    ThinkingDelta,
    ToolCallReady,
    ToolCallStart,
    ToolInputDelta,
    Usage,
)
from chinwag.providers.base import BaseProvider
from chinwag.providers.http import ApiCall, read_to_end, stream_events
from chinwag.providers.http_client import HttpSettings
from chinwag.providers.http_failures import error_detail
from chinwag.providers.wire import base64_of, tool_input, whole
from chinwag.records import ChatRequest, Document, Image, Message, ToolCall, ToolResult, Window

if TYPE_CHECKING:
    import httpx2

DEFAULT_BASE_URL = "https://api.openai.com/v1"
# OpenAI's names for why a reply ended, in the vocabulary of chinwag's Stop.
OPENAI_CONTEXT = (("gpt-4.1", 1_000_000), ("gpt-5", 400_000), ("gpt-4o", 128_000),
                  ("o1", 200_000), ("o3", 200_000), ("o4", 200_000), ("gpt-4-turbo", 128_000))
# What /models' owned_by says about a server that continues a final assistant message.
SERVER_PREFILL = {"llamacpp": "trailing-assistant", "vllm": "vllm"}
PREFILL_MODES = ("auto", "trailing-assistant", "vllm", "none")
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


class OpenAIProvider(BaseProvider):
    name = "openai"  # what it can do is declared in its registry row

    def __init__(self, api_key: str | None, base_url: str | None = None, prefill: str = "auto",
                 **http: Any) -> None:
        self.api_key = api_key
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.http = HttpSettings(**http)
        self._default_model: str | None = None
        self._prefill = prefill  # how this server continues a reply; "auto": ask /models once
        # How a --schema is sent: "json_schema" until the server refuses it, then "json_object".
        self._schema_mode = "json_schema"

    @property
    def supports_prefill(self) -> bool:
        """Declared "per server": the `prefill` setting, or what the server says it is."""
        return self.prefill_mode() != "none"

    def prefill_mode(self) -> str:
        """How this server continues a partial reply: "trailing-assistant"
        (llama.cpp's llama-server prefills a final assistant message, since its
        PR #13174), "vllm" (continue_final_message), or "none". Detected from
        /models where the server says what it is; never guessed: a server that
        silently answered the partial as a new reply would stitch two answers."""
        if self._prefill == "auto":
            self._prefill = self._detect_prefill()
        return self._prefill

    def _detect_prefill(self) -> str:
        from chinwag.errors import ProviderError
        from chinwag.providers.listing import get_models

        try:
            models = get_models(f"{self.base_url}/models", self._auth(), self.http, "OPENAI_API_KEY")
        except ProviderError:
            return "none"
        owners = {str(m.get("owned_by", "")).lower() for m in models}
        return SERVER_PREFILL.get(owners.pop(), "none") if len(owners) == 1 else "none"

    def stream(self, request: ChatRequest) -> Iterator[Event]:
        if not request.model:
            request = replace(request, model=self.default_model())
        if request.schema is not None and self._schema_mode == "json_schema":
            return self._schema_or_fallback(request, self._call(request))  # begun now, as _call's are
        return self._call(request)

    def _schema_or_fallback(self, request: ChatRequest, events: Iterator[Event]) -> Iterator[Event]:
        """Ask with `response_format` json_schema; a server that refuses it (a 400
        before any reply) is asked once more with json_object and the schema in
        the system prompt, and is asked that way from then on (said once)."""
        answered = False
        try:
            for event in events:
                answered = answered or not isinstance(event, Retrying)
                yield event
        except BadRequest as exc:
            if answered or isinstance(exc, ContextOverflow):
                raise
            self._schema_mode = "json_object"
            yield Notice(f"this server refused response_format json_schema ({exc.message.rstrip('.')}); "
                         "asking for JSON with the schema in the system prompt instead")
            yield from self._call(request)
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()

    def _call(self, request: ChatRequest) -> Iterator[Event]:
        call = ApiCall(
            url=f"{self.base_url}/chat/completions",
            headers=self._auth(),
            body=self._body(request),
            key_variable="OPENAI_API_KEY",
            secrets=(self.api_key or "",),
            not_found_hint="" if self.base_url.endswith("/v1") else
            "OPENAI_BASE_URL usually ends in /v1, e.g. http://127.0.0.1:11434/v1",
            overflow=is_overflow,
        )
        return stream_events(call, self.http, _parse_stream if request.stream else _parse_whole)

    def list_models(self) -> list[str]:
        from chinwag.providers.listing import get_model_ids

        return get_model_ids(f"{self.base_url}/models", self._auth(), self.http, "OPENAI_API_KEY")

    def default_model(self) -> str:
        """The server's first model: what a single-model server (vLLM, llama.cpp) serves."""
        if self._default_model is None:
            models = self.list_models()
            if not models:
                raise UsageError(f"{self.base_url} lists no models; name one with -m openai:NAME.")
            self._default_model = models[0]
        return self._default_model

    def context_window(self, model: str) -> Window | None:
        """Known for OpenAI's own models; None for other servers, which say when a prompt is too long."""
        if "api.openai.com" not in self.base_url:
            return None
        for prefix, tokens in OPENAI_CONTEXT:
            if model.startswith(prefix):
                return Window(tokens, estimate_tokens)
        return None

    def warm_up(self) -> None:
        self.http.warm_up(self.base_url)

    def cancel(self) -> None:
        self.http.cancel()

    def close(self) -> None:
        self.http.close()

    def _auth(self) -> dict[str, str]:
        # Local servers (Ollama, llama.cpp) need no key; send none rather than a fake one.
        return {"authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def _body(self, request: ChatRequest) -> dict[str, Any]:
        system = request.system
        if request.schema is not None and self._schema_mode == "json_object":
            from chinwag.structured import fallback_instruction

            system = "\n\n".join(p for p in (system, fallback_instruction(request.schema)) if p)
        messages = [{"role": "system", "content": system}] if system else []
        for message in request.messages:
            messages += _wire_messages(message)
        body: dict[str, Any] = {"model": request.model, "messages": messages}
        if request.tools:
            body["tools"] = [{"type": "function", "function": {
                "name": t.name, "description": t.description, "parameters": dict(t.input_schema)}}
                for t in request.tools]
        # OpenAI's own API wants max_completion_tokens (its reasoning models
        # reject max_tokens); compatible servers mostly know only max_tokens.
        limit = "max_completion_tokens" if "api.openai.com" in self.base_url else "max_tokens"
        body[limit] = request.max_tokens
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.continue_reply and self.prefill_mode() == "vllm":
            body["continue_final_message"] = True  # the last (assistant) message goes on
            body["add_generation_prompt"] = False
        if request.schema is not None:
            body["response_format"] = _response_format(request.schema, self._schema_mode)
        if request.stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body


def _response_format(schema: Any, mode: str) -> dict[str, Any]:
    """`response_format` for a --schema: json_schema, strict where the schema
    allows it (OpenAI's strict mode wants every property required), or
    json_object for a server that refused that."""
    if mode == "json_object":
        return {"type": "json_object"}
    from chinwag.structured import all_required, strict_schema

    strict = all_required(schema)
    return {"type": "json_schema", "json_schema": {
        "name": "reply", "strict": strict, "schema": strict_schema(schema) if strict else dict(schema)}}


def _wire_messages(message: Message) -> list[dict[str, Any]]:
    """One chinwag message as chat-completions messages: tool results become
    `tool` messages (then any text as a user message); calls ride on the assistant's."""
    import json

    if not message.blocks:
        return [{"role": message.role, "content": message.content}]
    if message.role == "assistant":
        calls = [{"id": b.id, "type": "function", "function": {
            "name": b.name, "arguments": json.dumps(dict(b.input), ensure_ascii=False)}}
            for b in message.blocks if isinstance(b, ToolCall)]
        wire: dict[str, Any] = {"role": "assistant", "content": message.content or None}
        if calls:
            wire["tool_calls"] = calls
        return [wire]
    out: list[dict[str, Any]] = [
        {"role": "tool", "tool_call_id": b.call_id, "content": b.content if not b.is_error else f"error: {b.content}"}
        for b in message.blocks if isinstance(b, ToolResult)]
    parts: list[dict[str, Any]] = []
    after: str | None = None  # the call whose result an image or PDF came with
    for block in message.blocks:
        if isinstance(block, ToolResult):
            after = block.call_id
            continue
        if after is not None and isinstance(block, (Image, Document)):
            # A tool message holds text only: what the tool gave comes next, in a user message, named.
            parts.append({"type": "text", "text": f"[from the result of tool call {after}]"})
            after = None
        if isinstance(block, Image):
            parts.append({"type": "image_url", "image_url": {"url": data_url(block.media_type, block.data)}})
        elif isinstance(block, Document):
            parts.append({"type": "file", "file": {"filename": block.name or "document.pdf",
                                                   "file_data": data_url(block.media_type, block.data)}})
    if parts:  # attachments: the text and the files as one user message of parts
        text = [{"type": "text", "text": message.content}] if message.content else []
        out.append({"role": "user", "content": parts + text})
    elif message.content:
        out.append({"role": "user", "content": message.content})
    return out


def data_url(media_type: str, data: bytes) -> str:
    return f"data:{media_type};base64,{base64_of(data)}"


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


def _parse_stream(response: httpx2.Response) -> Iterator[Event]:
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
    yield Usage(usage.get("prompt_tokens"), usage.get("completion_tokens"))
    yield Stop(STOP_REASONS.get(finish_reason or "stop", finish_reason or "end_turn"))


def _parse_whole(response: httpx2.Response) -> Iterator[Event]:
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
    yield Usage(usage.get("prompt_tokens"), usage.get("completion_tokens"))
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
