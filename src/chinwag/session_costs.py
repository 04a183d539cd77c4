"""A session's costs: the prices it uses, what its replies cost, and the
budgets checked before each request (prices.py, budget.py). A base of
`Session` (session.py), which holds the state these read."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from chinwag.budget import Budgets
    from chinwag.config import Settings
    from chinwag.history.costs import UsageTotals
    from chinwag.history.recorder import Recorder
    from chinwag.prices import Prices
    from chinwag.records import ChatRequest, Reply


class SessionCosts:
    settings: Settings
    recorder: Recorder | None
    prices_cache: Path | None
    run_totals: UsageTotals | None
    _prices: Prices | None
    _budgets: Budgets | None

    @property
    def model(self) -> str:
        raise NotImplementedError

    def notice(self, text: str) -> None:
        raise NotImplementedError

    @property
    def prices(self) -> Prices:
        if self._prices is None:
            from chinwag.prices import Prices

            self._prices = Prices(self.settings.costs.prices, self.prices_cache)
        return self._prices

    @property
    def budgets(self) -> Budgets:
        if self._budgets is None:
            from chinwag.budget import Budgets

            recorder = self.recorder
            self._budgets = Budgets(self.settings.costs, recorder.spent if recorder is not None else None)
        return self._budgets

    def warm_prices(self) -> None:
        """Look the model's price up on a thread (after the prompt is drawn; genai-prices is slow to import)."""
        self.prices.warm(self.model, self.settings.provider)

    def priced(self, reply: Reply) -> Reply:
        """`reply` with its provider, cost and the price's source (cost None: unknown price or no usage)."""
        from chinwag.prices import reply_cost

        return reply_cost(reply, self.prices.price(self.model, self.settings.provider), self.settings.provider)

    def count_reply(self, reply: Reply) -> None:
        """A reply that reported its tokens joined the conversation: its cost counts."""
        from chinwag.history.costs import UsageTotals

        t, usage = self.run_totals or UsageTotals(), reply.usage
        self.run_totals = UsageTotals(
            t.replies + 1, t.input_tokens + (reply.input_tokens or 0), t.output_tokens + (reply.output_tokens or 0),
            t.cache_read_tokens + (usage.cache_read_tokens or 0), t.cache_write_tokens + (usage.cache_write_tokens or 0),
            t.cost + (usage.cost or 0.0), t.unpriced + (usage.cost is None))
        self.budgets.add(usage.cost)

    def check_budget(self, request: ChatRequest) -> None:
        """Before a request is sent: BudgetExceeded if its worst case could pass a
        budget (nothing is sent); a warning at 80 % of one, once."""
        if not self.settings.costs.any:
            return
        from chinwag.budget import request_chars

        price = self.prices.price(self.model, self.settings.provider)
        for line in self.budgets.check(price, request_chars(request), request.max_tokens, self.model):
            self.notice(line)
