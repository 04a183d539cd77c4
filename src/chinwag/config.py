"""Settings resolution: built-in defaults < config.toml < ./.env < environment < flags.

Everything comes in as arguments (an environ mapping, the working directory,
the parsed flags), so tests never patch globals. The result is one frozen
`Settings`; `providers/registry.py` turns it into a provider.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chinwag.config_schema import (
    CONTEXT_SIZE,
    MAX_RETRY_WAIT,
    MAX_TOKENS,
    MAX_TOOL_ROUNDS,
    RETRIES,
    TEMPERATURE,
    THINK,
    TIMEOUT,
    TOOL_OUTPUT_LIMIT,
    number_wanted,
    whole_wanted,
)
from chinwag.errors import ConfigError, UsageError
from chinwag.paths import config_file

DEFAULT_SYSTEM = "You are a helpful assistant. Keep responses brief and clear."
DEFAULT_MAX_TOKENS = 4096
CONFIG_KEYS = {"model", "system", "max_tokens", "temperature", "render", "save", "context_size",
               "timeout", "max_retry_wait", "retries"}
DEFAULT_TIMEOUT = 600.0  # seconds of silence from the server before we give up (a slow first token is fine)
DEFAULT_MAX_RETRY_WAIT = 60.0  # longest retry-after we honour, as the SDKs do
DEFAULT_MAX_TOOL_ROUNDS = 10  # model -> tools -> model rounds in one turn
DEFAULT_TOOL_OUTPUT_LIMIT = 32_768  # bytes of one tool's output sent to the model
DEFAULT_THINKING_BUDGET = 4096
TEMPLATE = "template"  # the flags' key for -t NAME's layer (cli/template_flags.py)


@dataclass(frozen=True)
class Settings:
    """Everything a chat is started with, resolved from all the layers."""

    provider: str  # a name in providers/registry.py
    model: str  # "" for "the server's first model" (OpenAI-compatible) or the bundled model
    system: str
    max_tokens: int
    temperature: float | None
    api_key: str | None = None
    base_url: str | None = None
    base_url_source: str | None = None  # where a non-default base URL came from, for the notice
    context_size: int | None = None  # local model context; None = the model's trained length
    render: str = "auto"
    save: bool = True
    notice: str | None = None  # one line shown at start (e.g. "using the bundled local model")
    warnings: tuple[str, ...] = ()  # one line each, printed on stderr at start
    timeout: float = DEFAULT_TIMEOUT
    max_retry_wait: float = DEFAULT_MAX_RETRY_WAIT
    retries: int = 2
    prefill: str = "auto"  # how an OpenAI-compatible server continues a reply (see providers/openai.py)
    notes: tuple[str, ...] = ()  # settings given that the provider does not take (also in warnings)
    tools: ToolSettings = field(default_factory=lambda: ToolSettings())
    schema: Mapping[str, Any] | None = None  # --schema / --schema-multi: replies are JSON matching it
    costs: CostSettings = field(default_factory=lambda: CostSettings())  # [prices], budgets, --budget (budget.py)


@dataclass(frozen=True)
class CostSettings:
    """Prices set in config (model -> chinwag.prices.Price), and the budgets in
    dollars (None: none); budget.py reads them and checks each request."""

    prices: Mapping[str, Any] = field(default_factory=dict)
    per_conversation: float | None = None
    per_day: float | None = None
    per_month: float | None = None
    per_run: float | None = None  # --budget X
    refuse_unknown: bool = False  # budget_unknown = "refuse"

    @property
    def any(self) -> bool:
        return any(b is not None for b in (self.per_conversation, self.per_day, self.per_month, self.per_run))


COST_KEYS = ("prices", "budget_per_conversation", "budget_per_day", "budget_per_month", "budget_unknown")


def _costs(config: Mapping[str, Any], flags: Mapping[str, Any]) -> CostSettings:
    """Read by budget.py, and imported only when something is set."""
    if flags.get("budget") is None and not any(key in config for key in COST_KEYS):
        return CostSettings()
    from chinwag.budget import cost_settings

    return cost_settings(config, flags)


@dataclass(frozen=True)
class ToolSettings:
    """Tool use: what is enabled and how calls are approved (config.toml and flags)."""

    enabled: tuple[str, ...] = ()  # built-in tools by name (tools = [...], -T NAME)
    allow: tuple[str, ...] = ()  # tools that run without asking (allow = [...])
    mcp_servers: Mapping[str, Any] = field(default_factory=dict)  # [mcp_servers.NAME] tables
    mcp_config: str | None = None  # --mcp-config FILE: {"mcpServers": {...}}
    config_source: str = ""  # where the tables came from, for error messages
    max_rounds: int = DEFAULT_MAX_TOOL_ROUNDS
    output_limit: int = DEFAULT_TOOL_OUTPUT_LIMIT
    yes: bool = False  # --yes: approve every call
    think: int | None = None  # --think BUDGET: visible reasoning, in tokens

    @property
    def active(self) -> bool:
        return bool(self.enabled or self.mcp_servers or self.mcp_config)


@dataclass(frozen=True)
class Sources:
    """Raw layers, lowest precedence first, each a name->value mapping with a label."""

    layers: tuple[tuple[str, Mapping[str, Any]], ...]
    # How a flag was given when not on the command line: {"model": "/model"} for the
    # chat's /model, so an error names what the person typed, not a flag they never used.
    flag_names: Mapping[str, str] = field(default_factory=dict)

    def get(self, *keys: str) -> tuple[Any, str | None]:
        """The highest-precedence value under any of `keys`, and the label of its layer."""
        value, label, _ = self.find(*keys)
        return value, label

    def find(self, *keys: str) -> tuple[Any, str | None, str]:
        """As `get`, and where it came from in words: "--max-tokens",
        "CHINWAG_MODEL in the environment", "max_tokens in config PATH"."""
        for label, layer in reversed(self.layers):
            for key in keys:
                if layer.get(key) not in (None, ""):
                    where = (self.flag_names.get(key, f"--{key.replace('_', '-')}") if label == "flags"
                             else f"{key} in {label}")
                    return layer[key], label, where
        return None, None, ""


def load_sources(environ: Mapping[str, str], cwd: Path, flags: Mapping[str, Any],
                 config: Mapping[str, Any] | None = None, flag_names: Mapping[str, str] | None = None) -> Sources:
    """The layers; `config` is config.toml's settings when already read; `flag_names`
    as in Sources.
    flags[TEMPLATE] is a template's (label, settings) layer, just under the flags typed."""
    if config is None:
        config, _ = _read_config(config_file(environ))
    env_file = _read_dotenv(cwd / ".env")
    template = flags.get(TEMPLATE)
    return Sources((
        (f"config {config_file(environ)}", _config_as_env(config)),
        ("./.env", env_file),
        ("the environment", environ),
        *((template,) if template else ()),
        ("flags", {k: v for k, v in flags.items() if v is not None and k != TEMPLATE}),
    ), dict(flag_names or {}))


def resolve(environ: Mapping[str, str], cwd: Path, flags: Mapping[str, Any], *,
            refuse_flags: bool = True, flag_names: Mapping[str, str] | None = None) -> Settings:
    """The settings for this run; raises UsageError/ConfigError with a one-line reason.

    A setting the chosen provider does not take (providers/spec.py) is refused
    when it is a flag (`refuse_flags`: the person just asked for it, for this
    provider), else a note: config.toml, .env and the environment hold settings
    for every provider one uses, and /model keeps the chat's flags for whichever
    model comes next (refusing would forbid the switch). `flag_names` says how a flag
    was given when not on the command line ({"model": "/model"}), for the messages."""
    from chinwag.providers.registry import entry

    config, unknown = _read_config(config_file(environ))  # read and checked once
    src = load_sources(environ, cwd, flags, config, flag_names)
    spec, _, where = src.find("model", "CHINWAG_MODEL")
    provider, model, notice = _choose_provider(spec, src, where)
    wanted = entry(provider)
    api_key = src.get(wanted.key_variable)[0] if wanted.key_variable else None
    base_url, url_source = src.get(wanted.url_variable) if wanted.url_variable else (None, None)
    if base_url and wanted.url_variable and not str(base_url).startswith(("http://", "https://")):
        raise ConfigError(f"{wanted.url_variable} must start with http:// or https://, got {base_url!r} "
                          f"(from {src.find(wanted.url_variable)[2] if url_source == 'flags' else url_source}).")
    if wanted.needs == "key" and not api_key:
        raise ConfigError(f"{wanted.key_variable} is not set; export {wanted.key_variable}=... (or put it in ./.env), "
                          "or use -m local for the bundled model.")
    if wanted.needs == "key or url" and not api_key and not base_url:
        raise ConfigError(f"{wanted.key_variable} is not set; export {wanted.key_variable}=..., or set "
                          f"{wanted.url_variable} for a local server (Ollama, vLLM, llama.cpp).")
    if not model and not (base_url and wanted.servers_choose):
        model = wanted.default_model
    notes = _not_taken(wanted, src, refuse_flags)
    return Settings(
        provider=provider,
        model=model,
        system=str(src.get("system")[0] or DEFAULT_SYSTEM),
        max_tokens=_number(src, "max_tokens", int, *MAX_TOKENS) or DEFAULT_MAX_TOKENS,
        temperature=_number(src, "temperature", float, *TEMPERATURE),
        api_key=api_key,
        base_url=base_url,
        base_url_source=url_source,
        context_size=_number(src, "context_size", int, *CONTEXT_SIZE),
        timeout=_number(src, "timeout", float, *TIMEOUT, above=True) or DEFAULT_TIMEOUT,
        max_retry_wait=_default(_number(src, "max_retry_wait", float, *MAX_RETRY_WAIT), DEFAULT_MAX_RETRY_WAIT),
        retries=_default(_number(src, "retries", int, *RETRIES), 2),
        warnings=_config_warnings(config_file(environ)) + unknown + notes,
        notes=notes,
        render=_choice(src, "render", ("auto", "markdown", "plain")),
        save=_boolean(src.get("save")[0], default=True),
        prefill=_choice(src, "OPENAI_PREFILL", ("auto", "trailing-assistant", "vllm", "none")),
        notice=notice,
        tools=_tool_settings(environ, flags, config),
        schema=_schema(flags),
        costs=_costs(config, flags),
    )


def _schema(flags: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """--schema (or a template's `schema`), parsed; --schema-multi alone is a usage error."""
    value, multi = flags.get("schema"), bool(flags.get("schema_multi"))
    if value is None:
        if multi:
            raise UsageError("--schema-multi needs --schema SCHEMA: the schema of each item.")
        return None
    from chinwag.schema_spec import parse_schema

    return parse_schema(value, multi=multi)


def _not_taken(wanted: Any, src: Sources, refuse_flags: bool) -> tuple[str, ...]:
    """Notes for the settings given that `wanted` does not take; a flag's is a UsageError
    when `refuse_flags` (see `resolve`)."""
    from chinwag.providers.registry import BUILT_IN
    from chinwag.providers.spec import not_taken

    notes = []
    for item in not_taken(wanted, src.find, BUILT_IN):
        if item.from_flags and refuse_flags:
            raise UsageError(item.line)
        notes.append(f"note: {item.line} Ignored.")
    return tuple(notes)


def _tool_settings(environ: Mapping[str, str], flags: Mapping[str, Any], config: Mapping[str, Any]) -> ToolSettings:
    """Lists and tables come from config.toml alone; flags add to them."""
    path = config_file(environ)
    where = f"config {path}"

    def names(key: str) -> tuple[str, ...]:
        value = config.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{key} must be a list of names, e.g. {key} = [\"read_file\"] (in {path}).")
        return tuple(value)

    servers = config.get("mcp_servers", {})
    if not isinstance(servers, dict):
        raise ConfigError(f"mcp_servers must be a table of [mcp_servers.NAME] entries (in {path}).")
    rounds = config.get("max_tool_rounds", DEFAULT_MAX_TOOL_ROUNDS)
    limit = config.get("tool_output_limit", DEFAULT_TOOL_OUTPUT_LIMIT)
    for key, value, (low, high) in (("max_tool_rounds", rounds, MAX_TOOL_ROUNDS),
                                    ("tool_output_limit", limit, TOOL_OUTPUT_LIMIT)):
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ConfigError(f"{key} must be {whole_wanted(low, high)}, got {value!r} (in {path}).")
    think = flags.get("think")
    if think is not None and (not isinstance(think, int) or not THINK[0] <= think <= THINK[1]):
        raise UsageError(f"--think takes a budget of {whole_wanted(*THINK)} tokens, got {think!r}.")
    return ToolSettings(
        enabled=tuple(dict.fromkeys((*names("tools"), *(flags.get("tools") or ())))),
        allow=names("allow"), mcp_servers=servers, mcp_config=flags.get("mcp_config"),
        config_source=where, max_rounds=rounds, output_limit=limit,
        yes=bool(flags.get("yes")), think=think,
    )


def _choose_provider(spec: str | None, src: Sources, where: str) -> tuple[str, str, str | None]:
    from chinwag.providers.registry import BUILT_IN, FALLBACK, at_base_url, parse_model_spec

    if spec:
        provider, model = parse_model_spec(str(spec))
        if provider:
            return provider, model, None
        served = at_base_url()
        if served.url_variable and src.get(served.url_variable)[0]:  # Ollama/vLLM model names like "llama3.2"
            return served.name, model, None
        raise UsageError(f"unknown model {spec!r} (from {where}); use anthropic:NAME, openai:NAME, local"
                         " or local:PATH.gguf.")
    for candidate in BUILT_IN:  # a plugin is used when named, never chosen for the user
        variables = [v for v in (candidate.key_variable, candidate.url_variable) if v]
        if any(src.get(v)[0] for v in variables):
            return candidate.name, "", None
    return FALLBACK, "", ("no API key set: using the bundled local model (SmolLM2-135M). "
                          "Set ANTHROPIC_API_KEY to chat with Claude.")


def _number(src: Sources, key: str, kind: type[int] | type[float], low: float, high: float,
            above: bool = False) -> Any:
    """The setting as a finite `kind` in [low, high] (above: greater than low), or
    None if unset; anything else (nan, inf, 1.5 for a count, true) is refused in
    one line naming where it came from."""
    value, label, where = src.find(key)
    if value is None:
        return None
    wanted = whole_wanted(low, high) if kind is int else number_wanted(low, high, above)
    try:
        if isinstance(value, bool) or (kind is int and isinstance(value, float)):
            raise ValueError
        number = kind(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError, OverflowError):
        number = None
    fits = (number is not None and (kind is int or math.isfinite(number))  # an int too big for a float is no nan
            and (number > low if above else number >= low) and number <= high)
    if not fits:
        error = UsageError if label == "flags" else ConfigError
        raise error(f"{where} must be {wanted}, got {value!r}.")
    return number


def _default(value: Any, default: Any) -> Any:
    return default if value is None else value


def _choice(src: Sources, key: str, choices: tuple[str, ...]) -> str:
    value, label = src.get(key)
    if value is None:
        return choices[0]
    if value not in choices:
        raise ConfigError(f"{key} must be one of {', '.join(choices)}, got {value!r} (from {label}).")
    return str(value)


def _config_warnings(path: Path) -> tuple[str, ...]:
    """A config file that holds an API key must not be readable by others."""
    try:
        if path.stat().st_mode & 0o077 and "api_key" in path.read_text(encoding="utf-8"):
            return (f"warning: {path} holds an API key and other users can read it; run: chmod 600 {path}",)
    except OSError:
        pass
    return ()


def _boolean(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() not in ("0", "false", "no", "off")


def _read_config(path: Path) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The config file's settings, each of the right type (else ConfigError),
    and a warning for each key chinwag does not know (config_schema.py)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}, ()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}.") from exc
    import tomllib  # 4-8 ms, and most people have no config file

    from chinwag.config_schema import check_config

    try:
        config = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid config file {path}: {exc}.") from exc
    return config, check_config(config, text, path)


def _config_as_env(config: Mapping[str, Any]) -> dict[str, Any]:
    """Top-level keys as settings; [anthropic]/[openai] tables as their env variables."""
    flat = {k: v for k, v in config.items() if k in CONFIG_KEYS}
    from chinwag.providers.registry import BUILT_IN

    for provider in BUILT_IN:
        table = config.get(provider.name)
        if isinstance(table, dict):
            variables = {"api_key": provider.key_variable, "base_url": provider.url_variable,
                         "prefill": f"{provider.name.upper()}_PREFILL" if "prefill" in provider.settings else None}
            for key, variable in variables.items():
                if variable and table.get(key):
                    flat[variable] = str(table[key])
    return flat


def _read_dotenv(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    from dotenv import dotenv_values

    try:
        return {k: v for k, v in dotenv_values(path).items() if v is not None}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}.") from exc
