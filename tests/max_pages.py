"""A `chinwag` child whose history database cannot grow past a number of pages.

SQLite's max_page_count is a setting of one connection, so a test cannot set
it on the child's connection from outside. `capped` puts tests/hooks first on
the child's PYTHONPATH, whose sitecustomize.py passes `max_pages` to every
Recorder the child makes (the in-process tests pass it to Recorder directly).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

HOOKS = Path(__file__).resolve().with_name("hooks")
VARIABLE = "CHINWAG_TEST_MAX_PAGES"  # read by tests/hooks/sitecustomize.py only


def capped(env: Mapping[str, str], pages: int) -> dict[str, str]:
    """`env` for a child whose history database is capped at `pages` pages."""
    path = os.pathsep.join(p for p in (str(HOOKS), env.get("PYTHONPATH", "")) if p)
    return {**env, "PYTHONPATH": path, VARIABLE: str(pages)}
