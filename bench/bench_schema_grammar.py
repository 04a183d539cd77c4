"""Structured output on the bundled model: decode speed under the llama.cpp
grammar built from a --schema, against the same model with no grammar.

Both go through chinwag's LocalProvider (its runner process, one loaded
model for both), same system prompt and question, temperature 0,
max_tokens 160:

- grammar: `ChatRequest(schema=SCHEMA)`, which the runner turns into a
  `LlamaGrammar` (providers/runner.py `grammar_for`, built once and cached,
  as in a chat that sends the same schema every turn);
- free: the same request without a schema.

SCHEMA is a small object, from the concise syntax
`name, age int, city, bio: a long biography of the person`.

Whole runs are alternated A B, B A, ... after one untimed run each;
tokens/s = (tokens - 1) / (time of the last token - time of the first),
time.perf_counter, counting TextDelta events (one per token); and token by
token, 1 / the median time between two tokens over all runs, which bursts of
other work on the machine move less. Under the grammar the reply ends when
the JSON object closes, so the runs differ in length; tokens/s compares
them per token.

Target (issue 24): grammar >= 0.8x the free decode's tokens/s.
Run alone: `python bench/bench_schema_grammar.py [--quick]`.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as common  # noqa: E402

TARGET = 0.8
N_CTX = 2048
MAX_TOKENS = 160
CONCISE = "name, age int, city, bio: a long biography of the person"
SYSTEM = "You are a helpful assistant. Keep responses brief and clear."
PROMPT = "Invent a person and tell me all about them."


def _tokens(provider: Any, schema: dict[str, Any] | None, stops: list[str]) -> Iterator[str]:
    """The reply's tokens; its stop reason is added to `stops`."""
    from chinwag.events import Stop, TextDelta
    from chinwag.records import ChatRequest, Message

    request = ChatRequest(model="", messages=(Message("user", PROMPT),), system=SYSTEM, max_tokens=MAX_TOKENS,
                          temperature=0, schema=schema)
    stream = provider.stream(request)
    try:
        for event in stream:
            if isinstance(event, TextDelta):
                yield event.text
            elif isinstance(event, Stop):
                stops.append(event.reason)
    finally:
        stream.close()


def _timed(tokens: Iterator[str], gaps: list[float]) -> tuple[int, float, str]:
    """(tokens, tokens/s after the first, the text); the gaps between tokens are added to `gaps`."""
    stamps, text = [], []
    for piece in tokens:
        stamps.append(time.perf_counter())
        text.append(piece)
    if len(stamps) < 2:
        raise RuntimeError(f"only {len(stamps)} tokens")
    gaps += [b - a for a, b in zip(stamps, stamps[1:])]
    return len(stamps), (len(stamps) - 1) / (stamps[-1] - stamps[0]), "".join(text)


def run(quick: bool = False) -> str:
    import jsonschema

    from chinwag.providers.local import LocalProvider
    from chinwag.schema_spec import parse_schema

    runs = 3 if quick else 8
    schema = parse_schema(CONCISE)
    provider = LocalProvider(context_size=N_CTX)
    provider.warm_up()
    wanted = {"grammar (--schema)": schema, "free (no schema)": None}
    names = list(wanted)
    results: dict[str, list[tuple[int, float, str]]] = {name: [] for name in names}
    gaps: dict[str, list[float]] = {name: [] for name in names}
    stops: dict[str, list[str]] = {name: [] for name in names}
    try:
        for name in names:  # untimed: loads the prompt, builds the grammar once
            _timed(_tokens(provider, wanted[name], []), [])
        for name in common.alternate(runs, *names):
            results[name].append(_timed(_tokens(provider, wanted[name], stops[name]), gaps[name]))
    finally:
        provider.close()
    for (_, _, text), stop in zip(results[names[0]], stops[names[0]]):
        if stop == "end_turn":  # a whole reply under the grammar is what the schema asks for
            jsonschema.validate(json.loads(text), schema)
    ended = sum(stop == "end_turn" for stop in stops[names[0]])

    def med(xs: list[float]) -> float:
        return common.summary(xs)["median"]

    tps = {name: [r[1] for r in rs] for name, rs in results.items()}
    base = med(tps[names[1]])
    ratio = med(tps[names[0]]) / base
    steady = {name: 1 / med(gaps[name]) for name in names}
    steady_ratio = steady[names[0]] / steady[names[1]]
    rows = [(name, f"{med(tps[name]):.1f} ({min(tps[name]):.1f}–{max(tps[name]):.1f})",
             f"{med(tps[name]) / base:.3f}×", f"{steady[name]:.1f}",
             "/".join(str(n) for n in sorted({r[0] for r in results[name]}))) for name in names]
    lines = [
        "## Structured output: the bundled model under a grammar",
        "",
        f"SmolLM2-135M-Instruct (Q4_1) through chinwag's LocalProvider (one runner process, n_ctx {N_CTX}), "
        f"question {PROMPT!r}, temperature 0, max_tokens {MAX_TOKENS}; with `--schema {CONCISE!r}` (the runner "
        "decodes under the llama.cpp grammar built from it) and without. Whole runs alternated, "
        f"{runs} each after one untimed run each. Grammar runs that ended on their own (the JSON closed): "
        f"{ended} of {runs}, each validated against the schema; the others reached max_tokens mid-string "
        "(the 135M model's bio runs on), as a free reply does.",
        "",
        common.table(["Decode", "tokens/s: median (min–max)", "× free", "tokens/s token by token", "tokens"],
                     rows),
        "",
        f"- grammar ≥ {TARGET}× the free decode's tokens/s: {ratio:.3f}× by whole runs' medians "
        f"{common.verdict(ratio >= TARGET)}, {steady_ratio:.3f}× token by token "
        f"{common.verdict(steady_ratio >= TARGET)}",
        "",
        "Reproduce: `python bench/bench_schema_grammar.py" + (" --quick" if quick else "") + "`",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
