"""Imported by Python at start-up when this directory leads PYTHONPATH (set
by tests/max_pages.py for the `chinwag` a test or benchmark starts): with
CHINWAG_TEST_MAX_PAGES set, every Recorder caps its database connection at that
many pages (SQLite's max_page_count), so the chat meets "disk full" without a
full disk. Test code only: chinwag itself reads no such variable."""

from __future__ import annotations

import os
from pathlib import Path

_pages = os.environ.get("CHINWAG_TEST_MAX_PAGES", "")
if _pages.isdigit():
    from chinwag.history.recorder import Recorder

    _init = Recorder.__init__

    def _capped(self: Recorder, path: Path, *, max_pages: int | None = None) -> None:
        _init(self, path, max_pages=int(_pages))

    Recorder.__init__ = _capped  # type: ignore[method-assign]
