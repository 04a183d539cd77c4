"""Scripted replies that call tools, in each API's streaming wire format.

    anthropic_calls([("toolu_1", "read_file", {"path": "notes.txt"})], text="Let me look.")
    openai_calls([("call_1", "shell", {"command": "ls"})])

Each returns a `Reply` with a raw SSE body (see reply.py), split the way the
real APIs split tool input: the JSON text arrives in small fragments, cut
anywhere, escapes included.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from tests.fakes.reply import Reply

Call = tuple[str, str, dict[str, Any]]


def _pieces(text: str, size: int = 7) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


def _sse(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def anthropic_calls(calls: Sequence[Call], text: str = "", thinking: str = "", signature: str = "sig-1",
                    stop: str = "tool_use", input_at_start: bool = False, thinking_at_start: bool = False,
                    redacted: str = "", **reply: Any) -> Reply:
    """`input_at_start`: each call's input whole in its content_block_start, with no
    input_json_delta (as some Anthropic-compatible servers send it); `thinking_at_start`
    the same for the thinking block, signature included. `redacted`: the `data` of a
    redacted_thinking block sent first (reasoning the safety systems encrypted)."""
    out = [_sse("message_start", {"type": "message_start", "message": {
        "id": "msg_tools", "type": "message", "role": "assistant", "model": "claude-sonnet-4-20250514",
        "content": [], "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": 50, "output_tokens": 1}}})]
    index = 0
    if redacted:
        out.append(_sse("content_block_start", {"type": "content_block_start", "index": index,
                                                "content_block": {"type": "redacted_thinking", "data": redacted}}))
        out.append(_sse("content_block_stop", {"type": "content_block_stop", "index": index}))
        index += 1
    if thinking:
        whole = {"thinking": thinking if thinking_at_start else "", "signature": signature if thinking_at_start else ""}
        out.append(_sse("content_block_start", {"type": "content_block_start", "index": index,
                                                "content_block": {"type": "thinking", **whole}}))
        for piece in [] if thinking_at_start else _pieces(thinking, 12):
            out.append(_sse("content_block_delta", {"type": "content_block_delta", "index": index,
                                                    "delta": {"type": "thinking_delta", "thinking": piece}}))
        if not thinking_at_start:
            out.append(_sse("content_block_delta", {"type": "content_block_delta", "index": index,
                                                    "delta": {"type": "signature_delta", "signature": signature}}))
        out.append(_sse("content_block_stop", {"type": "content_block_stop", "index": index}))
        index += 1
    if text:
        out.append(_sse("content_block_start", {"type": "content_block_start", "index": index,
                                                "content_block": {"type": "text", "text": ""}}))
        for piece in _pieces(text, 5):
            out.append(_sse("content_block_delta", {"type": "content_block_delta", "index": index,
                                                    "delta": {"type": "text_delta", "text": piece}}))
        out.append(_sse("content_block_stop", {"type": "content_block_stop", "index": index}))
        index += 1
    for call_id, name, arguments in calls:
        out.append(_sse("content_block_start", {"type": "content_block_start", "index": index, "content_block": {
            "type": "tool_use", "id": call_id, "name": name, "input": arguments if input_at_start else {}}}))
        encoded = json.dumps(arguments, ensure_ascii=False) if arguments else ""
        for piece in [] if input_at_start else [""] + _pieces(encoded):
            out.append(_sse("content_block_delta", {"type": "content_block_delta", "index": index,
                                                    "delta": {"type": "input_json_delta", "partial_json": piece}}))
        out.append(_sse("content_block_stop", {"type": "content_block_stop", "index": index}))
        index += 1
    out.append(_sse("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                                      "usage": {"output_tokens": 30}}))
    out.append(_sse("message_stop", {"type": "message_stop"}))
    return Reply(raw="".join(out), **reply)


def openai_calls(calls: Sequence[Call], text: str = "", reasoning: str = "", same_index: bool = False,
                 reasoning_field: str = "reasoning_content", empty_arguments: str | None = None,
                 id_every_fragment: bool = False, **reply: Any) -> Reply:
    """`same_index`: every call at index 0, told apart only by a new id (Ollama's way).
    `reasoning_field`: "reasoning_content" (DeepSeek, vLLM, llama.cpp) or "reasoning".
    `empty_arguments`: the `arguments` of each call's first fragment (null by default).
    `id_every_fragment`: each fragment repeats its call's id and type (as some servers do)."""
    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        body = {"id": "chatcmpl-tools", "object": "chat.completion.chunk", "created": 1, "model": "m",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    out = [chunk({"role": "assistant", "content": None})]
    for piece in _pieces(reasoning, 10) if reasoning else []:
        out.append(chunk({reasoning_field: piece}))
    for piece in _pieces(text, 5) if text else []:
        out.append(chunk({"content": piece}))
    for position, (call_id, name, arguments) in enumerate(calls):
        index = 0 if same_index else position
        out.append(chunk({"tool_calls": [{"index": index, "id": call_id, "type": "function",
                                          "function": {"name": name, "arguments": empty_arguments}}]}))
        encoded = json.dumps(arguments, ensure_ascii=False) if arguments else ""
        for piece in _pieces(encoded):
            again = {"id": call_id, "type": "function"} if id_every_fragment else {}
            out.append(chunk({"tool_calls": [{"index": index, **again, "function": {"arguments": piece}}]}))
    out.append(chunk({}, finish="tool_calls" if calls else "stop"))
    usage = {"id": "chatcmpl-tools", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [],
             "usage": {"prompt_tokens": 50, "completion_tokens": 30, "total_tokens": 80}}
    out.append(f"data: {json.dumps(usage)}\n\n")
    out.append("data: [DONE]\n\n")
    return Reply(raw="".join(out), **reply)
