"""Spend and tokens by day, read from the stored replies in one GROUP BY.

What `chinwag usage` and the page's Usage view show. Every figure is a sum
over the assistant rows of `messages` (each reply's tokens and cost, stored
at the end of its turn; m009). A reply whose price is unknown adds its
tokens and counts in `unpriced`, never a guessed cost.

The day boundary is the LOCAL day by default (midnight where the user is,
as `history list` shows local times), or UTC (`utc=True`). SQLite's
`'localtime'` and Python's `astimezone()` both ask the C library, so the
range's edges and the grouping agree, daylight-saving days included.

Aggregating in SQL keeps 100,000 replies well inside 300 ms
(bench/bench_usage.py); building a Python object per reply would not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from chinwag.history.store import Store

Grouping = Literal["model", "provider", "conversation"]
GROUPINGS: tuple[Grouping, ...] = ("model", "provider", "conversation")


@dataclass(frozen=True)
class UsageQuery:
    """Days `first` to `last`, both included, counted in local time or UTC."""

    first: date
    last: date
    by: Grouping | None = None
    utc: bool = False

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]

    def bounds(self) -> tuple[float, float]:
        """The range as epoch seconds: from the first day's midnight to the midnight after the last."""
        return self._midnight(self.first), self._midnight(self.last + timedelta(days=1))

    def _midnight(self, day: date) -> float:
        start = datetime.combine(day, time())
        return (start.replace(tzinfo=timezone.utc) if self.utc else start.astimezone()).timestamp()


@dataclass(frozen=True)
class Figures:
    replies: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0  # part of input_tokens
    cache_write_tokens: int = 0  # part of input_tokens
    cost: float = 0.0  # dollars, the replies whose price is known
    unpriced: int = 0  # replies with tokens but no known price

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens  # input counts its cache reads and writes

    def __add__(self, other: Figures) -> Figures:
        return Figures(*(a + b for a, b in zip(self._values(), other._values())))

    def _values(self) -> tuple[Any, ...]:
        return (self.replies, self.input_tokens, self.output_tokens, self.cache_read_tokens,
                self.cache_write_tokens, self.cost, self.unpriced)

    def as_json(self) -> dict[str, Any]:
        return {"replies": self.replies, "input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
                "cache_read_tokens": self.cache_read_tokens, "cache_write_tokens": self.cache_write_tokens,
                "cost": round(self.cost, 10), "unpriced": self.unpriced}


@dataclass(frozen=True)
class Bucket:
    day: date
    key: str | None  # the model, provider or conversation; None when not grouped
    figures: Figures
    title: str | None = None  # a conversation's title, for --by conversation


@dataclass(frozen=True)
class Usage:
    query: UsageQuery
    buckets: list[Bucket] = field(default_factory=list)  # by day, then by cost (largest first)

    def day_totals(self) -> dict[date, Figures]:
        """Every day of the range, those without replies as zeros."""
        totals = {day: Figures() for day in self.query.days}
        for bucket in self.buckets:
            totals[bucket.day] = totals[bucket.day] + bucket.figures
        return totals

    def key_totals(self) -> list[tuple[str, str | None, Figures]]:
        """Per model, provider or conversation over the range, largest spend (then tokens) first."""
        totals: dict[str, Figures] = {}
        titles: dict[str, str | None] = {}
        for bucket in self.buckets:
            key = bucket.key or "?"
            totals[key] = totals.get(key, Figures()) + bucket.figures
            titles[key] = bucket.title
        ordered = sorted(totals.items(), key=lambda item: (-item[1].cost, -item[1].tokens, item[0]))
        return [(key, titles[key], figures) for key, figures in ordered]

    def total(self) -> Figures:
        return sum((b.figures for b in self.buckets), Figures())


# The columns m009 adds (see COSTS-API.md), read here only.
_KEYS: dict[Grouping, str] = {
    "model": "coalesce(m.model, '?')",
    "provider": "coalesce(m.provider, '?')",
    "conversation": "m.conversation_id",
}
_SUMS = ("count(*), total(m.input_tokens), total(m.output_tokens), total(m.cache_read_tokens),"
         " total(m.cache_write_tokens), total(m.cost),"
         " sum(m.cost IS NULL AND coalesce(m.input_tokens, m.output_tokens) IS NOT NULL)")


def read_usage(store: Store, query: UsageQuery) -> Usage:
    """The buckets of `query` from `store`, one query whatever the number of replies."""
    start, end = query.bounds()
    day = "date(m.created_at, 'unixepoch')" if query.utc else "date(m.created_at, 'unixepoch', 'localtime')"
    key = _KEYS[query.by] if query.by else "NULL"
    title = "(SELECT c.title FROM conversations c WHERE c.id = m.conversation_id)" \
        if query.by == "conversation" else "NULL"
    # Rows with neither tokens nor cost (a reply cut off before its usage came) count for nothing.
    sql = (f"SELECT {day} AS day, {key} AS key, {title}, {_SUMS} FROM messages m"
           " WHERE m.role = 'assistant' AND m.status != 'streaming' AND m.created_at >= ? AND m.created_at < ?"
           " AND (m.input_tokens IS NOT NULL OR m.output_tokens IS NOT NULL OR m.cost IS NOT NULL)"
           " GROUP BY day, key ORDER BY day, total(m.cost) DESC, key")
    rows: Sequence[Any] = store._query(sql, (start, end))  # the history package's own reader
    buckets = [Bucket(date.fromisoformat(d), None if k is None else str(k),
                      Figures(n, int(i), int(o), int(cr), int(cw), float(c), int(u or 0)), t)
               for d, k, t, n, i, o, cr, cw, c, u in rows]
    return Usage(query, buckets)
