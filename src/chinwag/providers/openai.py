"""OpenAI chat completions, spoken directly over httpx2, for any compatible
server (OpenAI, vLLM, Ollama, llama.cpp, TGI). The reply is read in
openai_reply.py. Tool results go back as an assistant message with
`tool_calls` (content null when there is no text), then `role: "tool"` messages.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from chinwag.context import estimate_tokens
from chinwag.errors import BadRequest, ContextOverflow, UsageError
from chinwag.events import Event, Notice, Retrying
from chinwag.providers.http import ApiCall, stream_events
from chinwag.providers.http_provider import HttpProvider
from chinwag.providers.openai_reply import is_overflow, parse_stream, parse_whole
from chinwag.providers.wire import base64_of
from chinwag.records import ChatRequest, Document, Image, Message, ToolCall, ToolResult, Window

DEFAULT_BASE_URL = "https://api.openai.com/v1"
OPENAI_CONTEXT = (("gpt-4.1", 1_000_000), ("gpt-5", 400_000), ("gpt-4o", 128_000),
                  ("o1", 200_000), ("o3", 200_000), ("o4", 200_000), ("gpt-4-turbo", 128_000))
# What /models' owned_by says about a server that continues a final assistant message.
SERVER_PREFILL = {"llamacpp": "trailing-assistant", "vllm": "vllm"}
PREFILL_MODES = ("auto", "trailing-assistant", "vllm", "none")


class OpenAIProvider(HttpProvider):
    name = "openai"  # what it can do is declared in its registry row

    def __init__(self, api_key: str | None, base_url: str | None = None, prefill: str = "auto",
                 **http: Any) -> None:
        super().__init__(base_url or DEFAULT_BASE_URL, **http)
        self.api_key = api_key
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
        return stream_events(call, self.http, parse_stream if request.stream else parse_whole)

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
