"""An MCP server's question (elicitation) as the page asks it, and the page's answer read back.

The page shows it in the approval box (web/static/questions.js, `ReplyView.prototype.elicit`):
the server's message, each field as an input of its kind, Accept, Decline and
Cancel; in URL mode the URL and its host in full, opened only by the person's
click. Every text from the server is `reveal`ed here (controls and invisible
characters made visible) and put in with textContent. The page sends each
field as the text a person would type at the terminal, and it is read with the
same rules (`parse_value`), so both ask the same question.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chinwag.render.sanitize import reveal
from chinwag.tools.mcp_elicit import ElicitAnswer, Elicitation, Value, host_of, parse_value, shown_default


def web_elicitation(request: Elicitation) -> dict[str, Any]:
    question: dict[str, Any] = {"heading": f"? MCP server {reveal(request.server)} asks",
                                "message": reveal(request.message)}
    if request.url is not None:
        opens = request.url.lower().startswith(("https://", "http://"))  # never javascript: or file:
        question |= {"url": reveal(request.url), "host": reveal(host_of(request.url)),
                     "open": request.url if opens else None}
        return question
    question["fields"] = [{
        "name": f.name, "label": reveal(f.title or f.name), "about": reveal(f.description), "kind": f.kind,
        "required": f.required, "default": shown_default(f), "format": f.format,
        "choices": [[str(n), reveal(label)] for n, (_value, label) in enumerate(f.choices, 1)],
        "min": f.minimum, "max": f.maximum} for f in request.fields]
    return question


def page_answer(request: Elicitation, action: str, values: Mapping[str, Any]) -> ElicitAnswer | str:
    """The page's answer as an ElicitAnswer, or what is wrong with it (one line)."""
    if action in ("decline", "cancel"):
        return ElicitAnswer(action)  # type: ignore[arg-type]
    if action != "accept":
        return "the answer must be accept, decline or cancel"
    content: dict[str, Value] = {}
    for field in request.fields:
        typed = values.get(field.name, "")
        if not isinstance(typed, str):
            return f"{field.name} must be sent as text"
        if not typed.strip():
            if field.required:
                return f"{field.name} is required"
            continue
        try:
            content[field.name] = parse_value(field, typed)
        except ValueError as exc:
            return f"{field.name}: {exc}"
    return ElicitAnswer("accept", content)
