"""Local decode speed: chinwag's LocalProvider against a bare llama-cpp-python
loop, on the bundled SmolLM2-135M-Instruct (Q4_1), same prompt and settings.

- chinwag: `LocalProvider(context_size=2048).stream(ChatRequest(...))`,
  counting TextDelta events;
- bare: `Llama(model_path=bundled_model_path(), n_ctx=2048, verbose=False)
  .create_chat_completion(messages, stream=True, max_tokens=128,
  temperature=0)`, counting chunks that carry text.

Both models are loaded once in this process (load times reported
separately, plus chinwag's default, the model's trained context), then runs
alternate, A/B then B/A. Decode speed = (tokens - 1) / (time of the last
token - time of the first), time.perf_counter; time to first token is shown
too (the same prompt each run, so llama-cpp-python reuses its cached
prefix: that time to first token is not a cold one). Temperature 0, so both
produce the same tokens. A diagnostic table times a fresh prompt evaluation
with llama-cpp-python's default batch threads (all cores) and with one.

Then `chinwag --json -m local --max-tokens 128 --temperature 0 PROMPT` runs
end to end (launch, model load, default context); its speed comes from the
final "done" event: usage.output_tokens / (duration - ttft).

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


def _chinwag_tokens(provider: Any) -> Iterator[None]:
    from chinwag.events import TextDelta
    from chinwag.providers.base import ChatRequest, Message

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


def _end_to_end() -> dict[str, Any]:
    home = tempfile.mkdtemp(prefix="chinwag-bench-home-")
    cwd = tempfile.mkdtemp(prefix="chinwag-bench-cwd-")
    try:
        start = time.perf_counter()
        proc = subprocess.run([common.CHINWAG, "--json", "-m", "local", "--max-tokens", str(MAX_TOKENS),
                               "--temperature", "0", PROMPT], env=common.clean_env(home), cwd=cwd,
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=300)
        wall = time.perf_counter() - start
    finally:
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(cwd, ignore_errors=True)
    if proc.returncode != 0:
        raise RuntimeError(f"chinwag exited {proc.returncode}: {proc.stderr.decode(errors='replace')}")
    done = [json.loads(line) for line in proc.stdout.decode().splitlines() if line.strip()][-1]
    tokens = done["usage"]["output_tokens"]
    return {"tokens": tokens, "ttft": done["ttft"], "wall": wall,
            "tps": tokens / (done["duration"] - done["ttft"])}


def run(quick: bool = False) -> str:
    from llama_cpp import Llama

    from chinwag.providers.local import LocalProvider, bundled_model_path

    runs = 2 if quick else 6
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
    del provider, llama
    prompt_eval = _prompt_eval(path, 1 if quick else 2)
    overhead = _overhead_per_token()
    end_to_end = [_end_to_end() for _ in range(1 if quick else 2)]

    def med(xs: list[float]) -> float:
        return common.summary(xs)["median"]

    base = med([r[2] for r in results["bare llama-cpp-python"]])
    ours = med([r[2] for r in results["chinwag LocalProvider"]])
    rows = []
    for name, rs in results.items():
        tps = [r[2] for r in rs]
        rows.append((name, f"{med(tps):.1f} ({min(tps):.1f}–{max(tps):.1f})", f"{med(tps) / base:.3f}×",
                     "/".join(str(n) for n in sorted({r[0] for r in rs})), common.ms_range([r[1] for r in rs], 0)))
    e2e_tps = med([e["tps"] for e in end_to_end])
    lines = [
        "## Local model decode speed (bundled SmolLM2-135M-Instruct Q4_1)",
        "",
        f"Same prompt ({PROMPT!r}, the default system prompt), max_tokens {MAX_TOKENS}, temperature 0, "
        f"n_ctx {N_CTX}, llama-cpp-python's default threads; {runs} alternated runs each after one untimed run, "
        "both models loaded in this process. tokens/s counts from the first token to the last.",
        "",
        common.table(["Loop", "tokens/s: median (min–max)", "× bare", "tokens", "time to first token ms"], rows),
        "",
        "Model load time (median of " + str(len(loads["bare (n_ctx 2048)"])) + "):",
        "",
        common.table(["Load", "ms: median (min–max)"], [(k, common.ms_range(v, 0)) for k, v in loads.items()]),
        "",
        f"(chinwag's default context is the model's trained length: n_ctx {default_ctx}.)",
        "",
        f"End to end, `chinwag --json -m local --max-tokens {MAX_TOKENS} --temperature 0 PROMPT` "
        f"(launch and model load included, default context; {len(end_to_end)} runs): "
        f"{e2e_tps:.1f} tokens/s from the done event ({e2e_tps / base:.3f}× the bare loop above), "
        f"ttft {common.ms(med([e['ttft'] for e in end_to_end]), 0)} ms, "
        f"wall time {common.ms(med([e['wall'] for e in end_to_end]), 0)} ms for "
        f"{end_to_end[0]['tokens']} tokens.",
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
        f"- chinwag ≥ {TARGET}× the bare llama-cpp-python loop's tokens/s: {ours / base:.3f}× "
        f"{common.verdict(ours / base >= TARGET)}",
        "",
        "Reproduce: `python bench/bench_local_decode.py" + (" --quick" if quick else "") + "`",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
