"""Local decode speed: chinwag's LocalProvider against a bare llama-cpp-python
loop, on the bundled SmolLM2-135M-Instruct (Q4_1), same prompt and settings.

- chinwag: `LocalProvider(context_size=2048).stream(ChatRequest(...))`,
  counting TextDelta events;
- bare: `Llama(model_path=bundled_model_path(), n_ctx=2048, verbose=False)
  .create_chat_completion(messages, stream=True, max_tokens=128,
  temperature=0)`, counting chunks that carry text.

Both models are loaded once in this process (load times reported
separately, plus chinwag's default, the model's trained context). The
target is judged on interleaved runs: the two token streams are stepped in
turn, one token each, timing every next() (time.perf_counter), so load from
other processes falls on both alike; tokens/s = tokens after the first /
their summed time. Whole runs one after the other (A/B then B/A) are shown
too: decode speed = (tokens - 1) / (time of the last token - time of the
first); time to first token is shown
too (the same prompt each run, so llama-cpp-python reuses its cached
prefix: that time to first token is not a cold one). Temperature 0, so both
produce the same tokens. A diagnostic table times a fresh prompt evaluation
with llama-cpp-python's default batch threads (all cores) and with one.

Then `chinwag --json -m local --max-tokens 128 --temperature 0 PROMPT` runs
end to end (launch, model load, default context), alternated with a bare
script doing the same (BARE_SCRIPT); speed comes from the final "done"
event: usage.output_tokens / (duration - ttft).

Target (issue 7): chinwag >= 0.97x the bare loop's tokens/s (medians).
Run alone: `python bench/bench_local_decode.py [--quick]`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as common  # noqa: E402

TARGET = 0.97
N_CTX = 2048
MAX_TOKENS = 128
SYSTEM = "You are a helpful assistant. Keep responses brief and clear."
PROMPT = "Write a long story about a lighthouse keeper and a storm."


def _timed(tokens: Iterator[Any]) -> tuple[int, float, float]:
    """(tokens, seconds to the first, tokens/s after the first)."""
    start = time.perf_counter()
    stamps = [time.perf_counter() for _ in tokens]
    if len(stamps) < 2:
        raise RuntimeError(f"only {len(stamps)} tokens")
    return len(stamps), stamps[0] - start, (len(stamps) - 1) / (stamps[-1] - stamps[0])


def _interleaved(a: Iterator[Any], b: Iterator[Any]) -> tuple[list[float], list[float]]:
    """Step two token streams in turn, one token each, timing every next():
    load on the machine then falls on both alike. Returns each one's
    per-token seconds, the first token (prompt evaluation) left out."""
    times: tuple[list[float], list[float]] = ([], [])
    live = [True, True]
    streams = (a, b)
    while any(live):
        for i in (0, 1):
            if not live[i]:
                continue
            start = time.perf_counter()
            try:
                next(streams[i])
            except StopIteration:
                live[i] = False
                continue
            times[i].append(time.perf_counter() - start)
    return times[0][1:], times[1][1:]


def _chinwag_tokens(provider: Any) -> Iterator[None]:
    from chinwag.events import TextDelta
    from chinwag.records import ChatRequest, Message

    request = ChatRequest(model="", messages=(Message("user", PROMPT),), system=SYSTEM,
                          max_tokens=MAX_TOKENS, temperature=0)
    for event in provider.stream(request):
        if isinstance(event, TextDelta):
            yield None


def _bare_tokens(llama: Any) -> Iterator[None]:
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": PROMPT}]
    for chunk in llama.create_chat_completion(messages=messages, stream=True, max_tokens=MAX_TOKENS,
                                              temperature=0):
        if chunk["choices"][0].get("delta", {}).get("content"):
            yield None


def _prompt_eval(path: str, runs: int) -> dict[str, list[float]]:
    """Seconds to evaluate a fresh prompt, llama-cpp-python's default batch
    threads (all cores) against one thread: a diagnosis of time to first token."""
    import os

    from llama_cpp import Llama

    llamas = {f"default n_threads_batch ({os.cpu_count()})": Llama(model_path=path, n_ctx=N_CTX, verbose=False),
              "n_threads_batch=1": Llama(model_path=path, n_ctx=N_CTX, n_threads_batch=1, verbose=False)}
    tokens = next(iter(llamas.values())).tokenize(f"{SYSTEM} {PROMPT} {PROMPT}".encode())
    times: dict[str, list[float]] = {name: [] for name in llamas}
    for name in common.alternate(runs, *llamas):
        llamas[name].reset()
        start = time.perf_counter()
        llamas[name].eval(tokens)
        times[name].append(time.perf_counter() - start)
    times["tokens"] = [float(len(tokens))]
    return times


def _overhead_per_token(n: int = 20000) -> float | None:
    """Seconds chinwag adds per token on top of llama-cpp-python's own chunks:
    LocalProvider's event loop fed n ready-made chunks, minus a bare loop over them."""
    from chinwag.events import TextDelta
    from chinwag.providers.local import LocalProvider

    class FakeLlama:
        n_tokens = n

    chunks = [{"choices": [{"delta": {"content": "word"}, "finish_reason": None}]} for _ in range(n)]
    events = getattr(LocalProvider(), "_events", None)
    if events is None:
        return None
    best_ours = best_bare = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for event in events(FakeLlama(), iter(chunks)):
            if isinstance(event, TextDelta):
                pass
        best_ours = min(best_ours, time.perf_counter() - start)
        start = time.perf_counter()
        for chunk in chunks:
            if chunk["choices"][0].get("delta", {}).get("content"):
                pass
        best_bare = min(best_bare, time.perf_counter() - start)
    return (best_ours - best_bare) / n


# The end-to-end baseline: a bare script doing what `chinwag --json -m local`
# does (default context, JSON line per token, flushed), timed the same way.
BARE_SCRIPT = """
import json, sys, time
t0 = time.perf_counter()
from llama_cpp import Llama
llama = Llama(model_path=sys.argv[1], n_ctx=0, verbose=False)
messages = [{"role": "system", "content": sys.argv[2]}, {"role": "user", "content": sys.argv[3]}]
start, first, n = time.perf_counter(), None, 0
for chunk in llama.create_chat_completion(messages=messages, stream=True, max_tokens=int(sys.argv[4]),
                                          temperature=0):
    text = chunk["choices"][0].get("delta", {}).get("content")
    if text:
        n += 1
        first = first or time.perf_counter() - start
        print(json.dumps({"type": "text", "text": text}), flush=True)
print(json.dumps({"type": "done", "usage": {"output_tokens": n}, "ttft": first,
                  "duration": time.perf_counter() - start}), flush=True)
"""


def _end_to_end(bare: bool = False) -> dict[str, Any]:
    home = tempfile.mkdtemp(prefix="chinwag-bench-home-")
    cwd = tempfile.mkdtemp(prefix="chinwag-bench-cwd-")
    if bare:
        from chinwag.providers.local import bundled_model_path

        argv = [common.PYTHON, "-c", BARE_SCRIPT, str(bundled_model_path()), SYSTEM, PROMPT, str(MAX_TOKENS)]
    else:
        argv = [common.CHINWAG, "--json", "-m", "local", "--max-tokens", str(MAX_TOKENS), "--temperature", "0",
                PROMPT]
    try:
        start = time.perf_counter()
        proc = subprocess.run(argv, env=common.clean_env(home), cwd=cwd,
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=300)
        wall = time.perf_counter() - start
    finally:
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(cwd, ignore_errors=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[0]} exited {proc.returncode}: {proc.stderr.decode(errors='replace')}")
    done = [json.loads(line) for line in proc.stdout.decode().splitlines() if line.strip()][-1]
    tokens = done["usage"]["output_tokens"]
    return {"tokens": tokens, "ttft": done["ttft"], "wall": wall,
            "tps": tokens / (done["duration"] - done["ttft"])}


def run(quick: bool = False) -> str:
    from llama_cpp import Llama

    from chinwag.providers.local import LocalProvider, bundled_model_path

    runs, interleaved_runs = (2, 2) if quick else (3, 4)
    path = str(bundled_model_path())

    loads: dict[str, list[float]] = {"chinwag (n_ctx 2048)": [], "bare (n_ctx 2048)": [],
                                     "chinwag default (trained context)": []}
    for _ in range(1 if quick else 2):
        t = time.perf_counter()
        LocalProvider(context_size=N_CTX).warm_up()
        loads["chinwag (n_ctx 2048)"].append(time.perf_counter() - t)
        t = time.perf_counter()
        Llama(model_path=path, n_ctx=N_CTX, verbose=False)
        loads["bare (n_ctx 2048)"].append(time.perf_counter() - t)
        t = time.perf_counter()
        default = LocalProvider()
        default.warm_up()
        loads["chinwag default (trained context)"].append(time.perf_counter() - t)
    default_ctx = default._llama.n_ctx()
    del default

    provider = LocalProvider(context_size=N_CTX)
    provider.warm_up()
    llama = Llama(model_path=path, n_ctx=N_CTX, verbose=False)
    contenders = {"chinwag LocalProvider": lambda: _chinwag_tokens(provider),
                  "bare llama-cpp-python": lambda: _bare_tokens(llama)}
    results: dict[str, list[tuple[int, float, float]]] = {name: [] for name in contenders}
    for name in contenders:  # untimed warm-up
        _timed(contenders[name]())
    for name in common.alternate(runs, *contenders):
        results[name].append(_timed(contenders[name]()))
    names = list(contenders)
    per_token: dict[str, list[float]] = {name: [] for name in names}
    run_tps: dict[str, list[float]] = {name: [] for name in names}
    for i in range(interleaved_runs):
        first, second = names if i % 2 == 0 else names[::-1]
        t1, t2 = _interleaved(contenders[first](), contenders[second]())
        for name, ts in ((first, t1), (second, t2)):
            per_token[name] += ts
            run_tps[name].append(len(ts) / sum(ts))
    del provider, llama
    prompt_eval = _prompt_eval(path, 1 if quick else 2)
    overhead = _overhead_per_token()
    e2e: dict[str, list[dict[str, Any]]] = {"chinwag": [], "bare script": []}
    for name in common.alternate(1 if quick else 2, *e2e):
        e2e[name].append(_end_to_end(bare=name == "bare script"))

    def med(xs: list[float]) -> float:
        return common.summary(xs)["median"]

    base = med([r[2] for r in results["bare llama-cpp-python"]])
    seq_ratio = med([r[2] for r in results["chinwag LocalProvider"]]) / base
    # The target uses the interleaved runs: tokens/s = tokens / their summed decode time.
    inter = {name: len(ts) / sum(ts) for name, ts in per_token.items()}
    ratio = inter["chinwag LocalProvider"] / inter["bare llama-cpp-python"]
    inter_rows = [(name, f"{inter[name]:.1f}", f"{inter[name] / inter['bare llama-cpp-python']:.3f}×",
                   " / ".join(f"{x:.1f}" for x in run_tps[name]), common.ms_range(per_token[name], 2))
                  for name in names]
    rows = []
    for name, rs in results.items():
        tps = [r[2] for r in rs]
        rows.append((name, f"{med(tps):.1f} ({min(tps):.1f}–{max(tps):.1f})", f"{med(tps) / base:.3f}×",
                     "/".join(str(n) for n in sorted({r[0] for r in rs})), common.ms_range([r[1] for r in rs], 0)))
    e2e_base = med([e["tps"] for e in e2e["bare script"]])
    e2e_rows = [(name, f"{med([e['tps'] for e in es]):.1f}", f"{med([e['tps'] for e in es]) / e2e_base:.3f}×",
                 common.ms(med([e["ttft"] for e in es]), 0), common.ms(med([e["wall"] for e in es]), 0),
                 es[0]["tokens"]) for name, es in e2e.items()]
    lines = [
        "## Local model decode speed (bundled SmolLM2-135M-Instruct Q4_1)",
        "",
        f"Same prompt ({PROMPT!r}, the default system prompt), max_tokens {MAX_TOKENS}, temperature 0, "
        f"n_ctx {N_CTX}, llama-cpp-python's default threads, both models loaded in this process.",
        "",
        f"**Interleaved** ({interleaved_runs} runs, who goes first alternating): both streams stepped in turn, one "
        "token each, every `next()` timed, so the machine's load falls on both alike; tokens/s = tokens after "
        "the first / their summed time.",
        "",
        common.table(["Loop", "tokens/s", "× bare", "tokens/s per run", "ms per token: median (min–max)"],
                     inter_rows),
        "",
        f"**Whole runs** one after the other ({runs} alternated runs each, after one untimed run each; "
        f"ratio of medians {seq_ratio:.3f}×, more exposed to the load of other processes):",
        "",
        common.table(["Loop", "tokens/s: median (min–max)", "× bare", "tokens", "time to first token ms"], rows),
        "",
        "Model load time (median of " + str(len(loads["bare (n_ctx 2048)"])) + "):",
        "",
        common.table(["Load", "ms: median (min–max)"], [(k, common.ms_range(v, 0)) for k, v in loads.items()]),
        "",
        f"(chinwag's default context is the model's trained length: n_ctx {default_ctx}.)",
        "",
        f"End to end, `chinwag --json -m local --max-tokens {MAX_TOKENS} --temperature 0 PROMPT` against a bare "
        "script doing the same in its own process (model load with the default context, a JSON line per token, "
        f"flushed), alternated, {len(e2e['chinwag'])} runs each; tokens/s = output tokens / (duration − ttft) "
        "from the final JSON line:",
        "",
        common.table(["Process", "tokens/s", "× bare script", "ttft ms", "wall ms", "tokens"], e2e_rows),
        "",
        f"Diagnosis of time to first token: evaluating a fresh {int(prompt_eval.pop('tokens')[0])}-token prompt "
        f"({len(next(iter(prompt_eval.values())))} alternated runs each; chinwag leaves the default):",
        "",
        common.table(["Batch threads", "ms: median (min–max)"], [(k, common.ms_range(v, 0)) for k, v in prompt_eval.items()]),
        "",
        ("" if overhead is None else
         f"chinwag's own work per token (LocalProvider's event loop over {20000} ready-made chunks, minus a bare "
         f"loop over them, best of 5): {overhead * 1e6:.2f} µs, {overhead * base * 100:.3f}% of a token's time at "
         f"{base:.0f} tokens/s; differences larger than that between the two loops above are noise."),
        "",
        f"- chinwag ≥ {TARGET}× the bare llama-cpp-python loop's tokens/s (interleaved): {ratio:.3f}× "
        f"{common.verdict(ratio >= TARGET)}",
        "",
        "Reproduce: `python bench/bench_local_decode.py" + (" --quick" if quick else "") + "`",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
