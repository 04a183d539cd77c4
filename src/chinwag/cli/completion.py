"""`chinwag completion bash|zsh|fish`: print the shell completion script for
chinwag's whole parser tree (the chat's parser and each subcommand's own;
completion/script.py writes it)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TextIO

from chinwag.completion.script import SHELLS, generate
from chinwag.errors import UsageError


def main(argv: list[str], out: TextIO, chat_parser: Callable[[], argparse.ArgumentParser]) -> int:
    """`chat_parser`: the chat's own parser (cli/__init__.py's build_parser, handed over so that
    this module does not import its package back)."""
    if argv in (["-h"], ["--help"]):
        out.write(f"usage: chinwag completion {'|'.join(SHELLS)}\n\nprint a shell completion script;"
                  " the README says where to put it\n")
        return 0
    if len(argv) != 1 or argv[0] not in SHELLS:
        raise UsageError(f"say which shell: chinwag completion {'|'.join(SHELLS)}")
    out.write(generate(argv[0], parser_tree(chat_parser)))
    return 0


def _models_parser() -> argparse.ArgumentParser:
    return argparse.ArgumentParser(prog="chinwag models")


def _completion_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="chinwag completion")
    p.add_argument("shell", choices=SHELLS)
    return p


def _history_parser() -> argparse.ArgumentParser:
    from chinwag.cli.history import _parser

    return _parser(sys.stdout)


def _serve_parser() -> argparse.ArgumentParser:
    from chinwag.web.serve import build_parser

    return build_parser()


def _templates_parser() -> argparse.ArgumentParser:
    from chinwag.cli.templates import build_parser

    return build_parser()


# chinwag's subcommands: each parses its own arguments (cli/__init__.py dispatches on the first word).
SUBCOMMANDS: tuple[tuple[str, str, Callable[[], argparse.ArgumentParser]], ...] = (
    ("history", "saved conversations: list, show, search, export, delete, check", _history_parser),
    ("models", "providers and models reachable now", _models_parser),
    ("templates", "saved settings and prompts: list, show, edit, path, import", _templates_parser),
    ("serve", "the same chats in a browser (127.0.0.1)", _serve_parser),
    ("completion", "print a shell completion script (bash, zsh, fish)", _completion_parser),
)


def parser_tree(chat_parser: Callable[[], argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """The chat's parser with the subcommands' parsers under it, as one tree for shtab.
    The chat's free-text prompt is left out: there is nothing to complete in it."""
    root = chat_parser()
    for action in [a for a in root._actions if a.dest == "prompt"]:
        root._remove_action(action)
        for group in root._action_groups:
            if action in group._group_actions:
                group._group_actions.remove(action)
    commands = root.add_subparsers(dest="command", metavar="COMMAND")
    for name, summary, build in SUBCOMMANDS:
        parser = build()  # its own parser, flags and subcommands as they are
        commands.add_parser(name, help=summary)
        commands.choices[name] = parser
    return root
