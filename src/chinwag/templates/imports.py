"""Templates from other tools: llm's YAML templates and aichat's roles.

Each source file gives a Conversion: the chinwag template's settings, what was
left out and why, or why nothing could be converted. The caller writes them.
llm's templates use the same `$input`/`$name` syntax as ours; aichat's roles
put the user's text where `__INPUT__` is, so a role with it becomes a prompt,
one without it a system prompt.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# llm template keys with no chinwag equivalent, and what they do there.
LLM_UNSUPPORTED = {
    "extract": "extracting fenced code blocks", "extract_last": "extracting the last code block",
    "fragments": "fragments", "system_fragments": "fragments", "attachments": "attachments",
    "attachment_types": "attachments", "functions": "Python functions",
}
AICHAT_PROVIDERS = {"openai": "openai", "claude": "anthropic"}  # aichat's client name -> ours


@dataclass
class Conversion:
    name: str
    source: Path
    fields: dict[str, Any] = field(default_factory=dict)
    left_out: list[str] = field(default_factory=list)  # "KEY (why)"
    failed: str | None = None  # why nothing could be converted


def llm_dir(environ: Mapping[str, str]) -> Path:
    """llm's template folder, found as llm finds it: $LLM_USER_PATH/templates, else
    click.get_app_dir("io.datasette.llm")/templates (the user's config folder)."""
    if environ.get("LLM_USER_PATH"):
        return Path(environ["LLM_USER_PATH"]).expanduser() / "templates"
    from platformdirs import user_config_dir

    return Path(user_config_dir("io.datasette.llm", appauthor=False, roaming=True)) / "templates"


def aichat_dir(environ: Mapping[str, str]) -> Path:
    """aichat's roles folder: $AICHAT_ROLES_DIR, else roles/ in $AICHAT_CONFIG_DIR or
    the user's config folder's aichat/ (as aichat's dirs::config_dir)."""
    if environ.get("AICHAT_ROLES_DIR"):
        return Path(environ["AICHAT_ROLES_DIR"]).expanduser()
    if environ.get("AICHAT_CONFIG_DIR"):
        return Path(environ["AICHAT_CONFIG_DIR"]).expanduser() / "roles"
    from platformdirs import user_config_dir

    return Path(user_config_dir("aichat", appauthor=False, roaming=True)) / "roles"


def from_llm(folder: Path) -> Iterator[Conversion]:
    import yaml  # type: ignore[import-untyped]  # no stubs installed; safe_load and YAMLError only

    for path in sorted(folder.glob("*.yaml")):
        done = Conversion(path.stem, path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            done.failed = f"cannot read it: {_first_line(exc)}"
            yield done
            continue
        if isinstance(data, str):  # llm: a template that is only a prompt
            data = {"prompt": data}
        if not isinstance(data, dict):
            done.failed = "it is not a YAML mapping"
            yield done
            continue
        for key, value in data.items():
            _llm_key(done, key, value)
        yield done


def _llm_key(done: Conversion, key: str, value: Any) -> None:
    if value is None or key == "name":
        return
    if key in ("system", "prompt"):
        done.fields[key] = str(value)
    elif key == "model":
        done.fields["model"], note = _llm_model(str(value))
        if note:
            done.left_out.append(note)
    elif key == "defaults" and isinstance(value, dict):
        done.fields["defaults"] = {str(k): str(v) for k, v in value.items()}
    elif key == "options" and isinstance(value, dict):
        for option, setting in value.items():
            if option in ("temperature", "max_tokens"):
                done.fields[option] = setting
            else:
                done.left_out.append(f"options.{option} (chinwag has no such setting)")
    elif key == "schema_object":
        done.fields["schema"] = json.dumps(value)
    elif key == "tools" and isinstance(value, list):
        _tools(done, [str(v) for v in value])
    else:
        done.left_out.append(f"{key} ({LLM_UNSUPPORTED.get(key, 'unknown to chinwag')}: not supported)")


def _llm_model(model: str) -> tuple[str, str | None]:
    """llm's model ID as a chinwag model spec, and a note when it is a guess."""
    if model.startswith(("gpt-", "o1", "o3", "o4", "chatgpt-")):
        return f"openai:{model}", None
    if model.startswith("claude"):
        return f"anthropic:{model}", f"model {model!r} is an llm alias: check it is an Anthropic model name"
    return model, f"model {model!r} kept as a bare name (a server at OPENAI_BASE_URL serves those)"


def from_aichat(folder: Path) -> Iterator[Conversion]:
    import yaml

    for path in sorted(folder.glob("*.md")):
        done = Conversion(path.stem, path)
        try:
            text = path.read_text(encoding="utf-8")
            front, body = _front_matter(text)
            meta = yaml.safe_load(front) if front else {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            done.failed = f"cannot read it: {_first_line(exc)}"
            yield done
            continue
        if not isinstance(meta, dict):
            done.failed = "its front matter is not a YAML mapping"
            yield done
            continue
        body = body.strip().replace("$", "$$")  # aichat's text is literal; ours is a $-template
        if "__INPUT__" in body:
            done.fields["prompt"] = body.replace("__INPUT__", "$input")
        elif body:
            done.fields["system"] = body
        for key, value in meta.items():
            _aichat_key(done, str(key), value)
        yield done


def _aichat_key(done: Conversion, key: str, value: Any) -> None:
    if value is None:
        return
    if key == "temperature":
        done.fields["temperature"] = value
    elif key == "model":
        provider, _, model = str(value).partition(":")
        if provider in AICHAT_PROVIDERS and model:
            done.fields["model"] = f"{AICHAT_PROVIDERS[provider]}:{model}"
        else:
            done.left_out.append(f"model {str(value)!r} (no chinwag provider for aichat's {provider!r} client)")
    elif key == "use_tools":
        _tools(done, [t.strip() for t in str(value).split(",") if t.strip()])
    else:
        done.left_out.append(f"{key} (not supported)")


def _tools(done: Conversion, tools: list[str]) -> None:
    from chinwag.tools import BUILTIN_TOOLS

    kept = [t for t in tools if t in BUILTIN_TOOLS]
    if kept:
        done.fields["tools"] = kept
    for tool in tools:
        if tool not in BUILTIN_TOOLS:
            done.left_out.append(f"tool {tool!r} (chinwag's tools are {', '.join(BUILTIN_TOOLS)})")


def _front_matter(text: str) -> tuple[str, str]:
    """(the YAML between the leading --- lines, the rest); ("", text) without any."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return "", text
    for number, line in enumerate(lines[1:], 1):
        if line.strip() == "---":
            return "".join(lines[1:number]), "".join(lines[number + 1:])
    return "", text


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]

