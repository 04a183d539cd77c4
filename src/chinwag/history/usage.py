"""Spend and tokens by day, read from the stored replies in one GROUP BY.

What `chinwag usage` and the page's Usage view show. Every figure is a sum
over the assistant rows of `messages` (each reply's tokens and cost, stored
at the end of its turn; m009). A reply whose price is unknown adds its
tokens and counts in `unpriced`, never a guessed cost. A reply saved before
costs were stored (no provider, no cost) is priced at its model's price now
where that is known (chinwag.prices; genai-prices is imported only then).

The day boundary is the LOCAL day by default (midnight where the user is,
as `history list` shows local times), or UTC (`utc=True`). Each day's edges
come from Python's `astimezone()`; over a range longer than `DAY_BY_DAY`
days, replies are grouped by SQLite's `date(..., 'localtime')`. Both ask the
C library, so the two agree, daylight-saving days included.

Aggregating in SQL keeps the chart over 100,000 replies within 300 ms
(bench/bench_usage.py); building a Python object per reply would not. The
buckets (a day and a key) stay rows, summed column by column: `--by
conversation` can make tens of thousands of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from chinwag.history.store import Store
    from chinwag.prices import Prices

Grouping = Literal["model", "provider", "conversation"]
GROUPINGS: tuple[Grouping, ...] = ("model", "provider", "conversation")
# Up to this many days, one query a day; beyond, one query grouping by SQLite's date().
DAY_BY_DAY = 400


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

    def day_bounds(self, day: date) -> tuple[float, float]:
        """One day as epoch seconds (23 or 25 hours long where the clocks change)."""
        return self._midnight(day), self._midnight(day + timedelta(days=1))

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

    def _values(self) -> tuple[Any, ...]:
        return (self.replies, self.input_tokens, self.output_tokens, self.cache_read_tokens,
                self.cache_write_tokens, self.cost, self.unpriced)

    @classmethod
    def add_all(cls, many: Iterable[Figures]) -> Figures:
        """The sum, field by field (one pass: tens of thousands of buckets stay cheap)."""
        columns = list(zip(*(f._values() for f in many)))
        return cls(*map(sum, columns)) if columns else cls()

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


# One bucket as read: day (ISO), key, then the figures in Figures' order.
Row = tuple[Any, ...]


def figures_of(rows: Iterable[Row]) -> Figures:
    """The sum of some rows' figures, column by column (tens of thousands of rows stay cheap)."""
    columns = list(zip(*rows))[2:]  # whole rows transposed, then the day and key dropped: no slice per row
    return Figures(*map(sum, columns)) if columns else Figures()


@dataclass(frozen=True)
class Usage:
    query: UsageQuery
    rows: list[Row] = field(default_factory=list)  # by day, then by cost (largest first)
    titles: dict[str, str | None] = field(default_factory=dict)  # conversations' titles, for by="conversation"

    @cached_property
    def by_day(self) -> dict[date, list[Row]]:
        """Every day of the range (those without replies: no rows) and its rows, largest first."""
        per_day: dict[Any, list[Row]] = {day.isoformat(): [] for day in self.query.days}
        for row in self.rows:
            per_day[row[0]].append(row)
        return {date.fromisoformat(day): rows for day, rows in per_day.items()}

    @cached_property
    def buckets(self) -> list[Bucket]:
        return [Bucket(date.fromisoformat(row[0]), row[1], Figures(*row[2:]), self.titles.get(row[1] or ""))
                for row in self.rows]

    @cached_property
    def _day_totals(self) -> dict[date, Figures]:
        return {day: figures_of(rows) for day, rows in self.by_day.items()}

    def day_totals(self) -> dict[date, Figures]:
        """Every day of the range, those without replies as zeros."""
        return dict(self._day_totals)

    def key_totals(self) -> list[tuple[str, str | None, Figures]]:
        """Per model, provider or conversation over the range, largest spend (then tokens) first."""
        per_key: dict[str, list[Row]] = {}
        for row in self.rows:
            per_key.setdefault(row[1] or "?", []).append(row)
        totals = {key: figures_of(rows) for key, rows in per_key.items()}
        ordered = sorted(totals.items(), key=lambda item: (-item[1].cost, -item[1].tokens, item[0]))
        return [(key, self.titles.get(key), figures) for key, figures in ordered]

    def total(self) -> Figures:
        return Figures.add_all(self._day_totals.values())


# The columns m009 adds (see COSTS-API.md), read here only.
_KEYS: dict[Grouping, str] = {
    "model": "coalesce(m.model, '?')",
    "provider": "coalesce(m.provider, '?')",
    "conversation": "CAST(m.conversation_id AS TEXT)",
}
_UNPRICED = "m.cost IS NULL AND coalesce(m.input_tokens, m.output_tokens) IS NOT NULL"
# Saved before m009 (no provider, no cost): priced now, where the model's price is known.
_EARLIER = f"m.provider IS NULL AND {_UNPRICED}"
# Sums as the rows keep them (integers, and the cost a float), so no row is converted in Python.
_SUMS = ("count(*), coalesce(sum(m.input_tokens), 0), coalesce(sum(m.output_tokens), 0),"
         " coalesce(sum(m.cache_read_tokens), 0), coalesce(sum(m.cache_write_tokens), 0), total(m.cost),"
         f" coalesce(sum({_UNPRICED}), 0), coalesce(sum({_EARLIER}), 0)")
_LARGEST_FIRST = "total(m.cost) DESC, key"


def read_usage(store: Store, query: UsageQuery, prices: Callable[[], Prices] | None = None) -> Usage:
    """The buckets of `query` from `store`; replies saved before costs were stored
    are priced with `prices()` (their own query, only when there are some)."""
    start, end = query.bounds()
    day = "date(m.created_at, 'unixepoch')" if query.utc else "date(m.created_at, 'unixepoch', 'localtime')"
    key = _KEYS[query.by] if query.by else "NULL"
    # Rows with neither tokens nor cost (a reply cut off before its usage came) count for nothing.
    where = ("FROM messages m WHERE m.role = 'assistant' AND m.status != 'streaming'"
             " AND m.created_at >= ? AND m.created_at < ?"
             " AND (m.input_tokens IS NOT NULL OR m.output_tokens IS NOT NULL OR m.cost IS NOT NULL)")
    rows: list[Any] = []
    if len(query.days) <= DAY_BY_DAY:
        # One query per day over the time index: no date() per reply and no sort of
        # every reply into days (about three times faster over 100,000 replies).
        for first in query.days:
            since, until = query.day_bounds(first)
            rows += store._query(  # the history package's own reader
                f"SELECT ? AS day, {key} AS key, {_SUMS} {where} GROUP BY key ORDER BY {_LARGEST_FIRST}",
                (first.isoformat(), since, until))
    else:
        rows = store._query(f"SELECT {day} AS day, {key} AS key, {_SUMS} {where} GROUP BY day, key"
                            f" ORDER BY day, {_LARGEST_FIRST}", (start, end))
    ordered = [row[:-1] for row in rows]  # without the count of replies saved before costs
    if any(row[-1] for row in rows):
        from chinwag.prices import Prices

        found = {(row[0], row[1]): list(row) for row in ordered}
        earlier = store._query(f"SELECT {day}, {key}, m.model, m.input_tokens, m.output_tokens,"
                               f" m.cache_read_tokens, m.cache_write_tokens {where} AND {_EARLIER}", (start, end))
        _price_earlier(found, earlier, prices() if prices else Prices())
        ordered = sorted((tuple(row) for row in found.values()), key=lambda r: (r[0], -r[7], r[1] or ""))
    titles = _titles(store, {row[1] for row in ordered}) if query.by == "conversation" else {}
    return Usage(query, ordered, titles)


def _titles(store: Store, ids: set[Any]) -> dict[str, str | None]:
    """The conversations' titles (by id as text, as the rows' keys are), read once each."""
    found: dict[str, str | None] = {}
    ordered = sorted(ids)
    for at in range(0, len(ordered), 500):  # SQLite's limit on parameters
        chunk = ordered[at:at + 500]
        marks = ",".join("?" * len(chunk))
        found.update(store._query(f"SELECT CAST(id AS TEXT), title FROM conversations WHERE id IN ({marks})",
                                  [int(cid) for cid in chunk]))
    return found


def _price_earlier(found: dict[tuple[Any, Any], list[Any]], rows: Sequence[Any], prices: Prices) -> None:
    """Each reply saved before m009 priced at its model's price today, one by one (a tiered
    price depends on each request's size); a model without a known price stays unpriced."""
    from chinwag.providers.registry import parse_model_spec

    providers: dict[str, str | None] = {}
    for d, k, model, tin, tout, cread, cwrite in rows:
        if not model:
            continue
        if model not in providers:
            providers[model] = parse_model_spec(model)[0] or None
        price = prices.price(model, providers[model])
        if price is None:
            continue
        row = found[(d, k)]
        row[7] += price.cost(tin or 0, tout or 0, cread or 0, cwrite or 0)
        row[8] -= 1


@dataclass(frozen=True)
class ConversationCost:
    """What a conversation's replies cost, every branch: each reply's cost (None: unknown)
    by message id, their sum, and how many replies had no known price."""

    replies: dict[int, float | None]
    total: float
    unpriced: int


def conversation_cost(store: Store, cid: int, prices: Callable[[], Prices] | None = None) -> ConversationCost:
    """Each reply of `cid` with its stored cost, or, saved before costs were, its cost at today's price."""
    costs: dict[int, float | None] = {}
    total, unpriced = 0.0, 0
    known: Prices | None = None
    for row in store.usage_rows(conversation=cid):
        cost = row.cost
        if cost is None and row.provider is None and row.model and (row.input_tokens or row.output_tokens):
            from chinwag.prices import Prices
            from chinwag.providers.registry import parse_model_spec

            known = known or (prices() if prices else Prices())
            price = known.price(row.model, parse_model_spec(row.model)[0] or None)
            if price is not None:
                cost = price.cost(row.input_tokens or 0, row.output_tokens or 0, row.cache_read_tokens or 0,
                                  row.cache_write_tokens or 0)
        costs[row.message_id] = cost
        if cost is not None:
            total += cost
        elif row.input_tokens is not None or row.output_tokens is not None:
            unpriced += 1
    return ConversationCost(costs, total, unpriced)
