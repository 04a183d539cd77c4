"""`chinwag models`: the providers configured here (plugins' too), their models, and the default."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from chinwag.config import Settings, resolve
from chinwag.errors import ChinwagError
from chinwag.providers.base import Provider


def list_models(environ: Mapping[str, str], cwd: Path, out: TextIO) -> int:
    from chinwag.providers.registry import all_providers, build

    default = resolve(environ, cwd, {})
    out.write(f"default: {_spec(default)}\n")
    for entry in all_providers():
        provider = entry.name
        try:
            settings = resolve(environ, cwd, {"model": f"{provider}:"})
        except ChinwagError as exc:
            out.write(f"{provider}: not configured ({exc.message})\n")
            continue
        try:
            names = _names(build(settings))
        except ChinwagError as exc:
            out.write(f"{provider}: unreachable ({exc.message})\n")
            continue
        where = f" at {settings.base_url}" if settings.base_url else ""
        out.write(f"{provider}{where}:\n")
        for name in names:
            out.write(f"  {provider}:{name}\n")
    return 0


def _names(provider: Provider) -> list[str]:
    try:
        return provider.list_models()
    finally:
        provider.close()


def _spec(settings: Settings) -> str:
    return f"{settings.provider}:{settings.model}" if settings.model else settings.provider
