"""What the page may offer and must hide: the model picker's choices, and the
API keys this server could use (kept out of everything the page sees)."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chinwag.errors import ChinwagError


def configured_models(environ: Mapping[str, str], cwd: Path) -> tuple[list[dict[str, str]], str]:
    """The model picker: each configured provider's default model, the
    bundled model when llama-cpp-python is installed, and the default
    (as `chinwag` alone would pick it) first."""
    from chinwag.config import resolve
    from chinwag.providers.registry import PROVIDERS

    def spec_of(settings: Any) -> str:
        return f"{settings.provider}:{settings.model}" if settings.model else settings.provider

    try:
        default = spec_of(resolve(environ, cwd, {}))
    except ChinwagError:
        default = "local"
    specs = [default]
    for entry in PROVIDERS:
        if entry.name == "local" and importlib.util.find_spec("llama_cpp") is None:
            continue
        try:
            specs.append(spec_of(resolve(environ, cwd, {"model": f"{entry.name}:"})))
        except ChinwagError:
            continue
    return [{"spec": s, "label": _label(s)} for s in dict.fromkeys(specs)], default


def _label(spec: str) -> str:
    from chinwag.providers.registry import entry, parse_model_spec

    provider, model = parse_model_spec(spec)
    if provider == "local":
        return f"local · {Path(model).name}" if model else "bundled model (SmolLM2-135M, offline)"
    name = {"anthropic": "Claude", "openai": "OpenAI-compatible"}.get(provider, entry(provider).label)
    return f"{model} · {name}" if model else f"{name} · the server's first model"


def api_keys(environ: Mapping[str, str], cwd: Path) -> tuple[str, ...]:
    """Every API key this server could use, to keep out of anything the page sees."""
    from chinwag.config import resolve
    from chinwag.providers.registry import PROVIDERS

    found = {v for k, v in {**os.environ, **environ}.items() if k.endswith("_API_KEY") and v}
    for entry in PROVIDERS:
        try:
            key = resolve(environ, cwd, {"model": f"{entry.name}:"}).api_key
        except ChinwagError:
            continue
        if key:
            found.add(key)
    return tuple(sorted((s for s in found if len(s) >= 4), key=len, reverse=True))
