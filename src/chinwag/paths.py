"""Where chinwag keeps its files. The environment is passed in, never read globally."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


def data_dir(environ: Mapping[str, str]) -> Path:
    """The data directory: $CHINWAG_HOME, else the platform's user data dir."""
    if environ.get("CHINWAG_HOME"):
        return Path(environ["CHINWAG_HOME"]).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("chinwag", appauthor=False))


def config_file(environ: Mapping[str, str]) -> Path:
    """config.toml in $CHINWAG_HOME when set (keeps tests hermetic), else the platform config dir."""
    if environ.get("CHINWAG_HOME"):
        return Path(environ["CHINWAG_HOME"]).expanduser() / "config.toml"
    from platformdirs import user_config_dir

    return Path(user_config_dir("chinwag", appauthor=False)) / "config.toml"


def database_file(environ: Mapping[str, str]) -> Path:
    return data_dir(environ) / "history.db"
