"""The REPL's slash commands: /help, /retry, /continue, /model, /save, ...

Each command is a function of the Repl and the rest of the line; they print
what happened and never raise for bad input.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from chinwag.errors import ChinwagError
from chinwag.output import assistant_name, stats_line
from chinwag.render.sanitize import sanitize

if TYPE_CHECKING:
    from chinwag.repl import Repl

HELP = {
    "/help": "show this help",
    "/retry": "ask the last question again",
    "/continue": "resume an interrupted reply",
    "/model": "show or switch the model: /model SPEC (e.g. /model local)",
    "/system": "show or set the system prompt: /system TEXT",
    "/new": "start a new conversation (also /clear)",
    "/history": "list recent saved conversations",
    "/save": "write this conversation to a markdown file: /save FILE",
    "/copy": "copy the last reply to the clipboard",
    "/stats": "show the last reply's timing and tokens",
    "/exit": "leave (also quit, exit, Ctrl-D)",
}
# Clipboard tools, in order of preference, with the arguments that read stdin.
CLIPBOARD_TOOLS = (("pbcopy",), ("wl-copy",), ("xclip", "-selection", "clipboard"), ("xsel", "-b", "-i"), ("clip.exe",))


def complete(text: str, state: int) -> str | None:
    """readline completer: slash commands."""
    matches = [name for name in [*HELP, "/clear"] if name.startswith(text)] if text.startswith("/") else []
    return matches[state] if state < len(matches) else None


def run_command(repl: Repl, line: str) -> None:
    name, _, arg = line.partition(" ")
    handler = COMMANDS.get(name.lower())
    if handler is None:
        import difflib

        close = difflib.get_close_matches(name.lower(), list(HELP), n=1)
        hint = f" Did you mean {close[0]}?" if close else " Type /help for the list."
        repl.err.write(f"chinwag: unknown command {name}.{hint}\n")
        return
    try:
        handler(repl, arg.strip())
    except ChinwagError as exc:
        repl.err.write(f"chinwag: {exc.message}\n")


def _help(repl: Repl, arg: str) -> None:
    for command, what in HELP.items():
        repl.out.write(f"  {command:<10} {what}\n")


def _retry(repl: Repl, arg: str) -> None:
    if not repl.session.conversation.messages:
        repl.err.write("chinwag: nothing to retry yet.\n")
        return
    repl.show(repl.session.retry([repl.sink()]))


def _continue(repl: Repl, arg: str) -> None:
    last = repl.session.last_reply
    if last is None or last.status != "interrupted" or not last.text:
        repl.err.write("chinwag: there is no interrupted reply to continue.\n")
    elif not getattr(repl.session.provider, "supports_prefill", False):
        repl.err.write(f"chinwag: {repl.session.provider.name} cannot resume a reply; use /retry to ask again.\n")
    else:
        repl.show(repl.session.continue_reply([repl.sink()]))


def _model(repl: Repl, arg: str) -> None:
    if not arg:
        repl.out.write(f"{repl.session.settings.provider}:{repl.session.model}\n")
        return
    if repl.switch_model is None:
        repl.err.write("chinwag: switching models is not available here.\n")
        return
    repl.switch_model(arg)
    repl.out.write(f"Now using {repl.session.settings.provider}:{repl.session.model}; the conversation goes on.\n")


def _system(repl: Repl, arg: str) -> None:
    if arg:
        repl.session.conversation.system = arg
        repl.out.write("System prompt set.\n")
    else:
        repl.out.write(f"{repl.session.conversation.system or '(none)'}\n")


def _new(repl: Repl, arg: str) -> None:
    repl.session.new_conversation()
    repl.out.write("Started a new conversation.\n")


def _history(repl: Repl, arg: str) -> None:
    if repl.session.recorder is None:
        repl.err.write("chinwag: this chat is not being saved (--no-save).\n")
        return
    from chinwag.history import main as history_main

    history_main(["list", "--limit", "10"], repl.environ, repl.out, err=repl.err)
    repl.out.write("Continue one later with: chinwag --resume ID\n")


def _save(repl: Repl, arg: str) -> None:
    if not arg:
        repl.err.write("chinwag: say where: /save FILE\n")
        return
    path = Path(arg).expanduser()
    assistant = assistant_name(repl.session.provider.name)
    parts = [f"# Conversation with {repl.session.model}\n"]
    for message in repl.session.conversation.messages:
        who = "You" if message.role == "user" else assistant
        parts.append(f"**{who}:** {sanitize(message.content)}\n")
    try:
        path.write_text("\n".join(parts), encoding="utf-8")
    except OSError as exc:
        repl.err.write(f"chinwag: cannot write {path}: {exc.strerror}.\n")
        return
    repl.out.write(f"Saved {len(repl.session.conversation.messages)} messages to {path}.\n")


def _copy(repl: Repl, arg: str) -> None:
    last = repl.session.last_reply
    if last is None or not last.text:
        repl.err.write("chinwag: no reply to copy yet.\n")
        return
    import shutil
    import subprocess

    for tool in CLIPBOARD_TOOLS:
        if shutil.which(tool[0]):
            try:
                subprocess.run(tool, input=last.text.encode(), check=True, timeout=5,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            except (OSError, subprocess.SubprocessError):
                continue
            repl.out.write(f"Copied the last reply ({len(last.text)} characters).\n")
            return
    repl.err.write("chinwag: no clipboard tool found (pbcopy, wl-copy, xclip, xsel); use /save FILE instead.\n")


def _stats(repl: Repl, arg: str) -> None:
    last = repl.session.last_reply
    repl.out.write((stats_line(last) if last else "no reply yet") + "\n")


COMMANDS: dict[str, Callable[[Repl, str], None]] = {
    "/help": _help, "/retry": _retry, "/continue": _continue, "/model": _model, "/system": _system,
    "/new": _new, "/clear": _new, "/history": _history, "/save": _save, "/copy": _copy, "/stats": _stats,
}
