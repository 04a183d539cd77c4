"""-t NAME, -p NAME VALUE and --save NAME on the chat's command line.

Precedence: the flags typed > the template > config.toml, .env, the environment.
The template's model, temperature and max_tokens are a layer of their own in
`resolve` (config.load_sources: flags[TEMPLATE]), so a message about one names
the template, not a flag nobody typed; the flags dict (with the layer) goes on
to /model. Its system prompt fills -s when not typed (parameters filled in), its
tools join -T's, and its `schema` lands in `args.schema` (`schema_multi` in
`args.schema_multi`), the settings --schema and --schema-multi set, so
structured output treats both alike.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any, TextIO

from chinwag.errors import UsageError
from chinwag.templates.store import config_dir, is_name, path_of
from chinwag.templates.template import KEYS, Template, dump, from_mapping, load, unset, write

LAYER_SETTINGS = ("model", "temperature", "max_tokens")  # resolve's names, the template's keys
Layer = tuple[str, dict[str, Any]]


def with_template(args: argparse.Namespace, prompt: str | None,
                  environ: Mapping[str, str]) -> tuple[str | None, Layer]:
    """Apply -t NAME (and its -p values): the prompt to send (None: the chat) and its layer."""
    params = dict(args.params or [])
    if args.template is None:
        raise UsageError("-p sets a template's parameter: use it with -t NAME.")
    template = load(config_dir(environ), args.template)
    template.check_params(params)
    if args.system is None and template.system is not None:
        args.system = template.fill(template.system, params, prompt or "")
    if template.tools:
        args.tools = list(dict.fromkeys([*(args.tools or []), *template.tools]))
    if template.schema is not None and getattr(args, "schema", None) is None:
        args.schema = template.schema  # the seam with --schema: the same setting
        if template.schema_multi and not getattr(args, "schema_multi", False):
            args.schema_multi = True
    return _prompt(template, params, prompt), layer(template)


def layer(template: Template) -> Layer:
    """The template's settings as a layer for config.load_sources (flags[TEMPLATE])."""
    return f"template {template.path}", {key: getattr(template, key) for key in LAYER_SETTINGS
                                         if getattr(template, key) is not None}


def _prompt(template: Template, params: Mapping[str, str], given: str | None) -> str | None:
    """The template's prompt with $input filled (or the text given after it), or the text given alone."""
    if template.prompt is None:
        if given == "":
            raise UsageError("the prompt is empty; type a question, e.g. chinwag \"hello\".")
        return given
    if template.uses_input():
        if not given:
            raise UsageError(f"template {template.name} puts your text where its $input is:"
                             f" chinwag -t {template.name} \"TEXT\", or pipe it in.")
        return template.fill(template.prompt, params, given)
    filled = template.fill(template.prompt, params)
    return f"{filled}\n\n{given}" if given else filled


def save(args: argparse.Namespace, environ: Mapping[str, str], out: TextIO) -> int:
    """--save NAME: write the options given with it (on top of -t's template) and exit."""
    name = args.save_template
    if not is_name(name):
        raise UsageError(f"{name!r} is not a template name (letters, digits, _ . -).")
    for given, flag in ((args.attach, "-a"), (args.file, "-f"), (args.resume, "--resume"),
                        (args.continue_last, "-c")):
        if given:
            raise UsageError(f"--save keeps settings and a prompt, not {flag}.")
    folder = config_dir(environ)
    fields: dict[str, Any] = {}
    if args.template is not None:  # as llm does: a saved copy of that template, changed by the flags
        base = load(folder, args.template)
        fields = {key: getattr(base, key) for key in KEYS}
    typed = {
        "system": args.system, "model": args.model, "temperature": args.temperature,
        "max_tokens": args.max_tokens, "tools": args.tools, "schema": getattr(args, "schema", None),
        "schema_multi": getattr(args, "schema_multi", None) or None,
        "prompt": " ".join(args.prompt) or None,
        "defaults": {**(fields.get("defaults") or {}), **dict(args.params or [])} or None,
    }
    fields.update({key: value for key, value in typed.items() if value is not None})
    fields = {key: value for key, value in fields.items() if not unset(value)}
    if not fields:
        raise UsageError("--save NAME saves the options given with it: -s, -m, --temperature, --max-tokens,"
                         " -T, --schema, a prompt, -p NAME VALUE.")
    if "tools" in fields:
        fields["tools"] = list(fields["tools"])
    path = path_of(folder, name)
    text = dump(fields)
    from_mapping(name, path, fields, text)  # the same checks as reading it back: a bad one is not written
    write(path, text)
    out.write(f"Saved template {name} to {path}.\n")
    return 0

