"""The model specs Tab offers: the registry's prefixes and the models each
configured server lists, kept in the data directory for a day.

Reading the cache never opens the network. A missing or day-old cache is
refreshed by a detached child process (`python -m chinwag.completion.model_cache`),
started at most once a minute, so Tab never waits on a slow or unreachable
server; this Tab offers what the cache held (or the prefixes alone).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

CACHE_NAME = "completion-models.json"
MAX_AGE = 24 * 3600.0  # seconds a listing is offered before it is asked for again
LIST_TIMEOUT = 10.0  # seconds of a server's silence before the refresh gives it up (it runs unseen)
RETRY_AFTER = 60.0  # seconds between refreshes started while one may still be running


def cache_file(environ: Mapping[str, str]) -> Path:
    from chinwag.paths import data_dir

    return data_dir(environ) / CACHE_NAME


def model_specs(environ: Mapping[str, str]) -> list[str]:
    """The specs to offer now: the cached ones, or the built-in prefixes when
    nothing is cached yet; a refresh is started in the background when the
    cache is missing or stale."""
    path = cache_file(environ)
    cached = _read(path)
    if cached is None or not time.time() - cached["written"] < MAX_AGE:
        refresh_in_background(path, environ)
    if cached is None:
        return _prefixes(plugins=False)
    listed = [f"{provider}:{model}" for provider, models in cached["models"].items() for model in models]
    return list(dict.fromkeys([*cached["prefixes"], *listed]))


def refresh_in_background(path: Path, environ: Mapping[str, str]) -> None:
    """Start the refresh in a process of its own session (the shell does not
    wait for it, and Ctrl-C at the prompt does not reach it), unless one was
    started within RETRY_AFTER seconds."""
    marker = path.with_name(path.name + ".refreshing")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if time.time() - marker.stat().st_mtime < RETRY_AFTER:
            return
    except FileNotFoundError:
        pass
    except OSError:
        return  # no data directory to write: nothing to refresh into
    try:
        marker.touch()
        subprocess.Popen([sys.executable, "-m", "chinwag.completion.model_cache", str(path)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True, close_fds=True, env=dict(environ))
    except OSError:
        pass  # Tab still offers the prefixes


def refresh(path: Path, environ: Mapping[str, str], cwd: Path) -> None:
    """List every configured server's models (as the page's picker does) and
    write them with the prefixes, atomically."""
    from chinwag.config import resolve
    from chinwag.errors import ChinwagError
    from chinwag.providers.registry import all_providers, build

    models: dict[str, list[str]] = {}
    for entry in all_providers():
        if not entry.lists_models:
            continue
        try:
            settings = resolve(environ, cwd, {"model": f"{entry.name}:", "timeout": LIST_TIMEOUT})
        except ChinwagError:
            continue  # not configured
        try:
            provider = build(settings)
            try:
                models[entry.name] = [m for m in provider.list_models() if isinstance(m, str) and m]
            finally:
                provider.close()
        except ChinwagError:
            continue  # unreachable or refused now: its prefix is still offered
    data = {"written": time.time(), "prefixes": _prefixes(plugins=True), "models": models}
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(data), encoding="utf-8")
    os.replace(temporary, path)


def _read(path: Path) -> dict[str, Any] | None:
    """The cache, or None when it is missing or not one we wrote."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if (isinstance(data, dict) and isinstance(data.get("written"), (int, float))
                and isinstance(data.get("prefixes"), list) and isinstance(data.get("models"), dict)):
            return cast(dict[str, Any], data)
    except (OSError, ValueError):
        pass
    return None


def _prefixes(plugins: bool) -> list[str]:
    """`anthropic:`, `openai:`, ... and the bare fallback (`local`); the
    plugins' only in the background (loading one may be slow or complain)."""
    from chinwag.providers import registry

    entries = registry.all_providers() if plugins else registry.PROVIDERS
    return [*(f"{entry.name}:" for entry in entries), registry.FALLBACK]


if __name__ == "__main__":  # the marker stays: a failed refresh is tried again a minute later, not at each Tab
    refresh(Path(sys.argv[1]), os.environ, Path.cwd())
