"""What a model's tokens cost: prices, and a reply's cost from its usage.

A price comes from the config (`[prices."MODEL"]`, dollars per million
tokens; source "config"), is free for the bundled model and any `local:`
GGUF (source "local"), or comes from `genai-prices`, pydantic's price data
shipped with the package (source "genai-prices X.Y.Z"). A model none of
those knows has no price (None): never a guess.

genai-prices takes ~120 ms to import and ~20 ms for its first lookup, so it is
never imported before the prompt is drawn: `warm()` looks the price up on a
thread while the user types (or while a one-shot reply streams), and each
model's price is looked up once and kept, in memory and in `prices.json` in
the data directory (a day at most, and only for the genai-prices installed:
its data file's size and time are the key), so a one-shot run does not wait
for the import at its end. The cost itself is plain float arithmetic
(bench/bench_costs.py).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chinwag.records import Reply

LOCAL_PROVIDERS = frozenset({"local"})
CONFIG_SOURCE, LOCAL_SOURCE = "config", "local"

# (rate, ((start, rate), ...)): $ per million tokens, and the cliff tiers by total input tokens
Rate = tuple[float, tuple[tuple[int, float], ...]]


def _flat(rate: float) -> Rate:
    return (rate, ())


def _at(rate: Rate, total_input: int) -> float:
    """The rate for a request of `total_input` tokens (the highest tier it passes applies to all)."""
    base, tiers = rate
    for start, tiered in reversed(tiers):
        if total_input > start:
            return tiered
    return base


@dataclass(frozen=True)
class Price:
    """A model's prices in dollars per million tokens. Cache reads and writes
    default to the input price where the source gives none."""

    input: Rate
    output: Rate
    cache_read: Rate | None = None
    cache_write: Rate | None = None
    source: str = CONFIG_SOURCE

    @classmethod
    def flat(cls, input: float, output: float, source: str = CONFIG_SOURCE) -> Price:
        return cls(_flat(input), _flat(output), source=source)

    def cost(self, input_tokens: int, output_tokens: int, cache_read: int = 0, cache_write: int = 0) -> float:
        """Dollars for a reply; `input_tokens` counts all input, cache reads and writes included."""
        plain = max(input_tokens - cache_read - cache_write, 0)
        read = self.cache_read if self.cache_read is not None else self.input
        write = self.cache_write if self.cache_write is not None else self.input
        return (plain * _at(self.input, input_tokens) + cache_read * _at(read, input_tokens)
                + cache_write * _at(write, input_tokens) + output_tokens * _at(self.output, input_tokens)) / 1e6

    def worst_case(self, input_tokens: int, max_tokens: int) -> float:
        """The most a request of about `input_tokens` (a generous estimate) could
        cost: every input token at the dearer of input and cache write (no cache
        discount) and `max_tokens` of output, at the tier that input reaches."""
        top_in = max(_at(self.input, input_tokens),
                     _at(self.cache_write, input_tokens) if self.cache_write else 0.0)
        return (input_tokens * top_in + max_tokens * _at(self.output, input_tokens)) / 1e6


FREE = Price(_flat(0.0), _flat(0.0), source=LOCAL_SOURCE)


class Prices:
    """The prices a chat uses: the config's overrides, then local models, then genai-prices.
    Thread-safe; each (model, provider) is looked up once."""

    def __init__(self, overrides: Mapping[str, Price] | None = None, cache: Path | None = None) -> None:
        self.overrides = dict(overrides or {})
        self.cache = cache  # prices.json: genai-prices' answers kept between runs (None: not kept)
        self._known: dict[tuple[str, str | None], Price | None] = {}
        self._lock = threading.Lock()

    def price(self, model: str, provider: str | None) -> Price | None:
        """The price of `model` served by `provider` (a chinwag provider name), or None: unknown."""
        key = (model, provider)
        if key in self._known:
            return self._known[key]
        with self._lock:
            if key not in self._known:
                self._known[key] = self._look_up(model, provider)
            return self._known[key]

    def warm(self, model: str, provider: str | None) -> None:
        """Look the price up on a thread (genai-prices' import is slow), so the
        first request's budget check and the first reply's cost find it ready."""
        if (model, provider) not in self._known:
            threading.Thread(target=self.price, args=(model, provider), daemon=True,
                             name="chinwag-prices").start()

    def _look_up(self, model: str, provider: str | None) -> Price | None:
        if model in self.overrides:
            return self.overrides[model]
        if provider in LOCAL_PROVIDERS:
            return FREE
        key = f"{provider or ''}:{model}"
        stamp = _genai_stamp()
        kept = _read_cache(self.cache, stamp) if self.cache is not None else {}
        if key in kept:
            try:
                return _price_of(kept[key])
            except (KeyError, TypeError, ValueError, IndexError):
                pass  # not ours, or damaged: looked up again
        price = genai_price(model, provider)
        if self.cache is not None and stamp is not None:
            _write_cache(self.cache, stamp, {**kept, key: _json_of(price)})
        return price


CACHE_SECONDS = 86_400  # prices change with time too (genai-prices holds dated prices): a day at most


def _genai_stamp() -> str | None:
    """Which genai-prices data is installed, without importing it: its data file's size and time."""
    import importlib.util
    import os

    spec = importlib.util.find_spec("genai_prices")
    if spec is None or spec.origin is None:
        return None
    try:
        info = os.stat(os.path.join(os.path.dirname(spec.origin), "data.py"))
    except OSError:
        return None
    return f"{info.st_size}:{info.st_mtime_ns}"


def _read_cache(path: Path, stamp: str | None) -> dict[str, Any]:
    import json
    import time

    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
        fresh = kept["stamp"] == stamp and 0 <= time.time() - kept["at"] < CACHE_SECONDS
        return dict(kept["prices"]) if fresh else {}
    except (OSError, ValueError, KeyError, TypeError):
        return {}  # none yet, or not ours: looked up again and written afresh


def _write_cache(path: Path, stamp: str, prices: dict[str, Any]) -> None:
    import json
    import os
    import time

    if not path.parent.is_dir():
        return  # no data directory (yet): nothing is made for a price
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        temporary.write_text(json.dumps({"stamp": stamp, "at": time.time(), "prices": prices}), encoding="utf-8")
        os.replace(temporary, path)
    except OSError:  # a full or read-only disk: looked up again next time
        try:
            temporary.unlink(missing_ok=True)
        except OSError:  # a read-only mount refuses even that (EROFS)
            pass


def _json_of(price: Price | None) -> Any:
    if price is None:
        return None
    return {"input": price.input, "output": price.output, "cache_read": price.cache_read,
            "cache_write": price.cache_write, "source": price.source}


def _price_of(data: Any) -> Price | None:
    """A kept price (None: genai-prices does not know the model); raises on anything else."""
    if data is None:
        return None

    def rate(value: Any) -> Rate | None:
        return None if value is None else (float(value[0]), tuple((int(a), float(b)) for a, b in value[1]))

    input_rate, output_rate = rate(data["input"]), rate(data["output"])
    if input_rate is None or output_rate is None:
        raise ValueError("a kept price needs input and output")
    return Price(input_rate, output_rate, rate(data["cache_read"]), rate(data["cache_write"]), str(data["source"]))


# chinwag's providers by the names genai-prices gives them
_GENAI_PROVIDERS = {"anthropic": "anthropic", "openai": "openai"}


def genai_price(model: str, provider: str | None) -> Price | None:
    """The model's current price from genai-prices, or None where it does not know the model."""
    import datetime as dt

    import genai_prices
    from genai_prices import data_snapshot, types

    snapshot = data_snapshot.get_snapshot()
    try:
        _, info = snapshot.find_provider_model(model, None, _GENAI_PROVIDERS.get(provider or ""), None)
    except LookupError:
        return None
    prices = info.get_prices(dt.datetime.now(dt.timezone.utc))

    def rate(value: object) -> Rate | None:
        if value is None:
            return None
        if isinstance(value, types.TieredPrices):
            return (float(value.base), tuple((int(t.start), float(t.price)) for t in value.tiers))
        return _flat(float(value))  # type: ignore[arg-type]

    input_rate = rate(getattr(prices, "input_mtok", None))
    output_rate = rate(getattr(prices, "output_mtok", None))
    if input_rate is None or output_rate is None:
        return None  # priced by something else (images, requests): not a price for tokens
    return Price(input_rate, output_rate, rate(getattr(prices, "cache_read_mtok", None)),
                 rate(getattr(prices, "cache_write_mtok", None)), f"genai-prices {genai_prices.__version__}")


def reply_cost(reply: Reply, price: Price | None, provider: str | None) -> Reply:
    """`reply` with its provider, and its cost at `price` where it reported its tokens
    (no usage reported, or no price: cost None)."""
    usage = reply.usage
    if price is None or (reply.input_tokens is None and reply.output_tokens is None):
        return replace(reply, usage=replace(usage, provider=provider))
    cost = price.cost(reply.input_tokens or 0, reply.output_tokens or 0,
                      usage.cache_read_tokens or 0, usage.cache_write_tokens or 0)
    return replace(reply, usage=replace(usage, provider=provider, cost=cost, price_source=price.source))
