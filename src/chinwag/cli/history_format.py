"""How `chinwag history` prints: tables, times, text made safe and flat."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TextIO

from chinwag.render.sanitize import sanitize

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def table(rows: Sequence[tuple[str, ...]], right_aligned: set[int]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [cell.rjust(w) if i in right_aligned else cell.ljust(w)
                 for i, (cell, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def clean_line(text: str) -> str:
    return flat(text).strip()


def flat(text: str) -> str:
    """Sanitised, on one line: runs of white space become one space."""
    return re.sub(r"\s+", " ", sanitize(text))


def when(ts: float, now: float) -> str:
    """Short local time: '14:03' today, 'Nov 26 14:03' this year, else '2024-11-26'."""
    moment, today = datetime.fromtimestamp(ts), datetime.fromtimestamp(now)
    if moment.date() == today.date():
        return moment.strftime("%H:%M")
    if moment.year == today.year:
        return f"{MONTHS[moment.month - 1]} {moment.day:2d} {moment:%H:%M}"
    return moment.strftime("%Y-%m-%d")


def local(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds")


def isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
