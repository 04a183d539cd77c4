"""The OpenAI chat completions wire format: `data: <chat.completion.chunk>`
lines (no `event:` line), a blank line after each, then `data: [DONE]`.

    {delta: {role: assistant, content: ""}} → {delta: {content: …}}…
    → {delta: {}, finish_reason: "stop"} → (include_usage) {choices: [], usage: {…}}
    → [DONE]
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from tests.fakes.reply import Reply
from tests.fakes.script import Script

FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
ERRORS = {  # status: (type, code, message)
    400: ("invalid_request_error", None, "'messages' must contain at least one message."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided: test-key."),
    403: ("invalid_request_error", "unsupported_country_region_territory", "Country, region, or territory not supported"),
    404: ("invalid_request_error", "model_not_found", "The model does not exist or you do not have access to it."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests"),
    500: ("server_error", None, "The server had an error while processing your request."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later"),
}


def data(payload: dict[str, Any] | str) -> bytes:
    text = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    return f"data: {text}\n\n".encode()


def response_headers() -> dict[str, str]:
    return {"x-request-id": f"req_{uuid.uuid4().hex}", "openai-processing-ms": "42"}


def finish_reason(reply: Reply) -> str:
    return FINISH_REASONS.get(reply.stop_reason, reply.stop_reason)


def _usage(reply: Reply) -> dict[str, Any]:
    out = reply.completion_tokens
    prompt = reply.input_tokens + reply.cache_read_tokens
    usage: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": out, "total_tokens": prompt + out}
    if reply.cache_read_tokens:
        usage["prompt_tokens_details"] = {"cached_tokens": reply.cache_read_tokens}
    if reply.reasoning_tokens is not None:
        usage["completion_tokens_details"] = {"reasoning_tokens": reply.reasoning_tokens}
    return usage


class _Chunks:
    """Builds chunk objects that share one id, timestamp and model."""

    def __init__(self, reply: Reply, request: Any) -> None:
        self.id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        self.created = int(time.time())
        self.model = reply.model or (request or {}).get("model") or "gpt-4o-mini"
        options = (request or {}).get("stream_options") or {}
        self.include_usage = bool(options.get("include_usage"))

    def chunk(self, choices: list[Any], usage: Any = None) -> bytes:
        body: dict[str, Any] = {
            "id": self.id, "object": "chat.completion.chunk", "created": self.created,
            "model": self.model, "system_fingerprint": "fp_scripted", "choices": choices,
        }
        if self.include_usage:
            body["usage"] = usage
        return data(body)

    def delta(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        return self.chunk([{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}])


def script(reply: Reply, request: Any) -> Script:
    """The whole streamed reply. With `unknown_events`: a chunk with empty
    `choices` first (Azure's prompt-filter chunk), an SSE comment, a role-only
    delta, `reasoning_content` deltas (DeepSeek, llama.cpp), and after the first
    text chunk a `content: null` delta and an empty delta."""
    c = _Chunks(reply, request)
    extra = reply.unknown_events
    head = []
    if extra:
        head.append(c.chunk([]))
        head.append(b": keep-alive\n\n")
        head.append(c.delta({"role": "assistant"}))
        head.append(c.delta({"reasoning_content": "The user greets me; "}))
        head.append(c.delta({"reasoning_content": "answer briefly.", "content": None}))
    else:
        head.append(c.delta({"role": "assistant", "content": "", "refusal": None}))

    text = []
    for i, chunk in enumerate(reply.chunks):
        group = [c.delta({"content": chunk})]
        if extra and i == 0:
            group += [c.delta({"content": None}), c.delta({})]
        text.append(group)

    tail = []
    if not reply.no_stop:
        tail.append(c.delta({}, finish_reason(reply)))
        if c.include_usage:
            tail.append(c.chunk([], _usage(reply)))
        tail.append(data("[DONE]"))
    return Script(head=head, text=text, tail=tail)


def error_frame(reply: Reply) -> bytes:
    return data({"error": _error(reply, "server_error", None, "Overloaded")})


def malformed_frame() -> bytes:
    return b'data: {"id": "chatcmpl-x", "object": "chat.completion.chunk", "choices": [{"delta": {"cont\n\n'


def _error(reply: Reply, kind: str, code: str | None, message: str) -> dict[str, Any]:
    return {
        "message": reply.error_message or message,
        "type": reply.error_type or kind,
        "param": None,
        "code": reply.error_code or code,
    }


def error_body(reply: Reply) -> Any:
    if reply.error_json is not None:
        return reply.error_json
    generic = ("server_error" if reply.status >= 500 else "invalid_request_error", None, "Error")
    return {"error": _error(reply, *ERRORS.get(reply.status, generic))}


def final_body(reply: Reply, request: Any) -> dict[str, Any]:
    """The non-streaming chat.completion object."""
    c = _Chunks(reply, request)
    message: dict[str, Any] = {"role": "assistant", "content": reply.text, "refusal": None}
    if reply.unknown_events:
        message["reasoning_content"] = "The user greets me."
    return {
        "id": c.id, "object": "chat.completion", "created": c.created, "model": c.model,
        "system_fingerprint": "fp_scripted",
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason(reply)}],
        "usage": _usage(reply),
    }


def models_body(models: list[str], owned_by: str = "scripted") -> dict[str, Any]:
    data_ = [{"id": m, "object": "model", "created": 1715644800, "owned_by": owned_by} for m in models]
    return {"object": "list", "data": data_}


def not_found_body(path: str) -> dict[str, Any]:
    return {"error": {"message": f"Invalid URL (POST {path})", "type": "invalid_request_error", "param": None, "code": None}}
