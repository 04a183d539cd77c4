"""`/template NAME` in the chat: the template's settings for the rest of the conversation.

Asked for now, it wins over the command line's flags for what it sets: those
flags are dropped and the template's layer (cli/template_flags.py) replaces any
earlier one, so a later /model keeps its temperature and max_tokens.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chinwag.config import TEMPLATE
from chinwag.errors import UsageError
from chinwag.render.sanitize import sanitize

if TYPE_CHECKING:
    from chinwag.cli.repl import Repl
    from chinwag.templates.template import Template


def apply_in_chat(repl: Repl, name: str) -> None:
    from chinwag.cli.template_flags import LAYER_SETTINGS, layer
    from chinwag.templates.store import config_dir, names
    from chinwag.templates.template import load

    folder = config_dir(repl.environ)
    if not name:
        known = names(folder)
        raise UsageError(f"say which: /template NAME ({', '.join(known)})." if known else
                         "no templates yet; make one with chinwag -s \"...\" --save NAME.")
    template = load(folder, name)
    system = _system(template)
    label, settings_of = layer(template)
    flags = {key: value for key, value in repl.flags.items() if key not in settings_of}
    flags[TEMPLATE] = (label, settings_of)
    if template.schema is not None:
        flags["schema"], flags["schema_multi"] = template.schema, template.schema_multi or None
    if settings_of or template.schema is not None:
        # Built now, so a bad model or a missing key is refused here, not at the next message.
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
        f"{settings.provider}:{repl.session.model}" if key == "model" else f"{key.replace('_', ' ')} {settings_of[key]}"
        for key in LAYER_SETTINGS if key in settings_of] + (["schema"] if template.schema is not None else [])
    repl.out.write(f"Now using template {sanitize(name)}: {', '.join(used) or 'nothing to change'}.\n")
    for note in settings.notes if settings_of else ():
        repl.out.write(repl.dim(sanitize(note)) + "\n")
    missing = [tool for tool in template.tools if tool not in settings.tools.enabled]
    if missing:
        repl.out.write(repl.dim(f"Its tools ({', '.join(missing)}) are chosen when the chat starts:"
                                f" chinwag -t {sanitize(name)}.") + "\n")
    if template.prompt is not None:
        repl.out.write(repl.dim(f"Its prompt is for one question: chinwag -t {sanitize(name)} \"TEXT\".") + "\n")


def _system(template: Template) -> str | None:
    """Its system prompt with [defaults]; a parameter without one cannot be given here."""
    if template.system is None:
        return None
    missing = [name for name in template.parameters() if name not in template.defaults]
    if missing:
        raise UsageError(f"template {template.name} needs the parameter {missing[0]}, which has no default:"
                         f" give it one under [defaults], or start with chinwag -t {template.name}"
                         f" -p {missing[0]} VALUE.")
    return template.fill(template.system, {})
