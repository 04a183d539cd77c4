"""`/template NAME` in the chat: the template's settings for the rest of the conversation."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chinwag.errors import UsageError
from chinwag.render.sanitize import sanitize

if TYPE_CHECKING:
    from chinwag.cli.repl import Repl

SETTINGS = ("model", "temperature", "max_tokens")


def apply_in_chat(repl: Repl, name: str) -> None:
    from chinwag.templates.store import config_dir, names
    from chinwag.templates.template import load

    folder = config_dir(repl.environ)
    if not name:
        known = names(folder)
        raise UsageError(f"say which: /template NAME ({', '.join(known)})." if known else
                         "no templates yet; make one with chinwag -s \"...\" --save NAME.")
    template = load(folder, name)
    system = template.fill(template.system, {}) if template.system is not None else None  # [defaults] only
    flags = {**repl.flags, **{key: getattr(template, key) for key in SETTINGS if getattr(template, key) is not None}}
    if template.schema is not None:
        flags["schema"] = template.schema  # the setting --schema sets
    changed = [key for key in SETTINGS if getattr(template, key) is not None]
    if changed:  # built now, so a bad model or a missing key is refused here, not at the next message
        from chinwag.config import resolve
        from chinwag.providers.registry import build

        settings = resolve(repl.environ, repl.cwd, flags, refuse_flags=False)
        repl.session.switch(settings, build(settings))
    if system is not None:
        repl.session.conversation.system = system
        flags["system"] = system
    repl.flags = flags
    settings = repl.session.settings
    used = (["system prompt"] if system is not None else []) + [
        f"{settings.provider}:{repl.session.model}" if key == "model" else f"{key.replace('_', ' ')} {flags[key]}"
        for key in changed]
    repl.out.write(f"Now using template {sanitize(name)}: {', '.join(used) or 'nothing to change'}.\n")
    for note in settings.notes if changed else ():
        repl.out.write(repl.dim(sanitize(note)) + "\n")
    missing = [tool for tool in template.tools if tool not in settings.tools.enabled]
    if missing:
        repl.out.write(repl.dim(f"Its tools ({', '.join(missing)}) are chosen when the chat starts:"
                                f" chinwag -t {sanitize(name)}.") + "\n")
    if template.prompt is not None:
        repl.out.write(repl.dim(f"Its prompt is for one question: chinwag -t {sanitize(name)} \"TEXT\".") + "\n")
