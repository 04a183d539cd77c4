"""`chinwag usage` as text: a table of days, each row ending in a bar on a terminal.

The bar is the day's cost, or its tokens when nothing in the range has a
known price (the bundled model is free: its bars still say how much it was
used). Bars are drawn in eighths of a cell, so a small day is still visible.
Piped (or `TERM=dumb`), the same table without bars and without colour, so
scripts and files get plain columns. Model names and titles come from the
history and are made safe (`clean_line`) before they are printed.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TextIO

from chinwag.cli.history_format import clean_line, isatty
from chinwag.spend import day_label, money
from chinwag.history.usage import Figures, Usage, figures_of

KEY_WIDTH = 28  # a model name or title longer than this is cut, with an ellipsis
PER_DAY, TOTALS = 5, 20  # split rows shown per day, and in the totals: the largest; --json has all
MIN_BAR, MAX_BAR = 8, 40
EIGHTHS = " ▏▎▍▌▋▊▉"


@dataclass(frozen=True)
class Style:
    bars: bool
    color: bool
    width: int

    @classmethod
    def for_output(cls, out: TextIO, environ: Mapping[str, str]) -> Style:
        terminal = isatty(out) and environ.get("TERM") != "dumb"
        width = shutil.get_terminal_size((80, 24)).columns if terminal else 80
        return cls(bars=terminal, color=terminal and not environ.get("NO_COLOR"), width=width)


def chart(usage: Usage, style: Style) -> str:
    query = usage.query
    zone = "UTC" if query.utc else "local time"
    total = usage.total()
    days = usage.day_totals()
    priced = total.cost > 0
    span = f"{' '.join(day_label(query.first).split())} to {' '.join(day_label(query.last).split())}"
    lines = [f"Usage by day, {span} ({len(days)} days, {zone})"
             + (f"; bars: {'cost' if priced else 'tokens'}" if style.bars else "")]
    rows: list[tuple[tuple[str, ...], Figures, bool]] = []  # cells, figures, whether the bar is drawn
    for day, figures in days.items():
        rows.append(((day_label(day), *_cells(figures)), figures, True))
        if query.by is None:
            continue
        split = usage.by_day[day]
        for row in split[:PER_DAY]:
            figures_of_key = Figures(*row[2:])
            name = _name(query.by, row[1], usage.titles.get(row[1] or ""))
            rows.append((("  " + name, *_cells(figures_of_key)), figures_of_key, False))
        rows += _more(figures_of(split[PER_DAY:]), len(split) - PER_DAY, "  ")
    rows.append((("total", *_cells(total)), total, False))
    if query.by is not None:
        rows.append(((f"by {query.by}", "", "", "", ""), Figures(), False))
        totals = usage.key_totals()
        for key, title, figures in totals[:TOTALS]:
            rows.append(((_name(query.by, key, title), *_cells(figures)), figures, False))
        rows += _more(Figures.add_all(figures for _, _, figures in totals[TOTALS:]), len(totals) - TOTALS, "")
    header = ("", "replies", "tokens in", "tokens out", "cost")
    widths = [max(len(cells[i]) for cells, _, _ in [(header, None, False), *rows]) for i in range(5)]
    table_width = sum(widths) + 2 * 4
    bar_width = max(MIN_BAR, min(MAX_BAR, style.width - table_width - 3))
    scale = max((_measure(f, priced) for d, f in days.items()), default=0)
    lines.append(_row(header, widths, style, dim=True))
    for cells, figures, with_bar in rows:
        line = _row(cells, widths, style, dim=cells[0].startswith("  ") or not cells[1])
        if with_bar and style.bars and scale:
            line += "  " + _paint(_bar(_measure(figures, priced) / scale, bar_width), style)
        lines.append(line.rstrip())
    if total.unpriced:
        lines.append(f"* {total.unpriced:,} {'reply' if total.unpriced == 1 else 'replies'} with no known price:"
                     " their tokens are counted, their cost is not")
    if total.replies == 0:
        lines.append("No replies in this period.")
    return "\n".join(lines) + "\n"


def _more(figures: Figures, count: int, indent: str) -> list[tuple[tuple[str, ...], Figures, bool]]:
    """The rows left out, as one row of their sums."""
    if count <= 0:
        return []
    return [((f"{indent}… {count:,} more", *_cells(figures)), figures, False)]


def _name(by: str, key: str | None, title: str | None) -> str:
    text = f"#{key} {title or '(untitled)'}" if by == "conversation" else key or "?"
    text = clean_line(text)
    return text if len(text) <= KEY_WIDTH else text[:KEY_WIDTH - 1] + "…"


def _cells(figures: Figures) -> tuple[str, str, str, str]:
    cost = money(figures.cost) if figures.cost or not figures.unpriced else "-"
    return (f"{figures.replies:,}", f"{figures.input_tokens:,}",
            f"{figures.output_tokens:,}", cost + ("*" if figures.unpriced else ""))


def _measure(figures: Figures, priced: bool) -> float:
    return figures.cost if priced else float(figures.tokens)


def _row(cells: tuple[str, ...], widths: list[int], style: Style, dim: bool) -> str:
    text = "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(cells, widths)))
    return f"\x1b[2m{text}\x1b[0m" if dim and style.color and text.strip() else text


def _bar(fraction: float, width: int) -> str:
    eighths = round(fraction * width * 8)
    if fraction > 0 and eighths == 0:
        eighths = 1  # a day with any use shows a sliver
    full, rest = divmod(eighths, 8)
    return "█" * full + (EIGHTHS[rest] if rest else "")


def _paint(bar: str, style: Style) -> str:
    return f"\x1b[36m{bar}\x1b[0m" if style.color and bar else bar
