"""Budgets that act before money is spent.

Before every request (each tool round's too), `Budgets.check` estimates the
request's worst case: its input tokens (CHARS_PER_TOKEN characters a token,
which over-counts for English and code) at the dearest input rate, plus
`max_tokens` of output. If what was spent plus that would pass a budget, the
request is refused (`BudgetExceeded`): nothing is sent. Spending is counted
from the history (per conversation, per local day, per local month) plus
this run's replies not yet saved; `--budget X` is a budget for this run alone.
At 80 % of a budget one warning is given, once per budget. A model whose
price is unknown cannot be budgeted: one notice, or a refusal where
`budget_unknown = "refuse"`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, assert_never

from chinwag.config import CostSettings
from chinwag.errors import BudgetExceeded, UsageError
from chinwag.prices import Price

if TYPE_CHECKING:
    from chinwag.records import ChatRequest

CHARS_PER_TOKEN = 2  # conservative: real tokenizers average 3-4 characters a token
WARN_AT = 0.8


def cost_settings(config: Mapping[str, Any], flags: Mapping[str, Any]) -> CostSettings:
    """From config.toml (checked by config_schema.py) and --budget (checked here: exit 2)."""
    prices = {str(model): Price(_rate(p["input"]), _rate(p["output"]),
                                _rate(p["cache_read"]) if "cache_read" in p else None,
                                _rate(p["cache_write"]) if "cache_write" in p else None)
              for model, p in (config.get("prices") or {}).items()}
    run = flags.get("budget")
    if run is not None:
        run = _budget_flag(run)
    return CostSettings(prices, config.get("budget_per_conversation"), config.get("budget_per_day"),
                        config.get("budget_per_month"), run, config.get("budget_unknown") == "refuse")


def _rate(value: float) -> tuple[float, tuple[()]]:
    return (float(value), ())


def _budget_flag(value: object) -> float:
    import math

    try:
        number = float(str(value).strip().removeprefix("$"))
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number < 0:
        raise UsageError(f"--budget must be a number of dollars of at least 0, got {value!r}.")
    return number


# (day start, month start) -> dollars the history holds: (this conversation, since the day, since the month)
History = Callable[[float, float], tuple[float, float, float]]


class Budgets:
    """The budgets of one session. The history's totals are read at the first
    check of each day; the replies of this run are added as they end (`add`)."""

    def __init__(self, settings: CostSettings, history: History | None) -> None:
        self.settings = settings
        self._history = history  # None: no saved history (--no-save)
        self._day = -1.0  # the day the history was read for
        self._conversation = self._today = self._month = 0.0
        self._run = 0.0  # this run's spending (--budget)
        self._warned: set[str] = set()
        self._told_unknown = False

    def add(self, cost: float | None) -> None:
        """A reply of this run ended, costing `cost` (None: unknown)."""
        if cost:
            self._run += cost
            self._conversation += cost
            self._today += cost
            self._month += cost

    def new_conversation(self) -> None:
        self._conversation = 0.0

    def check(self, price: Price | None, input_chars: int, max_tokens: int, model: str) -> list[str]:
        """Raise BudgetExceeded if the request could pass a budget; else the lines to show (warnings)."""
        if not self.settings.any:
            return []
        if price is None:
            if self.settings.refuse_unknown:
                raise BudgetExceeded(f"{model} has no known price, and budget_unknown = \"refuse\": "
                                     "not sent (set its price in [prices] in config.toml).")
            if self._told_unknown:
                return []
            self._told_unknown = True
            return [f"the budget cannot see {model}'s cost: its price is unknown (budget_unknown = \"refuse\" stops it)"]
        worst = price.worst_case(-(-input_chars // CHARS_PER_TOKEN), max_tokens)
        lines = []
        for name, limit, spent in self._spending():
            if spent + worst > limit:
                raise BudgetExceeded(f"{name} budget ${limit:g}: ${spent:.4f} spent, and this request could cost "
                                     f"up to ${worst:.4f}: not sent.")
            if spent >= WARN_AT * limit and name not in self._warned:
                self._warned.add(name)
                lines.append(f"{name} budget: ${spent:.4f} of ${limit:g} spent ({spent / limit:.0%})")
        return lines

    def _spending(self) -> list[tuple[str, float, float]]:
        self._read()
        s = self.settings
        rows = [("this run's", s.per_run, self._run), ("the conversation's", s.per_conversation, self._conversation),
                ("today's", s.per_day, self._today), ("this month's", s.per_month, self._month)]
        return [(name, limit, spent) for name, limit, spent in rows if limit is not None]

    def _read(self) -> None:
        """The history's totals, read at the first check and again when the (local) day changes."""
        now = time.time()
        if now < self._day + 86_400 and now >= self._day:
            return  # (a day of 23 or 25 hours is read again an hour early or late: conservative enough)
        from chinwag.history.costs import day_start, month_start

        day, month = day_start(now), month_start(now)
        if self._day < 0 and self._history is not None:
            try:
                self._conversation, self._today, self._month = self._history(day, month)
            except Exception:  # noqa: BLE001  a history that cannot be read: this run's spending only
                pass
        elif self._history is not None:
            try:
                _, self._today, self._month = self._history(day, month)
            except Exception:  # noqa: BLE001
                self._today = 0.0
        self._day = day


IMAGE_CHARS = 8_000  # an image as characters: 4,000 tokens, past what any provider charges for one
MESSAGE_CHARS = 16  # each message's framing (role, separators)


def request_chars(request: ChatRequest) -> int:
    """The characters a request sends (its system prompt, messages, tools), an
    upper bound for counting its tokens at CHARS_PER_TOKEN: a document counts
    its bytes, an image IMAGE_CHARS."""
    from chinwag.records import Document, Image, Text, Thinking, ToolCall, ToolResult

    total = len(request.system or "")
    for tool in request.tools:
        total += len(tool.name) + len(tool.description) + len(str(tool.input_schema))
    for message in request.messages:
        total += MESSAGE_CHARS
        if not message.blocks:
            total += len(message.content)
            continue
        for block in message.blocks:
            match block:
                case Text():
                    total += len(block.text)
                case Thinking():
                    total += len(block.text) + len(block.signature) + len(block.redacted)
                case ToolCall():
                    total += len(block.id) + len(block.name) + len(str(block.input))
                case ToolResult():
                    total += len(block.call_id) + len(block.content)
                case Image():
                    total += IMAGE_CHARS
                case Document():
                    total += len(block.data)
                case _:
                    assert_never(block)
    return total
