"""What replies used and cost, read back from the history (m009_reply_costs).

A base of `Store` (store.py). Rows are replies (assistant messages that are
not still streaming), oldest first. Times are Unix seconds (UTC); where a day
starts is the reader's choice (`day_start`).
"""

from __future__ import annotations

from dataclasses import dataclass

from chinwag.history.connection import Connection

# One reply's usage, in the column order of UsageRow.
_USAGE_SELECT = (
    "SELECT created_at, id, conversation_id, model, provider, input_tokens, output_tokens,"
    " cache_read_tokens, cache_write_tokens, reasoning_tokens, cost, price_source"
    " FROM messages WHERE role = 'assistant' AND status != 'streaming'")


@dataclass(frozen=True)
class UsageRow:
    """One reply's tokens and cost as stored. `input_tokens` counts all input,
    cache reads and writes included; `reasoning_tokens` is part of
    `output_tokens`. `cost` is in US dollars, None where the price was unknown
    (or the reply was saved before costs were); `price_source` says where the
    price came from ("genai-prices 0.2.3", "config", "local")."""

    time: float  # when the reply began, Unix seconds
    message_id: int
    conversation_id: int
    model: str | None
    provider: str | None  # None: saved before m009 (see `provider_of`)
    input_tokens: int | None
    output_tokens: int | None
    cache_read_tokens: int | None
    cache_write_tokens: int | None
    reasoning_tokens: int | None
    cost: float | None
    price_source: str | None


@dataclass(frozen=True)
class UsageTotals:
    """Sums over some replies. `unpriced` counts replies with tokens but no cost."""

    replies: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost: float = 0.0
    unpriced: int = 0


def day_start(when: float, *, utc: bool = False) -> float:
    """The Unix time at which `when`'s day began: local midnight (default) or UTC midnight."""
    import datetime as dt  # not before the prompt is drawn

    moment = dt.datetime.fromtimestamp(when, dt.timezone.utc if utc else None)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def month_start(when: float, *, utc: bool = False) -> float:
    """The Unix time at which `when`'s calendar month began (local, or UTC)."""
    import datetime as dt

    moment = dt.datetime.fromtimestamp(when, dt.timezone.utc if utc else None)
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()


class Costs(Connection):
    """Reads of stored usage and cost."""

    def usage_rows(self, since: float | None = None, until: float | None = None,
                   conversation: int | None = None) -> list[UsageRow]:
        """Every reply with `since <= time < until` (either open), of one conversation or all, oldest first."""
        where, params = _filter(since, until, conversation)
        return [UsageRow(*row) for row in self._query(_USAGE_SELECT + where + " ORDER BY created_at, id", params)]

    def usage_totals(self, since: float | None = None, until: float | None = None,
                     conversation: int | None = None) -> UsageTotals:
        """The sums of `usage_rows(...)` in one query (the budget's and /stats's figures)."""
        sql = ("SELECT count(*), total(input_tokens), total(output_tokens), total(cache_read_tokens),"
               " total(cache_write_tokens), total(cost),"
               " count(*) FILTER (WHERE cost IS NULL AND coalesce(input_tokens, output_tokens) IS NOT NULL)"
               " FROM messages WHERE role = 'assistant' AND status != 'streaming'")
        where, params = _filter(since, until, conversation)
        sql += where
        n, tin, tout, cread, cwrite, cost, unpriced = self._query(sql, params)[0]
        return UsageTotals(n, int(tin), int(tout), int(cread), int(cwrite), float(cost), unpriced)


def _filter(since: float | None, until: float | None, conversation: int | None) -> tuple[str, list[object]]:
    """The SQL that narrows replies to `since <= time < until` (either open) and one conversation, with its values."""
    sql, params = "", list[object]()
    for clause, value in ((" AND created_at >= ?", since), (" AND created_at < ?", until),
                          (" AND conversation_id = ?", conversation)):
        if value is not None:
            sql += clause
            params.append(value)
    return sql, params
