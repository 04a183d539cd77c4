"""Asking a person at the terminal what an MCP server wants to know (elicitation).

The server's message comes first (sanitized: a server's words are untrusted),
then the choice: answer, decline, or cancel. To answer, each field of the form
is asked on its own line, with its description, its choices numbered and its
default (Enter keeps it); a value that does not fit is asked again with what is
wrong. Ctrl-C cancels; Ctrl-D declines. Keys typed before the question are
dropped, as for approvals: only what is typed after it is on screen counts.

In URL mode the URL is shown whole, with its host on its own line, and it is
opened only if the person says so.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from chinwag.render.sanitize import reveal, sanitize

if TYPE_CHECKING:  # imported when a question comes: the chat's start pays nothing for them
    from chinwag.tools.mcp_elicit import ElicitAnswer, Elicitation, Field, Value

CHOICE = "Answer? [a]nswer · [d]ecline · [c]ancel "
OPEN = "Open it in your browser? [o]pen · [d]ecline · [c]ancel "


def terminal_elicit(out: TextIO, read: Callable[[str], str] = input,
                    open_url: Callable[[str], object] | None = None) -> Callable[[Elicitation], ElicitAnswer]:
    """An `Elicit` (tools/mcp_elicit.py) asking on `out`, reading with `read`."""
    from chinwag.cli.approval import TYPEAHEAD_DROPPED
    from chinwag.cli.typeahead import discard_typeahead, echoed

    def line(prompt: str) -> str:
        with echoed(sys.stdin, out):
            return read(prompt)

    def first_line(prompt: str) -> str:
        out.flush()
        if discard_typeahead(sys.stdin):
            out.write(TYPEAHEAD_DROPPED)
        return line(prompt)

    def elicit(request: Elicitation) -> ElicitAnswer:
        from chinwag.tools.mcp_elicit import ElicitAnswer

        try:
            return asked(request)
        except EOFError:  # Ctrl-D: no
            out.write("\ndeclined\n")
            return ElicitAnswer.decline()
        except KeyboardInterrupt:  # the server is told the person cancelled; the chat goes on
            out.write("\ncancelled\n")
            out.flush()
            return ElicitAnswer("cancel")

    def asked(request: Elicitation) -> ElicitAnswer:
        from chinwag.tools.mcp_elicit import ElicitAnswer

        out.write(f"\n? MCP server {sanitize(request.server)} asks: {sanitize(request.message)}\n")
        if request.url is not None:
            return by_url(request.url)
        refused = chosen(CHOICE, "answer")
        if refused is not None:
            return refused
        content: dict[str, Value] = {}
        for spec in request.fields:
            value = ask_field(spec)
            if value is not None:
                content[spec.name] = value
        out.write(f"sent to {sanitize(request.server)}\n")
        return ElicitAnswer("accept", content)

    def ask_field(spec: Field) -> Value | None:
        from chinwag.tools.mcp_elicit import parse_value, shown_default

        title = sanitize(spec.title or spec.name)
        about = f" — {sanitize(spec.description)}" if spec.description else ""
        out.write(f"  {title}{about}\n")
        for number, (_value, label) in enumerate(spec.choices, 1):
            out.write(f"    {number}. {sanitize(label)}\n")
        default = shown_default(spec)
        hints = [{"boolean": "y/n", "multi": "numbers, separated by spaces", "enum": "a number"}.get(spec.kind, "")]
        hints += [spec.format, f"{spec.minimum:g}…" if spec.minimum is not None else "",
                  f"…{spec.maximum:g}" if spec.maximum is not None else ""]
        hints += ["required" if spec.required and not default else "",
                  f"Enter: {sanitize(default)}" if default else "" if spec.required else "Enter: leave out"]
        shown = " · ".join(h for h in hints if h)
        while True:
            typed = line(f"  {sanitize(spec.name)}" + (f" ({shown})" if shown else "") + ": ")
            if not typed.strip():
                if default:
                    typed = default
                elif not spec.required:
                    return None
                else:
                    out.write(f"  {sanitize(spec.name)} is required\n")
                    continue
            try:
                return parse_value(spec, typed)
            except ValueError as exc:
                out.write(f"  {exc}\n")

    def by_url(url: str) -> ElicitAnswer:
        from chinwag.tools.mcp_elicit import ElicitAnswer, host_of

        out.write(f"  URL:  {reveal(url)}\n  host: {reveal(host_of(url)) or '(none)'}\n")
        refused = chosen(OPEN, "open")
        if refused is not None:
            return refused
        opener = open_url or _open_in_browser
        opener(url)
        out.write("opened\n")
        return ElicitAnswer("accept")

    def chosen(prompt: str, accept: str) -> ElicitAnswer | None:
        """Ask `prompt` until the person chooses: None to go on (`accept`, its first
        letter, y or yes), else the server's answer (decline, n or no; cancel)."""
        from chinwag.tools.mcp_elicit import ElicitAnswer

        while True:
            answer = first_line(prompt).strip().lower()
            if answer in ("d", "decline", "n", "no"):
                return ElicitAnswer.decline()
            if answer in ("c", "cancel"):
                return ElicitAnswer("cancel")
            if answer in (accept[0], accept, "y", "yes"):
                return None

    return elicit


def _open_in_browser(url: str) -> object:
    import webbrowser

    return webbrowser.open(url)
