"""The page's Usage view, drawn on the server: an inline SVG bar chart and two tables.

The same figures as `chinwag usage` (history/usage.py, spend.py). The chart
is SVG elements with geometry attributes and class names only (colours come
from usage.css), so the Content-Security-Policy stays as it is: no inline
style, no script. Each bar carries a <title> (the browser's tooltip) with its
day and figures. With a split (`by`), each day's bar is stacked by the
largest keys of the range, the rest as "other". Every text from the history
(model names, titles) is escaped here: the page inserts this as HTML.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from html import escape
from typing import TYPE_CHECKING, Any

from chinwag.errors import UsageError
from chinwag.history.usage import GROUPINGS, Figures, Row, Usage, figures_of, read_usage
from chinwag.spend import MAX_DAYS, day_label, make_query, money, usage_json

if TYPE_CHECKING:
    from chinwag.history.store import Store
    from chinwag.prices import Prices

WIDTH, HEIGHT = 720, 220  # the SVG's own units; it scales to the page's width
LEFT, BOTTOM, TOP = 64, 24, 12
KEY_ROWS = 50  # the largest keys listed; the rest summed in one row
COLOURS = 6  # keys drawn in their own colour (s0..s5); the rest are "other" (s6)


def usage_html(usage: Usage) -> str:
    query = usage.query
    total = usage.total()
    priced = total.cost > 0
    zone = "UTC" if query.utc else "local time"
    days = usage.day_totals()
    head = (f'<p class="usage-range">{escape(" ".join(day_label(query.first).split()))} to '
            f'{escape(" ".join(day_label(query.last).split()))} · {len(days)} days, {zone}</p>'
            f'<p class="usage-total"><strong>{money(total.cost)}</strong> · {total.replies:,} replies · '
            f'{total.input_tokens:,} tokens in · {total.output_tokens:,} tokens out</p>')
    note = (f'<p class="usage-note">{total.unpriced:,} {"reply" if total.unpriced == 1 else "replies"} with no'
            ' known price: their tokens are counted, their cost is not.</p>' if total.unpriced else "")
    empty = '<p class="usage-note">No replies in this period.</p>' if total.replies == 0 else ""
    keys = [key for key, _, _ in usage.key_totals()][:COLOURS] if query.by else []
    return (head + _chart(usage, priced, keys) + _legend(usage, keys) + empty + note
            + _day_table(days) + _key_table(usage))


def _measure(figures: Figures, priced: bool) -> float:
    return figures.cost if priced else float(figures.tokens)


def _chart(usage: Usage, priced: bool, keys: list[str]) -> str:
    days = usage.day_totals()
    scale = max((_measure(f, priced) for f in days.values()), default=0.0)
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    step = plot_w / max(len(days), 1)
    bar_w = max(step * 0.8, 0.5)
    what = "cost" if priced else "tokens"
    parts = [f'<svg class="usage-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'aria-label="{escape(what)} by day">',
             f'<line class="axis" x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - 8}" y2="{TOP + plot_h}"/>',
             f'<text class="tick" x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end">{escape(_amount(scale, priced))}</text>',
             f'<text class="tick" x="{LEFT - 6}" y="{TOP + plot_h}" text-anchor="end">0</text>']
    stacks = _stacks(usage, keys)
    label_every = max(1, round(len(days) / 8))
    for n, (day, figures) in enumerate(days.items()):
        x = LEFT + n * step + (step - bar_w) / 2
        tip = escape(f"{' '.join(day_label(day).split())}: {money(figures.cost)} · {figures.replies:,} replies · "
                     f"{figures.input_tokens:,} in · {figures.output_tokens:,} out")
        y = float(TOP + plot_h)
        parts.append(f'<g class="day" data-day="{day.isoformat()}"><title>{tip}</title>')
        for colour, part in stacks.get(day, [("s0", figures)]):
            height = plot_h * _measure(part, priced) / scale if scale else 0.0
            if height <= 0:
                continue
            height = max(height, 1.0)  # a day with any use shows a sliver
            y -= height
            parts.append(f'<rect class="bar {colour}" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{height:.1f}"/>')
        parts.append("</g>")
        if n % label_every == 0:
            parts.append(f'<text class="tick" x="{x + bar_w / 2:.1f}" y="{HEIGHT - 6}" text-anchor="middle">'
                         f'{escape(day.strftime("%b %d").replace(" 0", " "))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _stacks(usage: Usage, keys: list[str]) -> dict[object, list[tuple[str, Figures]]]:
    """Each day's parts, one per drawn key (in the legend's order) and "other"."""
    if usage.query.by is None:
        return {}
    colour = {key: f"s{n}" for n, key in enumerate(keys)}
    order = [f"s{n}" for n in range(COLOURS + 1)]
    stacks: dict[object, list[tuple[str, Figures]]] = {}
    for day, rows in usage.by_day.items():
        parts: dict[str, list[Row]] = {}
        for row in rows:
            parts.setdefault(colour.get(row[1] or "?", f"s{COLOURS}"), []).append(row)
        stacks[day] = [(slot, figures_of(parts[slot])) for slot in order if slot in parts]
    return stacks


def _legend(usage: Usage, keys: list[str]) -> str:
    if not keys:
        return ""
    totals = usage.key_totals()
    items = [f'<li><span class="swatch s{n}"></span>{escape(_name(usage, key, title))}</li>'
             for n, (key, title, _) in enumerate(totals[:COLOURS])]
    if len(totals) > COLOURS:
        items.append(f'<li><span class="swatch s{COLOURS}"></span>{len(totals) - COLOURS:,} more</li>')
    return f'<ul class="usage-legend">{"".join(items)}</ul>'


def _name(usage: Usage, key: str, title: str | None) -> str:
    return f"#{key} {title or '(untitled)'}" if usage.query.by == "conversation" else key


def _amount(value: float, priced: bool) -> str:
    return money(value) if priced else f"{value:,.0f} tok"


def _cells(figures: Figures) -> str:
    cost = money(figures.cost) if figures.cost or not figures.unpriced else "–"
    mark = '<span class="unpriced" title="some replies have no known price">*</span>' if figures.unpriced else ""
    return (f'<td class="n">{figures.replies:,}</td><td class="n">{figures.input_tokens:,}</td>'
            f'<td class="n">{figures.output_tokens:,}</td><td class="n">{cost}{mark}</td>')


HEADER = '<th class="n">replies</th><th class="n">tokens in</th><th class="n">tokens out</th><th class="n">cost</th>'


def _day_table(days: dict[date, Figures]) -> str:
    rows = "".join(f'<tr><th scope="row">{escape(day_label(day))}</th>{_cells(f)}</tr>'
                   for day, f in reversed(list(days.items())))
    return (f'<table class="usage-table days"><thead><tr><th>day</th>{HEADER}</tr></thead>'
            f"<tbody>{rows}</tbody></table>")


def _key_table(usage: Usage) -> str:
    if usage.query.by is None:
        return ""
    totals = usage.key_totals()
    rows = "".join(f'<tr><th scope="row">{escape(_name(usage, key, title))}</th>{_cells(f)}</tr>'
                   for key, title, f in totals[:KEY_ROWS])
    if len(totals) > KEY_ROWS:
        rest = Figures.add_all(f for _, _, f in totals[KEY_ROWS:])
        rows += f'<tr class="more"><th scope="row">{len(totals) - KEY_ROWS:,} more</th>{_cells(rest)}</tr>'
    return (f'<table class="usage-table keys"><thead><tr><th>{escape(usage.query.by)}</th>{HEADER}</tr></thead>'
            f"<tbody>{rows}</tbody></table>")


def report(read: Callable[[Callable[[Store], Any]], Any], params: Mapping[str, str],
           prices: Callable[[], Prices] | None = None) -> dict[str, Any]:
    """GET /api/usage's answer: {"html": the view, "usage": the same figures as `chinwag usage --json`}.
    `params`: days=N or since=YYYY-MM-DD, by=model|provider|conversation, utc=1. UsageError when bad."""
    days, since, by = params.get("days"), params.get("since"), params.get("by") or None
    if days is not None and since is not None:
        raise UsageError("ask for days or since, not both")
    if days is not None and (not days.isdigit() or not 1 <= int(days) <= MAX_DAYS):
        raise UsageError(f"days is a whole number from 1 to {MAX_DAYS}")
    try:
        first = date.fromisoformat(since) if since is not None else None
    except ValueError:
        raise UsageError("since is a date as YYYY-MM-DD") from None
    if by is not None and by not in GROUPINGS:
        raise UsageError(f"by is one of {', '.join(GROUPINGS)}")
    query = make_query(int(days) if days else None, first, by, params.get("utc") == "1")
    usage: Usage = read(lambda store: read_usage(store, query, prices))
    return {"html": usage_html(usage), "usage": usage_json(usage)}
