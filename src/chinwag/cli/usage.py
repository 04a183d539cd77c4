"""`chinwag usage`: spend and tokens by day, as a bar chart, a plain table or JSON.

cli/__init__.py calls `main(argv, environ, out)` with the arguments after "usage".
Days are local days (midnight where the user is) unless `--utc`; every day
of the range is a row, those without replies as zeros, so an empty history
is an empty chart, not an error. On a terminal each row ends in a bar (the
day's cost, or its tokens when nothing in the range has a price); piped, the
same table without bars or colour. `--json` is one JSON document.
A missing database is never created here: there is nothing to count yet.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from datetime import date
from typing import TextIO

from chinwag.cli.parser import OneLineErrorParser, ParserExit
from chinwag.history.usage import GROUPINGS, Usage, UsageQuery, read_usage
from chinwag.spend import DEFAULT_DAYS, MAX_DAYS, configured_prices, make_query, usage_json


def _days(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_DAYS:
        raise argparse.ArgumentTypeError(f"a whole number of days from 1 to {MAX_DAYS}, not {text!r}")
    return int(text)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a date as YYYY-MM-DD, not {text!r}") from None


def build_parser(out: TextIO) -> OneLineErrorParser:
    p = OneLineErrorParser(prog="chinwag usage", out=out, description="Spend and tokens by day, from the saved"
                           " replies (the last 30 days unless told).")
    span = p.add_mutually_exclusive_group()
    span.add_argument("--days", type=_days, metavar="N", help=f"the last N days, today included (default {DEFAULT_DAYS})")
    span.add_argument("--since", type=_date, metavar="DATE", help="from DATE (YYYY-MM-DD) to today")
    p.add_argument("--by", choices=GROUPINGS, help="split each day by model, provider or conversation")
    p.add_argument("--utc", action="store_true", help="days from midnight UTC (default: midnight local time)")
    p.add_argument("--json", action="store_true", help="one JSON document: every day, its figures, the totals")
    return p


def main(argv: Sequence[str], environ: Mapping[str, str], out: TextIO, *, now: float | None = None) -> int:
    """Print the usage asked for; 0, or 2 for bad usage (raised as UsageError, which the caller prints)."""
    try:
        args = build_parser(out).parse_args(list(argv))
    except ParserExit as stop:
        return stop.code
    query = make_query(args.days, args.since, args.by, args.utc, now)
    usage = load(environ, query)
    if args.json:
        out.write(json.dumps(usage_json(usage)) + "\n")
    else:
        from chinwag.cli.usage_chart import Style, chart

        out.write(chart(usage, Style.for_output(out, environ)))
    return 0


def load(environ: Mapping[str, str], query: UsageQuery) -> Usage:
    """The usage from the history database; none (an empty chart) when there is no database yet."""
    from contextlib import closing

    from chinwag.history.check import READ_ONLY, StorageError
    from chinwag.history.store import Store
    from chinwag.paths import database_file

    path = database_file(environ)
    if not path.exists():
        return Usage(query)
    try:
        opened = Store.open(path)
    except StorageError as exc:
        if exc.reason != READ_ONLY:
            raise
        opened = Store.open(path, read_only=True)
    with closing(opened) as store:
        return read_usage(store, query, lambda: configured_prices(environ))
