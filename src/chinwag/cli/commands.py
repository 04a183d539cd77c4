"""The chat's slash commands, in one table: name, arguments, help, handler, completion.

`/help` and tab completion are made from the table. Handlers print what
happened; bad input is a ChinwagError (one line, the chat goes on).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chinwag.cli.save_and_copy import copy, save
from chinwag.errors import ChinwagError, UsageError
from chinwag.render.sanitize import sanitize

if TYPE_CHECKING:
    from chinwag.cli.repl import Repl


@dataclass(frozen=True)
class Command:
    name: str
    args: str  # as shown in /help: "" (none), "SPEC", "[TEXT]"
    help: str
    run: Callable[[Repl, str], None]
    aliases: tuple[str, ...] = ()
    complete: Callable[[str], list[str]] | None = None  # candidates for the argument being typed
    complete_in_chat: Callable[[Repl, str], list[str]] | None = None  # the same, from the chat's state


def _help(repl: Repl, arg: str) -> None:
    """`/help` lists every command; `/help NAME` (`/help save` or `/help /save`) shows
    that one, as a shell's `help NAME` and `git help NAME` do."""
    commands = COMMANDS
    if arg:
        if len(arg.split()) > 1:
            raise UsageError("/help takes one command name, e.g. /help save")
        commands = (_lookup(arg if arg.startswith("/") else f"/{arg}"),)
    for command in commands:
        usage = f"{command.name} {command.args}".strip()
        also = f" (also {', '.join(command.aliases)})" if command.aliases else ""
        repl.out.write(f"  {usage:<32} {command.help}{also}\n")


def _retry(repl: Repl, arg: str) -> None:
    from chinwag.cli import branches

    repl.session.retry([repl.sink()])
    branches.retried(repl)


def _branch_command(name: str) -> Callable[[Repl, str], None]:
    """A command of cli/branches.py, imported when it is first run."""
    def run(repl: Repl, arg: str) -> None:
        from chinwag.cli import branches

        getattr(branches, name)(repl, arg)

    return run


def _message_numbers(questions_only: bool) -> Callable[[Repl, str], list[str]]:
    def numbers(repl: Repl, prefix: str) -> list[str]:
        nodes = repl.session.tree().nodes.values()
        found = sorted(n.number for n in nodes if n.question or not questions_only)
        return [str(n) for n in found if str(n).startswith(prefix)]

    return numbers


def _continue(repl: Repl, arg: str) -> None:
    repl.session.continue_reply([repl.sink()])


def _model(repl: Repl, arg: str) -> None:
    if not arg:
        repl.out.write(f"{repl.session.settings.provider}:{repl.session.model}\n")
        return
    from chinwag.config import resolve
    from chinwag.providers.registry import build

    # Built now, so a bad spec, a missing key or a missing model file is refused here, not at the next message.
    settings = resolve(repl.environ, repl.cwd, {**repl.flags, "model": arg}, refuse_flags=False,
                       flag_names={"model": "/model"})
    repl.session.switch(settings, build(settings))
    repl.out.write(f"Now using {settings.provider}:{repl.session.model}; the conversation goes on.\n")
    for note in settings.notes:  # a setting of the chat's the new provider does not take
        repl.out.write(repl.dim(sanitize(note)) + "\n")


def _system(repl: Repl, arg: str) -> None:
    if arg:
        repl.session.conversation.system = arg
        repl.out.write("System prompt set.\n")
    else:
        repl.out.write(f"{sanitize(repl.session.conversation.system or '(none)')}\n")


def _template(repl: Repl, arg: str) -> None:
    """`/template NAME`: its system prompt, model and options for the rest of the
    conversation; they become the chat's flags, so a later /model keeps them."""
    from chinwag.cli.template_chat import apply_in_chat

    apply_in_chat(repl, arg)


def _template_names(prefix: str) -> list[str]:
    import os

    from chinwag.templates.store import config_dir, names

    return [name for name in names(config_dir(os.environ)) if name.startswith(prefix)]


def _new(repl: Repl, arg: str) -> None:
    repl.session.new_conversation()
    repl.out.write("Started a new conversation.\n")


def _history(repl: Repl, arg: str) -> None:
    """`/history` lists; `/history search WORDS`, `/history show ID` and the rest are
    `chinwag history`'s own subcommands, run without leaving the chat."""
    if repl.session.recorder is None:
        raise UsageError("this chat is not being saved (--no-save).")
    import shlex

    from chinwag.cli.history import main as history_main

    try:
        words = shlex.split(arg)
    except ValueError as exc:
        raise UsageError(f"cannot read that: {exc}.") from None
    if not words:
        words = ["list", "--limit", "10"]
    elif words[0] == "delete" and "--yes" not in words:
        raise UsageError("delete a conversation from the shell: chinwag history delete ID")
    elif words[0] == "check":
        # It reads the file's bytes without SQLite, and closing a file the chat's own
        # connection has open drops that connection's locks (POSIX): only from the shell.
        raise UsageError("check the history from the shell, with no chat open: chinwag history check")
    history_main(words, repl.environ, repl.out, err=repl.err)
    if words[0] == "list":
        repl.out.write("Continue one later with: chinwag --resume ID\n")


def _stats(repl: Repl, arg: str) -> None:
    from chinwag.cli.usage_stats import stats_lines

    repl.out.write("\n".join(stats_lines(repl.session)) + "\n")


def _tools(repl: Repl, arg: str) -> None:
    tool_use = repl.session.tool_use
    if tool_use is None:
        repl.out.write("No tools enabled; start with -T NAME (read_file, list_files, fetch_url, shell),"
                       " tools = [...] or [mcp_servers] in config.toml, or --mcp-config FILE.\n")
        return
    for line in tool_use.describe() or ["(no tools available yet: MCP servers may still be starting)"]:
        repl.out.write(f"  {sanitize(line)}\n")


def _show(repl: Repl, arg: str) -> None:
    tool_use = repl.session.tool_use
    last = tool_use.last_result if tool_use is not None else None
    if last is None:
        raise UsageError("no tool has run yet.")
    call, result = last
    from chinwag.present import tool_call_line

    repl.out.write(repl.dim(f"{tool_call_line(call.name, call.input)} · {result.status}") + "\n")
    repl.out.write(sanitize(result.content) + ("" if result.content.endswith("\n") else "\n"))


def _attach(repl: Repl, arg: str) -> None:
    """`/attach PATH|URL` adds to the next message; alone, lists what is pending;
    `--as-text PATH` sends a PDF's text; `--clear` drops what is pending."""
    if arg == "--clear":
        repl.pending = []
        repl.out.write("Nothing attached now.\n")
        return
    if not arg:
        for attachment in repl.pending:
            repl.out.write(repl.dim(sanitize(attachment.line)) + "\n")
        repl.out.write(f"{len(repl.pending)} attached to your next message; /attach --clear drops them.\n"
                       if repl.pending else "Nothing attached; /attach PATH adds a file (or a URL) to your next message.\n")
        return
    from chinwag.attach import load

    as_text = arg.startswith("--as-text ")
    spec = arg.removeprefix("--as-text ").strip() if as_text else arg
    if len(spec) > 1 and spec[0] == spec[-1] and spec[0] in "'\"":  # a pasted, quoted path
        spec = spec[1:-1]
    if spec == "-":
        raise UsageError("in the chat, stdin is your typing; attach a file or URL (or pipe it: chinwag -a - \"...\").")
    if spec.startswith("mcp:"):  # an MCP server's resource (cli/mcp_commands.py)
        from chinwag.cli.mcp_commands import attach_in_chat

        attachment = attach_in_chat(repl, spec, as_text)
    else:
        attachment = load(spec, repl.session.provider.name, as_text=as_text)
    repl.pending.append(attachment)
    repl.out.write(repl.dim(f"{sanitize(attachment.line)} · with your next message") + "\n")


def _exit(repl: Repl, arg: str) -> None:
    raise AssertionError("/exit is handled by the REPL loop")  # pragma: no cover


def _model_names(prefix: str) -> list[str]:
    from chinwag.providers.registry import FALLBACK, all_providers

    names = [f"{spec.name}:" for spec in all_providers()] + [FALLBACK]
    return [name for name in names if name.startswith(prefix)]


def _paths(prefix: str) -> list[str]:
    import glob
    import os

    matches = sorted(glob.glob(os.path.expanduser(prefix) + "*"))[:50]
    return [m + "/" if os.path.isdir(m) else m for m in matches]


def _mcp(name: str) -> Callable[[Repl, str], None]:
    """A command of cli/mcp_commands.py, imported when it is first run."""
    def run(repl: Repl, arg: str) -> None:
        from chinwag.cli import mcp_commands

        getattr(mcp_commands, name)(repl, arg)

    return run


def _attach_candidates(repl: Repl, prefix: str) -> list[str]:
    if prefix.startswith("mcp:"):
        from chinwag.cli.mcp_commands import complete_resources

        return complete_resources(repl, prefix)
    return _paths(prefix)


def _command_names(prefix: str) -> list[str]:
    return [c.name[1:] for c in COMMANDS if c.name[1:].startswith(prefix.removeprefix("/"))]


def _history_words(prefix: str) -> list[str]:
    return [w for w in ("list", "show", "search", "export") if w.startswith(prefix)]


COMMANDS: tuple[Command, ...] = (
    Command("/help", "[COMMAND]", "show this help, or one command's", _help, complete=_command_names),
    Command("/retry", "", "ask the last question again (the old reply is kept as a branch)", _retry),
    Command("/edit", "[N]", "change your message N (default: your last one) in $VISUAL/$EDITOR or on the"
            " input line: a new branch, answered; the old one stays", _branch_command("edit"),
            complete_in_chat=_message_numbers(questions_only=True)),
    Command("/undo", "", "step back one exchange; nothing is deleted, your next message starts a branch",
            _branch_command("undo")),
    Command("/tree", "", "the conversation as a tree: numbers, branches, * the current path",
            _branch_command("tree")),
    Command("/switch", "N", "make the branch through message N current, and show it", _branch_command("switch"),
            complete_in_chat=_message_numbers(questions_only=False)),
    Command("/fork", "", "a new conversation that starts as a copy of the current path",
            _branch_command("fork")),
    Command("/continue", "", "resume an interrupted reply", _continue),
    Command("/model", "[SPEC]", "show or switch the model (e.g. /model local)", _model, complete=_model_names),
    Command("/system", "[TEXT]", "show or set the system prompt", _system),
    Command("/template", "NAME", "use a template's system prompt, model and options from now on", _template,
            complete=_template_names),
    Command("/new", "", "start a new conversation", _new, aliases=("/clear",)),
    Command("/history", "[search WORDS|show ID]", "saved conversations: recent, search, show", _history,
            complete=_history_words),
    Command("/save", "[--force] FILE", "write this conversation to a markdown file (asks before"
            " overwriting one; --force does not ask)", save, complete=_paths),
    Command("/attach", "[PATH|URL|mcp:SERVER:URI]", "add an image, PDF, file or MCP resource to your next"
            " message; alone: list them", _attach, complete=_paths, complete_in_chat=_attach_candidates),
    Command("/copy", "", "copy the last reply to the clipboard", copy),
    Command("/stats", "", "the last reply's figures, the conversation's tokens and cost, the context window",
            _stats),
    Command("/tools", "", "the tools enabled and how each is approved", _tools),
    Command("/show", "", "the last tool result in full", _show),
    Command("/prompts", "", "the MCP servers' prompts, each run as /SERVER_PROMPT ARGS", _mcp("show_prompts")),
    Command("/resources", "", "the MCP servers' resources and templates (/attach mcp:SERVER:URI)",
            _mcp("show_resources")),
    Command("/exit", "", "leave", _exit, aliases=("/quit", "quit", "exit", "Ctrl-D")),
)
_BY_NAME = {name: command for command in COMMANDS for name in (command.name, *command.aliases)
            if name.startswith("/")}


def _lookup(name: str) -> Command:
    """The command called `name` (or an alias); UsageError naming the closest one."""
    command = _BY_NAME.get(name.lower())
    if command is None:
        import difflib

        close = difflib.get_close_matches(name.lower(), list(_BY_NAME), n=1)
        hint = f" Did you mean {close[0]}?" if close else " Type /help for the list."
        raise UsageError(f"unknown command {sanitize(name)}.{hint}")
    return command


def run_command(repl: Repl, line: str) -> None:
    name, *rest = line.split(maxsplit=1)  # the name ends at any white space: a tab, a block's line break
    arg = rest[0] if rest else ""
    if name.lower() not in _BY_NAME and repl.session.tool_use is not None:  # /SERVER_PROMPT
        from chinwag.cli.mcp_commands import find_prompt, run_prompt

        prompt = find_prompt(repl, name)
        if prompt is not None:
            run_prompt(repl, prompt, arg.strip())
            return
    command = _lookup(name)
    if arg.strip() and not command.args:  # the table says it takes none: an ignored word would be a surprise
        typed = sanitize(name.lower())
        raise UsageError(f"{typed} takes no argument; type {typed} alone (/help {typed[1:]} says what it does).")
    command.run(repl, arg.strip())


def refuse_typed_during_reply(line: str) -> None:
    """A command that moves to another branch, typed while a reply streamed: not run."""
    from chinwag.cli.branches import MOVING

    name = line.split(maxsplit=1)[0].lower()
    if name in MOVING:
        raise UsageError(f"{sanitize(name)} was typed while the reply streamed, so it was not run (the reply"
                         f" has ended since); to use it mid-reply, Ctrl-C stops the reply first. Up-arrow"
                         f" brings the line back.")


def complete(text: str, state: int, repl: Repl | None = None) -> str | None:
    """readline's completer: command names, then each command's arguments."""
    try:
        import readline

        line = readline.get_line_buffer()[:readline.get_endidx()]
    except (ImportError, AttributeError):
        line = text
    name, space, rest = line.partition(" ")
    if not space:
        matches = [n for n in _BY_NAME if n.startswith(text)] if text.startswith("/") else []
        if text.startswith("/") and repl is not None and repl.session.tool_use is not None:
            from chinwag.cli.mcp_commands import complete_prompt_names

            matches += complete_prompt_names(repl, text)
    elif name.lower() not in _BY_NAME and repl is not None and repl.session.tool_use is not None:
        from chinwag.cli.mcp_commands import complete_prompt_arguments, find_prompt

        prompt = find_prompt(repl, name)
        matches = complete_prompt_arguments(repl, prompt, rest) if prompt is not None else []
    else:
        command = _BY_NAME.get(name.lower())
        matches = command.complete(text) if command is not None and command.complete else []
        if command is not None and command.complete_in_chat is not None and repl is not None:
            try:
                matches = command.complete_in_chat(repl, text)
            except ChinwagError:  # no history to number, say: nothing to offer
                matches = []
    return matches[state] if state < len(matches) else None

