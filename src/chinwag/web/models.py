"""What the page may offer and must hide: the model picker's choices, and the
API keys this server could use (kept out of everything the page sees).

The picker starts with each configured provider's default model (known at
once, from the configuration and the registry) and grows with the models
each provider's server lists (`/v1/models`), asked for in a thread of its
own once the user reaches for the picker, and kept for `LIST_TTL` seconds:
the page never waits on a slow or unreachable server to draw itself, and a
server nobody picks a model from is not asked.
"""

from __future__ import annotations

import importlib.util
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chinwag.errors import ChinwagError


def configured_models(environ: Mapping[str, str], cwd: Path) -> tuple[list[dict[str, str]], str]:
    """The model picker: each configured provider's default model, the
    bundled model when llama-cpp-python is installed, and the default
    (as `chinwag` alone would pick it) first."""
    from chinwag.config import resolve
    from chinwag.providers.registry import FALLBACK, all_providers

    def spec_of(settings: Any) -> str:
        return f"{settings.provider}:{settings.model}" if settings.model else settings.provider

    try:
        default = spec_of(resolve(environ, cwd, {}))
    except ChinwagError:
        default = FALLBACK
    specs = [default]
    for entry in all_providers():
        if entry.requires and importlib.util.find_spec(entry.requires) is None:
            continue
        try:
            specs.append(spec_of(resolve(environ, cwd, {"model": f"{entry.name}:"})))
        except ChinwagError:
            continue
    return [{"spec": s, "label": _label(s)} for s in dict.fromkeys(specs)], default


LIST_TTL = 600.0  # seconds a provider's listed models are kept before they are asked for again
LIST_WAIT = 8.0  # seconds a request for the full list waits at most


class ModelCatalog:
    """The model picker's choices: the configured defaults at once, then what
    each provider's server lists, fetched in the background and cached."""

    def __init__(self, environ: Mapping[str, str], cwd: Path) -> None:
        self.environ, self.cwd = environ, cwd
        self.defaults, self.default = configured_models(environ, cwd)
        self._lock = threading.Lock()
        self._listed: dict[str, list[str]] = {}  # provider -> model ids its server listed
        self._fetched_at: float | None = None
        self._done = threading.Event()
        self._fetching = False
        self._providers: dict[str, Any] = {}  # kept for the next listing (its connection too); see close()

    def choices(self) -> tuple[list[dict[str, str]], bool]:
        """Every model known now (the defaults first, then each provider's
        listed ones), and whether a fresh listing is in (the page asks for one
        with `wait` when the user reaches for the picker)."""
        with self._lock:
            listed = {p: list(m) for p, m in self._listed.items()}
        found = [dict(d, group=_group(d["spec"])) for d in self.defaults]
        seen = {d["spec"] for d in found}
        for provider, models in listed.items():
            for model in models:
                spec = f"{provider}:{model}"
                if spec not in seen:
                    seen.add(spec)
                    found.append({"spec": spec, "label": _label(spec), "group": _group(spec)})
        with self._lock:
            fresh = self._fetched_at is not None and time.monotonic() - self._fetched_at < LIST_TTL
        return found, fresh

    def wait(self, timeout: float = LIST_WAIT) -> None:
        """Block (in a worker thread) until the listing in progress ends, at most `timeout`."""
        self._refresh()
        self._done.wait(timeout)

    def close(self) -> None:
        """Close the connections the listings used."""
        with self._lock:
            providers, self._providers = list(self._providers.values()), {}
        for provider in providers:
            provider.close()

    def _refresh(self) -> None:
        with self._lock:
            fresh = self._fetched_at is not None and time.monotonic() - self._fetched_at < LIST_TTL
            if fresh or self._fetching:
                return
            self._fetching = True
            self._done.clear()
        threading.Thread(target=self._list_all, name="chinwag-web-models", daemon=True).start()

    def _list_all(self) -> None:
        from chinwag.config import resolve
        from chinwag.providers.registry import LazyProvider, all_providers

        listed: dict[str, list[str]] = {}
        try:
            for entry in all_providers():
                if not entry.lists_models:
                    continue  # e.g. the bundled model: the one the picker shows already
                try:
                    settings = resolve(self.environ, self.cwd, {"model": f"{entry.name}:"})
                except ChinwagError:
                    continue  # not configured
                provider = self._providers.setdefault(entry.name, LazyProvider(settings))
                try:
                    listed[entry.name] = [m for m in provider.list_models() if isinstance(m, str) and m]
                except ChinwagError:
                    continue  # unreachable or refused now: its default stays offered
        finally:  # whatever happened, the page stops waiting and a later request asks again
            with self._lock:
                self._listed, self._fetched_at, self._fetching = listed, time.monotonic(), False
            self._done.set()


def _group(spec: str) -> str:
    from chinwag.providers.registry import entry, parse_model_spec

    return entry(parse_model_spec(spec)[0]).picker_group


def _label(spec: str) -> str:
    from chinwag.providers.registry import entry, parse_model_spec

    provider, model = parse_model_spec(spec)
    return entry(provider).picker_label(model)


def api_keys(environ: Mapping[str, str], cwd: Path) -> tuple[str, ...]:
    """Every API key this server could use, to keep out of anything the page sees."""
    from chinwag.config import resolve
    from chinwag.providers.registry import all_providers

    found = {v for k, v in {**os.environ, **environ}.items() if k.endswith("_API_KEY") and v}
    for entry in all_providers():
        try:
            key = resolve(environ, cwd, {"model": f"{entry.name}:"}).api_key
        except ChinwagError:
            continue
        if key:
            found.add(key)
    return tuple(sorted((s for s in found if len(s) >= 4), key=len, reverse=True))
