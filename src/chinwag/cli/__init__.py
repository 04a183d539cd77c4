"""Command line entry point: parse, resolve settings, build a session, dispatch.

Catches only ChinwagError (one line, its exit code), KeyboardInterrupt (130)
and Ending (SIGHUP 129, SIGTERM 143: see interrupts.py).
Nothing slow is imported here: `--help` and `--version` import no HTTP, no
model, no terminal library.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO, cast

from chinwag import __version__
from chinwag.cli.parser import OneLineErrorParser
from chinwag.errors import ChinwagError, UsageError
from chinwag.interrupts import Ending

EXAMPLES = """\
examples:
  chinwag                                   chat (Claude with ANTHROPIC_API_KEY, else the bundled model)
  chinwag "Explain how a CPU works"         one reply, then exit
  cat notes.txt | chinwag "summarise this"  stdin joins the prompt (or: -f notes.txt)
  chinwag -a diagram.png "what is wrong?"   attach images, PDFs, text files, URLs (-a - for stdin)
  chinwag -m openai:gpt-4o-mini "hi"        any provider: anthropic:NAME, openai:NAME, local, local:PATH.gguf
  OPENAI_BASE_URL=http://127.0.0.1:11434/v1 chinwag -m llama3.2   Ollama, vLLM, llama.cpp, TGI
  chinwag --json "hi" | jq .                newline-delimited JSON events
  chinwag -c                                continue the last conversation
  chinwag --resume 12 --at 7                continue conversation 12 from the branch holding its message 7
  chinwag history list|show ID|search TEXT|export ID|delete ID|check
  chinwag serve                             the same chats in a browser (127.0.0.1)
  chinwag mcp list|login NAME|logout NAME   MCP servers: state and counts; OAuth login for HTTP ones
  chinwag models                            providers and models reachable now
  chinwag usage [--days N] [--by model]     spend and tokens by day (--since DATE, --by provider|conversation, --json)
  chinwag completion bash|zsh|fish          a shell completion script (see the README for where to put it)
  chinwag -t review -p lang Go "CODE"       a saved template (chinwag templates list|show|edit|path|import)

exit codes: 0 ok, 1 the model or network failed, 2 bad usage or config, 130 interrupted,
141 the reader of the output stopped early (| head)
"""
EXIT_BROKEN_PIPE = 141
THINK_DEFAULT = 4096  # tokens of reasoning for a bare --think


def _conversation_id(text: str) -> int:
    """A conversation number as SQLite can hold it: a larger one is no conversation, not a crash."""
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a conversation ID is a number, not {text!r}") from None
    if not 1 <= number <= 2**63 - 1:
        raise argparse.ArgumentTypeError(f"no conversation {text}; see chinwag history list")
    return number


def _message_number(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 2**63 - 1:
        raise argparse.ArgumentTypeError(f"a message number is a whole number from 1, not {text!r}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    p = OneLineErrorParser(prog="chinwag", description="A streaming chat client for the terminal.",
                           epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("prompt", nargs="*", help="ask once and exit (otherwise: interactive chat)")
    p.add_argument("-f", "--file", metavar="PATH", help="read the prompt (or text to add to it) from a file")
    p.add_argument("-a", "--attach", action="append", metavar="PATH|URL|-",
                   help="attach an image, PDF or text file, a URL, or stdin (-) to the message (repeatable)")
    p.add_argument("--as-text", action="store_true", help="send an attached PDF's text rather than the PDF")
    p.add_argument("-m", "--model", help="anthropic:NAME, openai:NAME, local, local:PATH.gguf, or a bare name")
    p.add_argument("-s", "--system", help="system prompt")
    p.add_argument("--max-tokens", type=int, metavar="N", help="longest reply, in tokens (default 4096)")
    p.add_argument("--temperature", type=float, metavar="X", help="sampling temperature")
    p.add_argument("--no-stream", action="store_true", help="one request, whole reply")
    p.add_argument("--timeout", type=float, metavar="S", help="give up after S seconds of server silence (default 600)")
    p.add_argument("--json", action="store_true", help="newline-delimited JSON events on stdout")
    p.add_argument("-c", "--continue", dest="continue_last", action="store_true",
                   help="continue the last conversation")
    p.add_argument("--resume", metavar="ID", type=_conversation_id, help="continue conversation ID (its current branch)")
    p.add_argument("--at", metavar="MESSAGE", type=_message_number,
                   help="with --resume: continue from the branch holding message number MESSAGE"
                        " (as `history show ID --all` and `history search` number them)")
    p.add_argument("--no-save", action="store_true", help="do not save this conversation")
    p.add_argument("--render", choices=("auto", "markdown", "plain"),
                   help="markdown on a terminal (auto, the default), or raw text")
    p.add_argument("-q", "--quiet", action="store_true", help="no stats line after replies")
    p.add_argument("--stats", action="store_true", help="one-shot: print timing and tokens on stderr")
    tools = p.add_argument_group("tools", "let the model call tools; anything that writes, runs or sends data out asks first")
    tools.add_argument("-T", "--tool", dest="tools", action="append", metavar="NAME",
                       help="enable a built-in tool: read_file, list_files, fetch_url, shell (repeatable)")
    tools.add_argument("--mcp-config", metavar="FILE", help='MCP servers from a {"mcpServers": {...}} JSON file')
    tools.add_argument("--yes", action="store_true", help="approve every tool call without asking")
    tools.add_argument("--think", nargs="?", const=THINK_DEFAULT, metavar="BUDGET",
                       help="show the model's reasoning as it streams (Anthropic; budget in tokens, default 4096)")
    templates = p.add_argument_group("templates", "saved settings and prompts: chinwag templates list|show|edit|path")
    templates.add_argument("-t", "--template", metavar="NAME", help="use template NAME; the flags typed win over it")
    templates.add_argument("-p", "--param", dest="params", nargs=2, action="append", metavar=("NAME", "VALUE"),
                           help="set the template's parameter $NAME (repeatable)")
    templates.add_argument("--save", dest="save_template", metavar="NAME",
                           help="save the options given with it as template NAME, and exit")
    structured = p.add_argument_group("structured output", "the reply is JSON matching a schema, alone on stdout")
    structured.add_argument("--schema", metavar="SCHEMA",
                            help="a JSON Schema, a file holding one, or fields: 'name, age int, bio: a short bio'")
    structured.add_argument("--schema-multi", action="store_true",
                            help="a list of objects matching --schema (as {\"items\": [...]})")
    p.add_argument("--budget", metavar="DOLLARS", help="spend at most this much in this run (each request's"
                   " worst case is checked before it is sent)")
    p.add_argument("--version", action="version", version=f"chinwag {__version__}")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    environ = dict(os.environ)
    try:
        if args[:1] == ["history"]:
            from chinwag.cli.history import main as history_main

            return history_main(args[1:], environ, sys.stdout)
        if args[:1] == ["models"]:
            from chinwag.cli.models import list_models

            return list_models(environ, Path.cwd(), sys.stdout)
        if args[:1] == ["completion"]:
            from chinwag.cli.completion import main as completion_main

            return completion_main(args[1:], sys.stdout, build_parser)
        if args[:1] == ["templates"]:
            from chinwag.cli.templates import main as templates_main

            return templates_main(args[1:], environ, sys.stdout)
        if args[:1] == ["usage"]:
            from chinwag.cli.usage import main as usage_main

            return usage_main(args[1:], environ, sys.stdout)
        if args[:1] == ["mcp"]:
            from chinwag.cli.mcp_command import main as mcp_main

            return mcp_main(args[1:], environ, sys.stdout)
        if args[:1] == ["serve"]:
            from chinwag.web.serve import main as serve_main

            return serve_main(args[1:], environ, sys.stdout)
        return _chat(_think_budget(build_parser().parse_args(args)), environ)
    except ChinwagError as exc:
        from chinwag.render.sanitize import one_line

        sys.stderr.write(f"chinwag: {one_line(exc.message)}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("\n")
        return 130
    except Ending as exc:  # the chat has unwound: what was shown is saved, tools and model closed
        return exc.exit_code
    except BrokenPipeError:
        return _reader_left()


def _think_budget(args: argparse.Namespace) -> argparse.Namespace:
    """`--think` takes an optional budget, so `chinwag --think "a question"` hands
    it the question: a value that is not a number is the prompt's, and the
    budget is the default."""
    value = args.think
    if isinstance(value, str):
        if value.isdigit():
            args.think = int(value)
        else:
            args.think, args.prompt = THINK_DEFAULT, [value, *args.prompt]
    return args


def _reader_left() -> int:
    """The reader of our output stopped early (`chinwag ... | head -1`): end quietly,
    with what `head`'s writer usually gets, 141 (128 + SIGPIPE). The reply is saved."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so flushing at exit does not complain again
    except (OSError, ValueError):
        pass
    return EXIT_BROKEN_PIPE


def _chat(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from chinwag.cli.prompt import read_prompt
    from chinwag.config import resolve
    from chinwag.session import open_session

    attach = args.attach or []
    if args.save_template is not None:  # --save NAME: write the template, read nothing, send nothing
        from chinwag.cli.template_flags import save

        return save(args, environ, sys.stdout)
    templated = args.template is not None or bool(args.params)
    prompt = read_prompt(args.prompt, cast(TextIO, None) if "-" in attach else sys.stdin, args.file,
                         empty_ok=templated)
    template_layer = None
    if templated:  # -t NAME: its settings under the flags typed (cli/template_flags.py)
        from chinwag.cli.template_flags import with_template

        prompt, template_layer = with_template(args, prompt, environ)
    if "-" in attach and prompt is None:
        raise UsageError('-a - reads the attachment from stdin; ask about it in words: chinwag -a - "what is this?"')
    flags: dict[str, Any] = {
        "template": template_layer,  # under the flags typed, over config.toml, .env and the environment
        "model": args.model, "system": args.system, "max_tokens": args.max_tokens,
        "temperature": args.temperature, "save": False if args.no_save else None, "timeout": args.timeout,
        "render": args.render, "tools": args.tools, "mcp_config": args.mcp_config, "yes": args.yes or None,
        "think": args.think,
        "schema": args.schema, "schema_multi": args.schema_multi or None,
        "budget": args.budget,
    }
    settings = resolve(environ, Path.cwd(), flags)
    at = None
    if args.at is not None:
        if args.resume is None:
            raise UsageError("--at needs --resume ID: chinwag --resume ID --at MESSAGE (see chinwag history search).")
        from chinwag.cli.history_context import message_id

        at = message_id(environ, args.resume, args.at)
    session = open_session(settings, environ, resume=args.resume, continue_last=args.continue_last, at=at)
    if args.system is not None:  # -s wins over the prompt a resumed conversation was last sent with
        session.conversation.system = settings.system
    session.stream = not args.no_stream
    if settings.tools.active:
        _add_tools(session, environ, can_ask=sys.stdin.isatty() and not args.json, one_shot=prompt is not None)
    _notice_base_url(settings, sys.stderr)
    for warning in settings.warnings:
        sys.stderr.write(f"chinwag: {warning}\n")
    try:
        color = "NO_COLOR" not in environ and environ.get("TERM") != "dumb"
        markdown = settings.render == "markdown" or (settings.render == "auto" and color and sys.stdout.isatty())
        if prompt is not None:
            from chinwag.cli.oneshot import run_once

            return run_once(session, prompt, json_mode=args.json, stats=args.stats,
                            markdown=markdown and settings.schema is None,
                            attachments=_attachments(attach, settings.provider, args.as_text, session.tool_use))
        from chinwag.cli.repl import Repl
        from chinwag.paths import data_dir

        repl = Repl(session, color=color, quiet=args.quiet, environ=environ, markdown=markdown, flags=flags,
                    history_file=data_dir(environ) / "input_history" if settings.save else None)
        if attach:  # for the first message
            repl.pending = _load_all(attach, settings.provider, args.as_text, session.tool_use)
        return repl.run()
    finally:
        session.close()
        for notice in session.take_notices():  # e.g. saves that could not be written by the end
            sys.stderr.write(f"chinwag: {notice}\n")


def _attachments(specs: list[str], provider: str, as_text: bool, tool_use: Any = None) -> tuple[Any, ...]:
    """Each -a, read and checked before anything is sent; its 📎 line on stderr."""
    if not specs:
        return ()
    from chinwag.render.sanitize import sanitize

    loaded = _load_all(specs, provider, as_text, tool_use)
    dim = sys.stderr.isatty() and "NO_COLOR" not in os.environ
    for attachment in loaded:
        line = sanitize(attachment.line)
        sys.stderr.write(f"\x1b[2m{line}\x1b[0m\n" if dim else f"{line}\n")
    return tuple(a.block for a in loaded)


def _load_all(specs: list[str], provider: str, as_text: bool, tool_use: Any = None) -> list[Any]:
    """Each -a loaded; an empty one (stdin with nothing on it) is left out, and said so.
    `-a -` on a terminal says what it waits for. `-a mcp:SERVER:URI` starts the MCP
    servers now and reads the resource from its server (cli/mcp_commands.py)."""
    from chinwag.attach import NothingToAttach, load
    from chinwag.render.sanitize import sanitize

    loaded = []
    for spec in specs:
        if spec == "-" and sys.stdin.isatty():
            sys.stderr.write("chinwag: reading the attachment from standard input; end it with Ctrl-D"
                             " on a line of its own.\n")
            sys.stderr.flush()
        try:
            if spec.startswith("mcp:"):
                from chinwag.cli.mcp_commands import load_resource

                if tool_use is not None:
                    tool_use.start()
                loaded.append(load_resource(spec, provider, tool_use, as_text=as_text))
                continue
            loaded.append(load(spec, provider, as_text=as_text))
        except NothingToAttach as exc:
            sys.stderr.write(f"chinwag: {sanitize(exc.message)}\n")
    return loaded


def _add_tools(session: Any, environ: Mapping[str, str], can_ask: bool, one_shot: bool) -> None:
    """Tools for this chat; calls that need approval ask at the terminal, or,
    with no terminal (a pipe, --json), are denied, never waited on. One-shot
    use asks on stderr, with the tool lines: stdout holds only the answer and
    may be a file (`chinwag -T shell "..." > out.txt`).

    The configuration is read now, so a bad server entry is one line before
    the prompt; the tools themselves are built on first use (the REPL's
    warm-up, after the prompt is drawn), so launch imports none of them."""
    from chinwag.tools.config import configured_servers

    servers = configured_servers(session.settings.tools)
    cwd = Path.cwd()

    def build() -> Any:
        from chinwag.cli.approval import line_reader, terminal_ask
        from chinwag.cli.elicit import terminal_elicit
        from chinwag.toolloop import ToolUse

        where = sys.stderr if one_shot else sys.stdout
        read = line_reader(where, sys.stdin) if one_shot else input
        ask = terminal_ask(where, read=read) if can_ask and where.isatty() else None
        elicit = terminal_elicit(where, read=read) if can_ask and where.isatty() else None  # none: declined at once
        return ToolUse(session.settings.tools, cwd, environ, ask, elicit, servers)

    session.defer_tools(build)


def _notice_base_url(settings: Any, err: Any) -> None:
    """Say where requests (and the key) go when it is not the provider's default."""
    if settings.base_url:
        from chinwag.providers.registry import entry

        variable = entry(settings.provider).url_variable
        err.write(f"chinwag: using {variable}={settings.base_url} from {settings.base_url_source}\n")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
