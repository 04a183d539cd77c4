"""Helpers both HTTP wire formats share for what they carry: tool-call input,
text from a server that split a character, attachments inline."""

from __future__ import annotations

from typing import Any

from chinwag.errors import StreamInterrupted


def tool_input(text: str) -> dict[str, Any]:
    """A tool call's whole input: a JSON object, or {} when it was empty."""
    import json

    if not text.strip():
        return {}
    try:
        value = json.loads(whole(text))
    except ValueError as exc:
        raise StreamInterrupted(f"the server sent a tool call whose input is not JSON ({exc}).",
                                reason="malformed tool call") from exc
    if not isinstance(value, dict):
        raise StreamInterrupted("the server sent a tool call whose input is not a JSON object.",
                                reason="malformed tool call")
    return value


def whole(text: str) -> str:
    """`text` with a character's UTF-16 halves that came in separate fragments
    joined again (a proxy slicing JavaScript strings can cut an emoji in two),
    and any half left alone replaced by U+FFFD: neither can be written as UTF-8
    (to a terminal, a pipe, --json or the history). Every text a provider
    yields goes through here."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def base64_of(data: bytes) -> str:
    """Bytes as the APIs take an inline upload. A 20 MB image makes one 27 MB
    string here, and json.dumps copies it once more: no other copy is made."""
    import base64

    return base64.b64encode(data).decode("ascii")
