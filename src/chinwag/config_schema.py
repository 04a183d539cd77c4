"""What config.toml may hold: each key's type, checked once when the file is read.

A key chinwag does not know (a typo: `modle = "x"`) is a warning naming the
file and line, since a newer chinwag's key should not stop an older one. A
known key of the wrong type (`[openai] base_url = 5`, `allow = ["*"]`) is
refused in one line naming the file, the line and the key: used anyway, it
would be silently wrong. tomllib gives no line numbers, so the key's line is
found in the text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from chinwag.errors import ConfigError

Check = Callable[[Any], str | None]  # None when the value is fine, else what it should be


def _text(value: Any) -> str | None:
    return None if isinstance(value, str) else "a string in quotes"


def _whole(low: int, high: float) -> Check:
    def check(value: Any) -> str | None:
        ok = isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
        return None if ok else whole_wanted(low, high)
    return check


def whole_wanted(low: float, high: float) -> str:
    return f"a whole number from {low:,.0f} to {high:,.0f}" if high != math.inf else f"a whole number of at least {low:g}"


def _number(low: float, high: float, above: bool = False) -> Check:
    """A finite number in [low, high] (above: greater than low)."""
    def check(value: Any) -> str | None:
        ok = (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
              and (value > low if above else value >= low) and value <= high)
        return None if ok else number_wanted(low, high, above)
    return check


def number_wanted(low: float, high: float, above: bool) -> str:
    if high != math.inf:
        return f"a number from {low:g} to {high:g}"
    return f"a number greater than {low:g}" if above else f"a number of at least {low:g}"


def _boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else "true or false"


def _names(value: Any) -> str | None:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        return 'a list of tool names, e.g. ["read_file"]'
    if any(set(v) & set("*?[]") for v in value):
        return 'a list of tool names (no patterns: name each tool, e.g. ["read_file", "fetch_url"])'
    return None


def _table(value: Any) -> str | None:
    return None if isinstance(value, dict) else "a table ([NAME] with its keys below)"


def _one_of(*choices: str) -> Check:
    return lambda value: None if value in choices else "one of " + ", ".join(choices)


def _prices(value: Any) -> str | None:
    """The [prices] tables' shape; `price_problem` names what is wrong with its key."""
    return None if isinstance(value, dict) else 'tables [prices."MODEL"] with input = and output ='


def price_problem(value: Mapping[str, Any]) -> tuple[str, str | None, str] | None:
    """(model, key, what is wrong) for the first bad [prices."MODEL"] entry, or None."""
    for model, price in value.items():
        if not isinstance(price, dict):
            return model, None, f'[prices."{model}"] must be a table with input = and output ='
        if missing := [k for k in ("input", "output") if k not in price]:
            return model, None, f'[prices."{model}"] needs {" and ".join(missing)} (dollars per million tokens)'
        for key, rate in price.items():
            if key not in PRICE_KEYS:
                return model, key, f'[prices."{model}"] {key} is not one of {", ".join(PRICE_KEYS)}'
            if _number(*PRICE)(rate) is not None:
                return model, key, (f'[prices."{model}"] {key} must be a number of at least 0'
                                    f' (dollars per million tokens), got {rate!r}')
    return None


def _price_line(text: str, model: str, key: str | None) -> int | None:
    """The line of `key` in [prices."MODEL"] (or of its header), if it can be found."""
    lines = text.splitlines()
    header = re.compile(r"""\s*\[\s*prices\s*\.\s*(?:"%s"|'%s'|%s)\s*\]""" % ((re.escape(model),) * 3))
    for number, line in enumerate(lines, 1):
        if header.match(line):
            if key is None:
                return number
            setting = re.compile(r"""\s*(?:%s|"%s")\s*=""" % ((re.escape(key),) * 2))
            for offset, inner in enumerate(lines[number:], number + 1):
                if inner.lstrip().startswith("["):
                    break
                if setting.match(inner):
                    return offset
            return number
    return None


# Ranges shared with flags and the environment (config.py checks those the same way).
# Each top is far past any real use, and keeps a slip of the finger (`retries =
# 100000000`, twenty zeros on --max-tokens) from reaching a server, a timer or
# llama.cpp as a number it cannot take, or a wait that never ends.
TEMPERATURE = (0.0, 2.0)  # Anthropic takes 0-1, OpenAI 0-2; the provider says if it wants less
MAX_TOKENS = (1, 1_000_000)  # the longest replies any model gives today are 128k tokens
# context_size has no top here: the local model takes at most its trained length, and a
# larger one is that length (tests/test_local_context_size.py).
CONTEXT_SIZE = (1, math.inf)
TIMEOUT = (0.0, 86_400.0)  # seconds of server silence: at most a day
MAX_RETRY_WAIT = (0.0, 3_600.0)  # seconds: a longer retry-after fails at once
RETRIES = (0, 10)  # the SDKs retry twice; ten waits of up to 8 s is a minute and more
MAX_TOOL_ROUNDS = (1, 1_000)
TOOL_OUTPUT_LIMIT = (1, 16 * 1024 * 1024)  # bytes of one tool's output sent to the model
THINK = (1024, MAX_TOKENS[1])  # tokens of visible reasoning (Anthropic wants at least 1,024)
PRICE = (0.0, 1_000_000.0)  # dollars per million tokens
PRICE_KEYS = ("input", "output", "cache_read", "cache_write")
BUDGET = (0.0, 1_000_000_000.0)  # dollars
TOP_LEVEL: Mapping[str, Check] = {
    "model": _text, "system": _text, "max_tokens": _whole(*MAX_TOKENS), "temperature": _number(*TEMPERATURE),
    "render": _one_of("auto", "markdown", "plain"), "save": _boolean, "context_size": _whole(*CONTEXT_SIZE),
    "timeout": _number(*TIMEOUT, above=True), "max_retry_wait": _number(*MAX_RETRY_WAIT),
    "retries": _whole(*RETRIES), "tools": _names, "allow": _names, "mcp_servers": _table,
    "max_tool_rounds": _whole(*MAX_TOOL_ROUNDS), "tool_output_limit": _whole(*TOOL_OUTPUT_LIMIT),
    "prices": _prices, "budget_per_conversation": _number(*BUDGET), "budget_per_day": _number(*BUDGET),
    "budget_per_month": _number(*BUDGET), "budget_unknown": _one_of("allow", "refuse"),
}
PROVIDER_TABLE: Mapping[str, Check] = {
    "api_key": _text, "base_url": _text,
    "prefill": _one_of("auto", "trailing-assistant", "vllm", "none"),
}
# Keys of a [NAME] table that are a setting only some providers take (providers/spec.py).
TABLE_SETTINGS = {"prefill": "prefill"}


def _provider_tables() -> tuple[str, ...]:
    """The [NAME] tables: each built-in provider that reads a key or a base URL."""
    from chinwag.providers.registry import BUILT_IN

    return tuple(p.name for p in BUILT_IN if p.key_variable or p.url_variable)


def check_config(config: Mapping[str, Any], text: str, path: Path) -> tuple[str, ...]:
    """Warnings for unknown keys; ConfigError for a known key of the wrong type."""
    warnings: list[str] = []
    for key, value in config.items():
        if key in _provider_tables():
            if (wanted := _table(value)) is not None:
                raise _wrong(path, text, key, None, wanted, value)
            for inner, inner_value in value.items():
                check = PROVIDER_TABLE.get(inner)
                if check is None:
                    warnings.append(_unknown(path, text, inner, key))
                elif (wanted := check(inner_value)) is not None:
                    raise _wrong(path, text, inner, key, wanted, inner_value)
                elif (note := _not_taken(path, text, inner, key)) is not None:
                    warnings.append(note)
        elif (check := TOP_LEVEL.get(key)) is None:
            warnings.append(_unknown(path, text, key, None))
        elif (wanted := check(value)) is not None:
            raise _wrong(path, text, key, None, wanted, value)
        elif key == "prices" and (problem := price_problem(value)) is not None:
            model, inner, what = problem
            line = _price_line(text, model, inner)
            raise ConfigError(f"{path}, line {line}: {what}." if line else f"{path}: {what}.")
    return tuple(warnings)


def _unknown(path: Path, text: str, key: str, table: str | None) -> str:
    import difflib

    where = f"[{table}] " if table else ""
    known = list(PROVIDER_TABLE) if table else [*TOP_LEVEL, *_provider_tables()]
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean {close[0]!r}?" if close else "see README: Settings"
    return f"warning: {_at(path, text, key, table)}: unknown setting {where}{key!r}, ignored ({hint})"


def _not_taken(path: Path, text: str, key: str, table: str) -> str | None:
    """A note for a [NAME] key whose setting that provider does not take (never dropped silently)."""
    from chinwag.providers.registry import BUILT_IN

    setting = TABLE_SETTINGS.get(key)
    spec = next((p for p in BUILT_IN if p.name == table), None)
    if setting is None or spec is None or setting in spec.settings:
        return None
    takers = ", ".join(p.name for p in BUILT_IN if setting in p.settings)
    return (f"note: {_at(path, text, key, table)}: [{table}] {key}: the {table} provider does not take a {key}"
            f" setting; {takers} does. Ignored.")


def _wrong(path: Path, text: str, key: str, table: str | None, wanted: str, value: Any) -> ConfigError:
    name = f"[{table}] {key}" if table else key
    shown = repr(value) if not isinstance(value, (list, dict)) else str(value)
    return ConfigError(f"{_at(path, text, key, table)}: {name} must be {wanted}, got {shown[:60]}.")


def _at(path: Path, text: str, key: str, table: str | None) -> str:
    """`PATH, line N` for the line that sets `key` (in `[table]`), or just PATH if not found."""
    line = key_line(text, key, table)
    return f"{path}, line {line}" if line else str(path)


def key_line(text: str, key: str, table: str | None) -> int | None:
    """The 1-based line that sets `key` at the top level or in `[table]` (plain or quoted key)."""
    setting = re.compile(r"""\s*(?:%s|"%s"|'%s')\s*=""" % ((re.escape(key),) * 3))
    header = re.compile(r"\s*\[\s*([^\]]*?)\s*\]")
    current: str | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if found := header.match(line):
            current = found.group(1).strip("\"'")
        elif current == table and setting.match(line):
            return number
        elif table is None and current is None and setting.match(line):
            return number
    if table is not None:  # a dotted key (openai.base_url = ...) at the top
        dotted = re.compile(r"\s*%s\s*\.\s*%s\s*=" % (re.escape(table), re.escape(key)))
        for number, line in enumerate(text.splitlines(), 1):
            if dotted.match(line):
                return number
    return None
