"""The days a usage report covers, and the report as JSON: shared by `chinwag usage` and the page.

Days end today, counted in local time unless `utc` (history/usage.py says
where a day starts and why). A bad range is a UsageError: one line, exit 2
for the command, 400 for the page.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from chinwag.errors import UsageError
from chinwag.history.usage import Figures, Usage, UsageQuery

if TYPE_CHECKING:
    from chinwag.prices import Prices

DEFAULT_DAYS = 30
MAX_DAYS = 36_600  # a century: beyond that a date is a typo
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def make_query(days: int | None, since: date | None, by: Any, utc: bool, now: float | None = None) -> UsageQuery:
    """The days asked for, ending today (in local time, or UTC)."""
    moment = datetime.now(timezone.utc) if now is None else datetime.fromtimestamp(now, timezone.utc)
    today = (moment if utc else moment.astimezone()).date()
    if since is not None:
        if since > today:
            raise UsageError(f"--since {since.isoformat()} is after today ({today.isoformat()})")
        if (today - since).days >= MAX_DAYS:
            raise UsageError(f"--since {since.isoformat()} is more than {MAX_DAYS} days ago")
        return UsageQuery(since, today, by, utc)
    return UsageQuery(today - timedelta(days=(days or DEFAULT_DAYS) - 1), today, by, utc)


def usage_json(usage: Usage) -> dict[str, Any]:
    """Every day of the range (zeros included); with --by, each day's split and the range's per key."""
    query = usage.query
    split: dict[date, list[dict[str, Any]]] = {}
    for bucket in usage.buckets:
        if query.by is not None:
            split.setdefault(bucket.day, []).append(_keyed(query.by, bucket.key, bucket.title, bucket.figures))
    days = []
    for day, figures in usage.day_totals().items():
        row = {"day": day.isoformat(), **figures.as_json()}
        if query.by is not None:
            row["by"] = split.get(day, [])
        days.append(row)
    document: dict[str, Any] = {"first": query.first.isoformat(), "last": query.last.isoformat(),
                                "timezone": "UTC" if query.utc else "local", "by": query.by, "days": days,
                                "total": usage.total().as_json()}
    if query.by is not None:
        document["totals"] = [_keyed(query.by, key, title, figures) for key, title, figures in usage.key_totals()]
    return document


def _keyed(by: str, key: str | None, title: str | None, figures: Figures) -> dict[str, Any]:
    value: Any = int(key) if by == "conversation" and key is not None and key.isdigit() else key
    row: dict[str, Any] = {by: value}
    if by == "conversation":
        row["title"] = title
    return {**row, **figures.as_json()}


def day_label(day: date) -> str:
    """'Mon Nov  3': short, and the weekday tells weekends apart."""
    return f"{day:%a} {MONTHS[day.month - 1]} {day.day:2d}"


def money(cost: float) -> str:
    """Dollars: four decimals under $1 (a reply costs fractions of a cent), else cents."""
    if cost == 0:
        return "$0"
    return f"${cost:.4f}" if cost < 1 else f"${cost:,.2f}"


def configured_prices(environ: Mapping[str, str]) -> Prices:
    """The prices a chat would use ([prices."MODEL"] in config.toml over genai-prices), for
    replies saved before costs were stored. Read only when there are such replies."""
    from chinwag.budget import cost_settings
    from chinwag.config import _read_config  # config.toml read and checked as a chat reads it
    from chinwag.paths import config_file
    from chinwag.prices import Prices

    config, _ = _read_config(config_file(environ))
    return Prices(cost_settings(config, {}).prices)
