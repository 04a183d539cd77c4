"""One template: read and checked (every problem one line naming the file, the
line and the key), its `$input` and `$name` parameters filled, and written.

A template's settings go where the flags it stands for go (cli/templates.py),
so the flags typed win over it and it wins over config.toml.
"""

from __future__ import annotations

import json
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chinwag.config_schema import TOP_LEVEL, key_line
from chinwag.errors import ConfigError, UsageError
from chinwag.templates.store import is_name, names, path_of, templates_dir

SETTINGS = ("system", "model", "temperature", "max_tokens", "tools", "schema", "schema_multi", "prompt")
KEYS = (*SETTINGS, "defaults")
INPUT = "input"  # $input: the text given on the command line or piped in


@dataclass(frozen=True)
class Template:
    name: str
    path: Path
    system: str | None = None
    model: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    tools: tuple[str, ...] = ()
    schema: str | None = None  # as --schema takes it: JSON text, a file, or llm's concise syntax
    schema_multi: bool = False  # as --schema-multi: a list of such objects
    prompt: str | None = None
    defaults: Mapping[str, str] = field(default_factory=dict)

    def parameters(self) -> list[str]:
        """The `$name`s its system prompt and prompt use, $input aside, in order."""
        found: dict[str, None] = {}
        for text in (self.system, self.prompt):
            if text:
                found.update(dict.fromkeys(string.Template(text).get_identifiers()))
        found.pop(INPUT, None)
        return list(found)

    def uses_input(self) -> bool:
        return bool(self.prompt) and INPUT in string.Template(self.prompt or "").get_identifiers()

    def fill(self, text: str, params: Mapping[str, str], input_text: str = "") -> str:
        """`text` (its system prompt or prompt) with each parameter's value: -p, else [defaults]."""
        values = {**self.defaults, **params, INPUT: input_text}
        for name in string.Template(text).get_identifiers():
            if name not in values:
                raise UsageError(f"template {self.name} needs the parameter {name}: add -p {name} VALUE.")
        return string.Template(text).substitute(values)

    def check_params(self, params: Mapping[str, str]) -> None:
        """-p for a parameter the template does not have is a mistake worth one line."""
        known = self.parameters()
        for name in params:
            if name not in known:
                has = f"its parameters: {', '.join(known)}" if known else "it has no parameters"
                raise UsageError(f"template {self.name} has no parameter {name} ({has}).")


def load(config_dir: Path, name: str) -> Template:
    """The template called `name`; UsageError when there is none, ConfigError when it is broken."""
    if not is_name(name):
        raise UsageError(f"{name!r} is not a template name (letters, digits, _ . -).")
    path = path_of(config_dir, name)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        import difflib

        close = difflib.get_close_matches(name, names(config_dir), n=1)
        hint = f"did you mean {close[0]}?" if close else "see chinwag templates list"
        raise UsageError(f"no template {name!r} in {templates_dir(config_dir)} ({hint}).") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read template {path}: {getattr(exc, 'strerror', None) or exc}.") from None
    return parse(name, path, text)


def parse(name: str, path: Path, text: str) -> Template:
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid template {path}: {exc}.") from None
    return from_mapping(name, path, data, text)


def from_mapping(name: str, path: Path, data: Mapping[str, Any], text: str = "") -> Template:
    """A checked Template from a TOML file's table (`text` gives the lines for messages)."""

    def wrong(key: str, wanted: str, table: str | None = None) -> ConfigError:
        line = key_line(text, key, table) if text else None
        where = f"{path}, line {line}" if line else str(path)
        return ConfigError(f"{where}: {key} {wanted}.")

    for key in data:
        if key not in KEYS:
            import difflib

            close = difflib.get_close_matches(key, KEYS, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"a template sets {', '.join(KEYS)}"
            raise wrong(key, f"is not a template key ({hint})")
    for key in ("system", "model", "temperature", "max_tokens", "tools"):
        if key in data and (wanted := TOP_LEVEL[key](data[key])) is not None:
            raise wrong(key, f"must be {wanted}, got {_shown(data[key])}")
    tools = tuple(data.get("tools", ()))
    if tools:
        from chinwag.tools import BUILTIN_TOOLS

        if unknown := [t for t in tools if t not in BUILTIN_TOOLS]:
            raise wrong("tools", f"names a tool that does not exist: {unknown[0]!r}"
                                 f" (the built-in tools are {', '.join(BUILTIN_TOOLS)})")
    for key in ("system", "prompt"):
        value = data.get(key)
        if key == "prompt" and value is not None and not isinstance(value, str):
            raise wrong(key, f"must be a string in quotes, got {_shown(value)}")
        if isinstance(value, str) and not string.Template(value).is_valid():
            raise wrong(key, "has a $ that starts no parameter name (write $$ for a dollar sign)")
    schema = data.get("schema")
    if schema is not None and not isinstance(schema, (str, dict)):
        raise wrong("schema", f"must be a string (JSON, a file, or 'name, age int') or a table, got {_shown(schema)}")
    if not isinstance(data.get("schema_multi", False), bool):
        raise wrong("schema_multi", f"must be true or false, got {_shown(data['schema_multi'])}")
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise wrong("defaults", "must be a table: [defaults] with NAME = \"value\" lines")
    for key, value in defaults.items():
        if isinstance(value, (dict, list)) or isinstance(value, bool):
            raise wrong(key, f"must be a string or a number, got {_shown(value)}", "defaults")
    return Template(
        name=name, path=path, system=data.get("system"), model=data.get("model"),
        temperature=data.get("temperature"), max_tokens=data.get("max_tokens"), tools=tools,
        schema=json.dumps(schema) if isinstance(schema, dict) else schema,
        schema_multi=data.get("schema_multi", False), prompt=data.get("prompt"),
        defaults={str(k): str(v) for k, v in defaults.items()},
    )


def dump(fields: Mapping[str, Any]) -> str:
    """TOML text for a template's settings (SETTINGS order, then [defaults]); None values left out."""
    import tomli_w

    ordered = {key: fields[key] for key in KEYS if not unset(fields.get(key))}
    if "tools" in ordered:
        ordered["tools"] = list(ordered["tools"])
    return tomli_w.dumps(ordered, multiline_strings=True)


def write(path: Path, text: str) -> None:
    """The template file, whole or not at all."""
    import os
    import tempfile

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, path)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}.") from None


def unset(value: Any) -> bool:
    """Nothing to write: None, false (schema_multi), an empty list or table; 0 is a value."""
    return value is None or value is False or (isinstance(value, (tuple, list, dict)) and not value)


def _shown(value: Any) -> str:
    shown = repr(value) if not isinstance(value, (list, dict)) else str(value)
    return shown[:60]
