"""Where templates live and what they are called; the standard library only,
so shell completion can list names without importing the rest of chinwag."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

SUFFIX = ".toml"
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")  # a file name in one folder: no slashes, no leading dot


def templates_dir(config_dir: Path) -> Path:
    return config_dir / "templates"


def config_dir(environ: Mapping[str, str]) -> Path:
    """The folder config.toml is in (paths.config_file): templates/ sits beside it."""
    from chinwag.paths import config_file

    return config_file(environ).parent


def names(config_dir: Path) -> list[str]:
    """The templates' names, sorted; none when the folder does not exist. Reads no file."""
    try:
        entries = os.listdir(templates_dir(config_dir))
    except OSError:
        return []
    return sorted(entry[: -len(SUFFIX)] for entry in entries
                  if entry.endswith(SUFFIX) and is_name(entry[: -len(SUFFIX)]))


def is_name(name: str) -> bool:
    return bool(_NAME.fullmatch(name))


def path_of(config_dir: Path, name: str) -> Path:
    return templates_dir(config_dir) / f"{name}{SUFFIX}"
