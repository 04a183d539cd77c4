"""The Anthropic Messages API wire format, as documented and as the official
SDK parses it: `event:` + `data:` lines, a blank line after each event.

    message_start → content_block_start → ping → content_block_delta (text_delta)…
    → content_block_stop → message_delta (stop_reason, usage.output_tokens)
    → message_stop

A mid-stream failure is `event: error` on the 200 response.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.fakes.reply import Reply
from tests.fakes.script import Script

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
ERROR_MESSAGES = {
    "invalid_request_error": "messages: at least one message is required",
    "authentication_error": "invalid x-api-key",
    "permission_error": "Your API key does not have permission to use the specified resource.",
    "not_found_error": "Not found",
    "rate_limit_error": "Number of request tokens has exceeded your per-minute rate limit",
    "api_error": "Internal server error",
    "overloaded_error": "Overloaded",
}


def event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def response_headers() -> dict[str, str]:
    return {"request-id": f"req_{uuid.uuid4().hex[:24]}"}


def _message(reply: Reply, request: Any, content: list[Any], stop: str | None, out: int) -> dict[str, Any]:
    model = reply.model or (request or {}).get("model") or "claude-sonnet-4-20250514"
    return {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {
            "input_tokens": reply.input_tokens,
            "cache_creation_input_tokens": reply.cache_write_tokens,
            "cache_read_input_tokens": reply.cache_read_tokens,
            "output_tokens": out,
        },
    }


def _delta(index: int, delta: dict[str, Any]) -> bytes:
    return event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})


def _thinking_block(index: int) -> list[bytes]:
    start = {"type": "thinking", "thinking": "", "signature": ""}
    return [
        event("content_block_start", {"type": "content_block_start", "index": index, "content_block": start}),
        _delta(index, {"type": "thinking_delta", "thinking": "The user greets me; "}),
        _delta(index, {"type": "thinking_delta", "thinking": "answer briefly."}),
        _delta(index, {"type": "signature_delta", "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"}),
        event("content_block_stop", {"type": "content_block_stop", "index": index}),
    ]


def _tool_use_block(index: int) -> list[bytes]:
    start = {"type": "tool_use", "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "name": "get_weather", "input": {}}
    return [
        event("content_block_start", {"type": "content_block_start", "index": index, "content_block": start}),
        _delta(index, {"type": "input_json_delta", "partial_json": ""}),
        _delta(index, {"type": "input_json_delta", "partial_json": '{"location": "San Fra'}),
        _delta(index, {"type": "input_json_delta", "partial_json": 'ncisco, CA"}'}),
        event("content_block_stop", {"type": "content_block_stop", "index": index}),
    ]


_CITATION = {
    "type": "char_location",
    "cited_text": "Hello",
    "document_index": 0,
    "document_title": "Greetings",
    "start_char_index": 0,
    "end_char_index": 5,
}


def script(reply: Reply, request: Any) -> Script:
    """The whole streamed reply. With `unknown_events`, a thinking block comes
    first (so the text block has index 1), a citations_delta and an extra ping
    follow the first text chunk, and a tool_use block follows the text."""
    extra = reply.unknown_events
    text_index = 1 if extra else 0
    head = [event("message_start", {"type": "message_start", "message": _message(reply, request, [], None, 1)})]
    if extra:
        head += _thinking_block(0)
    head.append(event("content_block_start", {
        "type": "content_block_start", "index": text_index, "content_block": {"type": "text", "text": ""},
    }))
    head.append(event("ping", {"type": "ping"}))

    text = []
    for i, chunk in enumerate(reply.chunks):
        group = [_delta(text_index, {"type": "text_delta", "text": chunk})]
        if extra and i == 0:
            group.append(_delta(text_index, {"type": "citations_delta", "citation": _CITATION}))
            group.append(event("ping", {"type": "ping"}))
        text.append(group)

    tail = [event("content_block_stop", {"type": "content_block_stop", "index": text_index})]
    if extra:
        tail += _tool_use_block(text_index + 1)
    tail.append(event("message_delta", {
        "type": "message_delta",
        "delta": {"stop_reason": reply.stop_reason, "stop_sequence": None},
        "usage": {"output_tokens": reply.completion_tokens},
    }))
    if not reply.no_stop:
        tail.append(event("message_stop", {"type": "message_stop"}))
    return Script(head=head, text=text, tail=tail)


def error_frame(reply: Reply) -> bytes:
    return event("error", {"type": "error", "error": _error(reply, "overloaded_error")})


def malformed_frame() -> bytes:
    return b'event: content_block_delta\ndata: {"type": "content_block_delta", "index": 0, "delta": {"type": "text_d\n\n'


def _error(reply: Reply, default_type: str) -> dict[str, str]:
    kind = reply.error_type or default_type
    return {"type": kind, "message": reply.error_message or ERROR_MESSAGES.get(kind, kind)}


def error_body(reply: Reply) -> Any:
    if reply.error_json is not None:
        return reply.error_json
    default = ERROR_TYPES.get(reply.status, "api_error" if reply.status >= 500 else "invalid_request_error")
    return {"type": "error", "error": _error(reply, default)}


def final_body(reply: Reply, request: Any) -> dict[str, Any]:
    """The non-streaming Message object."""
    content: list[Any] = [{"type": "text", "text": reply.text}]
    if reply.unknown_events:
        content.insert(0, {"type": "thinking", "thinking": "The user greets me.", "signature": "EqQBCgIYAhIM"})
    return _message(reply, request, content, reply.stop_reason, reply.completion_tokens)


def models_body(models: list[str], owned_by: str = "") -> dict[str, Any]:
    data = [
        {"type": "model", "id": m, "display_name": _display_name(m), "created_at": "2025-05-14T00:00:00Z"}
        for m in models
    ]
    return {
        "data": data,
        "has_more": False,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }


def _display_name(model: str) -> str:
    words = [w for w in model.split("-") if not w.isdigit() or len(w) < 8]
    return " ".join(w.capitalize() for w in words)


def not_found_body(path: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": "not_found_error", "message": f"Not found: {path}"}}
