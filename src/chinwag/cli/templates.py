"""`chinwag templates list|show NAME|edit NAME|path|import llm|aichat`."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from chinwag.cli.parser import OneLineErrorParser
from chinwag.errors import ChinwagError, UsageError
from chinwag.render.sanitize import one_line, sanitize
from chinwag.templates.store import config_dir, names, path_of, templates_dir

NEW_TEMPLATE = """\
# A chinwag template: every key is optional. See README: Templates.
# system = "You are a careful reviewer."
# model = "anthropic:claude-sonnet-4-5"
# temperature = 0.2
# max_tokens = 1000
# tools = ["read_file"]
# schema = "name, age int"
# prompt = "Review this $lang code:\\n$input"
#
# [defaults]
# lang = "Python"
"""


def build_parser() -> argparse.ArgumentParser:
    p = OneLineErrorParser(prog="chinwag templates", description="Saved settings and prompts: chinwag -t NAME.")
    sub = p.add_subparsers(dest="command", required=True, metavar="list|show|edit|path|import")
    sub.add_parser("list", help="the templates, with the start of each one's prompt")
    sub.add_parser("show", help="a template's file").add_argument("name", metavar="NAME")
    sub.add_parser("edit", help="open a template in $VISUAL or $EDITOR (a new one if none)").add_argument(
        "name", metavar="NAME")
    sub.add_parser("path", help="the folder templates are kept in")
    imp = sub.add_parser("import", help="convert llm's templates or aichat's roles")
    imp.add_argument("source", choices=("llm", "aichat"))
    imp.add_argument("--force", action="store_true", help="replace templates of the same name")
    return p


def main(argv: Sequence[str], environ: Mapping[str, str], out: TextIO) -> int:
    args = build_parser().parse_args(list(argv))
    folder = config_dir(environ)
    if args.command == "list":
        return _list(folder, out)
    if args.command == "show":
        from chinwag.templates.template import load

        template = load(folder, args.name)  # checked: a broken one is its one line
        out.write(sanitize(template.path.read_text(encoding="utf-8")))
        return 0
    if args.command == "edit":
        return _edit(folder, args.name, environ)
    if args.command == "path":
        out.write(f"{templates_dir(folder)}\n")
        return 0
    from chinwag.cli.template_import import run_import

    return run_import(args.source, folder, environ, out, force=args.force)


def _list(folder: Path, out: TextIO) -> int:

    from chinwag.templates.template import load

    found = names(folder)
    if not found:
        out.write(f"No templates yet in {templates_dir(folder)}; make one with"
                  " chinwag -s \"...\" --save NAME or chinwag templates edit NAME.\n")
        return 0
    width = max(len(name) for name in found)
    for name in found:
        try:
            template = load(folder, name)
            summary = one_line(template.prompt or template.system or template.model or "")[:60]
        except ChinwagError as exc:
            summary = f"(broken: {one_line(exc.message)})"
        out.write(f"  {name:<{width}}  {sanitize(summary)}\n")
    return 0


def _edit(folder: Path, name: str, environ: Mapping[str, str]) -> int:
    import shlex
    import subprocess

    from chinwag.templates.store import is_name
    from chinwag.templates.template import load

    if not is_name(name):
        raise UsageError(f"{name!r} is not a template name (letters, digits, _ . -).")
    editor = environ.get("VISUAL") or environ.get("EDITOR")
    if not editor:
        raise UsageError("set $VISUAL or $EDITOR to the editor to use (e.g. export EDITOR=nano).")
    path = path_of(folder, name)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(NEW_TEMPLATE, encoding="utf-8")
    try:
        status = subprocess.run([*shlex.split(editor), str(path)]).returncode
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot run the editor {editor!r}: {getattr(exc, 'strerror', None) or exc}.") from None
    if status != 0:
        raise UsageError(f"the editor {editor!r} exited with {status}; {path} is as it left it.")
    load(folder, name)  # said now, not at the next -t: a broken template is its one line
    return 0
