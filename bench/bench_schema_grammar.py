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

Whole runs are alternated A B, B A, ... after one untimed run each. The
replies differ in length (under the grammar the reply ends when the JSON
object closes), so both are timed over the same first n tokens, n the
shortest reply's: tokens/s = (n - 1) / (time of token n - time of the
first), time.perf_counter, counting TextDelta events (one per token); and
token by token, 1 / the median time between two of those tokens over all
runs, which bursts of other work on the machine move less.

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


def _stamped(tokens: Iterator[str]) -> tuple[list[float], str]:
    """The time (perf_counter) each token arrived, and the text."""
    stamps, text = [], []
    for piece in tokens:
        stamps.append(time.perf_counter())
        text.append(piece)
    if len(stamps) < 2:
        raise RuntimeError(f"only {len(stamps)} tokens")
    return stamps, "".join(text)


def _rate(stamps: list[float], n: int) -> float:
    """Tokens/s over the first `n` tokens: (n - 1) / (their last - their first)."""
    return (n - 1) / (stamps[n - 1] - stamps[0])


def _in_process(schema: dict[str, Any], runs: int) -> dict[str, list[float]]:
    """Why the runner masks rather than passing `grammar=`: one Llama in this
    process, the same question three ways, alternated; tokens/s over the first
    n tokens as above."""
    import os

    from llama_cpp import Llama, LlamaGrammar, LogitsProcessorList

    from chinwag.providers.grammar import GrammarMask, grammar_text
    from chinwag.providers.local import bundled_model_path

    threads = max((os.cpu_count() or 2) // 2, 1)
    llama = Llama(model_path=str(bundled_model_path()), n_ctx=N_CTX, n_threads=threads, n_threads_batch=threads,
                  verbose=False)
    text = grammar_text(schema)
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": PROMPT}]

    def tokens(how: str) -> Iterator[str]:
        options: dict[str, Any] = {}
        mask = None
        if how == "grammar=":
            options["grammar"] = LlamaGrammar.from_string(text, verbose=False)
        elif how == "mask":
            mask = GrammarMask(llama, text, greedy=True)
            options["logits_processor"] = LogitsProcessorList([mask])
        chunks = llama.create_chat_completion(messages=messages, stream=True, max_tokens=MAX_TOKENS, temperature=0,
                                              **options)  # type: ignore[arg-type]
        try:
            for chunk in chunks:
                piece = chunk["choices"][0].get("delta", {}).get("content")  # type: ignore[union-attr]
                if piece:
                    yield piece
        finally:
            chunks.close()  # type: ignore[union-attr]
            if mask is not None:
                mask.close()

    hows = {"llama-cpp-python grammar= (every token checked)": "grammar=",
            "GrammarMask (the likeliest first)": "mask", "free": "free"}
    stamps: dict[str, list[list[float]]] = {name: [] for name in hows}
    for name in hows:
        _stamped(tokens(hows[name]))
    for name in common.alternate(runs, *hows):
        stamps[name].append(_stamped(tokens(hows[name]))[0])
    n = min(len(s) for runs_ in stamps.values() for s in runs_)
    return {name: [_rate(s, n) for s in runs_] for name, runs_ in stamps.items()}


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
    runs_of: dict[str, list[tuple[list[float], str]]] = {name: [] for name in names}
    stops: dict[str, list[str]] = {name: [] for name in names}
    try:
        for name in names:  # untimed: loads the prompt, builds the grammar once
            _stamped(_tokens(provider, wanted[name], []))
        for name in common.alternate(runs, *names):
            runs_of[name].append(_stamped(_tokens(provider, wanted[name], stops[name])))
    finally:
        provider.close()
    for (_, text), stop in zip(runs_of[names[0]], stops[names[0]]):
        if stop == "end_turn":  # a whole reply under the grammar is what the schema asks for
            jsonschema.validate(json.loads(text), schema)
    ended = sum(stop == "end_turn" for stop in stops[names[0]])

    def med(xs: list[float]) -> float:
        return common.summary(xs)["median"]

    # The replies differ in length: both are timed over the same first n tokens
    # (a token's cost grows with its position), n the shortest reply's length.
    n = min(len(stamps) for rs in runs_of.values() for stamps, _ in rs)
    tps = {name: [_rate(stamps, n) for stamps, _ in rs] for name, rs in runs_of.items()}
    gaps = {name: [b - a for stamps, _ in rs for a, b in zip(stamps[:n], stamps[1:n])]
            for name, rs in runs_of.items()}
    inner = _in_process(schema, runs)
    base = med(tps[names[1]])
    ratio = med(tps[names[0]]) / base
    steady = {name: 1 / med(gaps[name]) for name in names}
    steady_ratio = steady[names[0]] / steady[names[1]]
    rows = [(name, f"{med(tps[name]):.1f} ({min(tps[name]):.1f}–{max(tps[name]):.1f})",
             f"{med(tps[name]) / base:.3f}×", f"{steady[name]:.1f}",
             "/".join(str(k) for k in sorted({len(stamps) for stamps, _ in runs_of[name]}))) for name in names]
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
        f"Both timed over their first {n} tokens (the shortest reply's length; a token's cost grows with its "
        "position, and the replies differ in length):",
        "",
        common.table(["Decode", "tokens/s: median (min–max)", "× free", "tokens/s token by token",
                      "tokens in the replies"], rows),
        "",
        f"- grammar ≥ {TARGET}× the free decode's tokens/s: {ratio:.3f}× by whole runs' medians "
        f"{common.verdict(ratio >= TARGET)}, {steady_ratio:.3f}× token by token "
        f"{common.verdict(steady_ratio >= TARGET)}",
        "",
        "Why the runner masks: llama-cpp-python's `grammar=` checks every token of the vocabulary (49,152) "
        "against the grammar at every step; the mask (providers/grammar.py) checks the likeliest tokens first "
        "and the whole vocabulary only when none is allowed, as llama.cpp's own sampler does. One Llama in this "
        f"process, the same question and schema, temperature 0, {runs} alternated runs each:",
        "",
        common.table(["In process", "tokens/s: median (min–max)", "× free"],
                     [(name, f"{med(xs):.1f} ({min(xs):.1f}–{max(xs):.1f})", f"{med(xs) / med(inner['free']):.3f}×")
                      for name, xs in inner.items()]),
        "",
        "Reproduce: `python bench/bench_schema_grammar.py" + (" --quick" if quick else "") + "`",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
