"""`chinwag usage` over 100,000 stored replies (issue 23).

The history is built directly in SQLite (the schema from `Store.open`, then
one `executemany`): 1,000 conversations and 100,000 replies spread over the
last 30 days, four models from two providers, one reply in ten with no known
price, cache tokens on some. Every reply falls inside the default 30-day
range, the worst case for the query.

Timed, spawn to exit, alternated: `chinwag usage` (the chart), `--by model`,
`--by conversation` and `--json`, each on that history, and the baseline:
`chinwag usage` on an empty history (no database file), which is the cost
of the interpreter and the imports alone. Target (the issue): each ≤ 300 ms
(median); the difference from the baseline is what reading 100,000 replies adds.

Run alone: `PYTHONPATH=src python bench/bench_usage.py [--quick]`.
"""

from __future__ import annotations

import datetime
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

import run as common

REPLIES = 100_000
CONVERSATIONS = 1_000
TARGET_MS = 300.0
MODELS = (("claude-sonnet-4-20250514", "anthropic", 3e-6, 15e-6), ("claude-3-5-haiku-latest", "anthropic", 8e-7, 4e-6),
          ("gpt-4o-mini", "openai", 1.5e-7, 6e-7), ("my-vllm-model", "openai", None, None))


def build(home: Path, replies: int = REPLIES, now: float | None = None) -> Path:
    """A history of `replies` replies over the 30 days before `now`, written straight into SQLite."""
    from chinwag.history.store import Store

    path = home / "history.db"
    Store.open(path).close()  # the schema, every migration applied
    now = time.time() if now is None else now
    rng = random.Random(23)
    first_day = datetime.date.fromtimestamp(now) - datetime.timedelta(days=29)
    start = datetime.datetime.combine(first_day, datetime.time()).timestamp() + 60  # local midnight: the range's start
    with closing(sqlite3.connect(path)) as conn:
        conn.executemany("INSERT INTO conversations (id, created_at, updated_at, model, title) VALUES (?, ?, ?, ?, ?)",
                         [(c, start, now, MODELS[c % 4][0], f"conversation {c}") for c in range(1, CONVERSATIONS + 1)])
        rows = []
        for n in range(replies):
            model, provider, price_in, price_out = MODELS[rng.randrange(4)]
            tin, tout = rng.randrange(50, 5000), rng.randrange(10, 1500)
            cache = rng.randrange(0, tin) if n % 3 == 0 else 0
            cost = None if price_in is None else tin * price_in + tout * price_out
            when = start + (now - start - 60) * n / replies
            rows.append((n % CONVERSATIONS + 1, "reply", model, provider, tin, tout, cache, cost,
                         None if cost is None else "genai-prices 0.2.3", when, when))
        conn.executemany(
            "INSERT INTO messages (conversation_id, role, content, status, model, provider, input_tokens,"
            " output_tokens, cache_read_tokens, cost, price_source, created_at, updated_at)"
            " VALUES (?, 'assistant', ?, 'complete', ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        conn.commit()
    return path


def run(quick: bool = False) -> str:
    reps = 5 if quick else 15
    full = Path(tempfile.mkdtemp(prefix="chinwag-bench-usage-"))
    empty = Path(tempfile.mkdtemp(prefix="chinwag-bench-usage-empty-"))
    try:
        started = time.perf_counter()
        build(full)
        built = time.perf_counter() - started
        contenders = {
            "empty history (baseline)": ([], common.clean_env(empty)),
            "chart": ([], common.clean_env(full)),
            "--by model": (["--by", "model"], common.clean_env(full)),
            "--by conversation": (["--by", "conversation"], common.clean_env(full)),
            "--json": (["--json"], common.clean_env(full)),
        }

        def once(name: str) -> float:
            args, env = contenders[name]
            return common.run_to_exit([common.CHINWAG, "usage", *args], env)

        times = common.alternated(list(contenders), reps, once)
    finally:
        shutil.rmtree(full, ignore_errors=True)
        shutil.rmtree(empty, ignore_errors=True)
    rows = common.rows_against(times, "empty history (baseline)")
    verdicts = []
    for name, samples in times.items():
        median = common.summary(samples)["median"]
        if not name.startswith("empty"):
            verdicts.append(f"- `chinwag usage` {name}: {median * 1000:.0f} ms (≤ {TARGET_MS:.0f} ms)"
                            f" {common.verdict(median * 1000 <= TARGET_MS)}")
    lines = [
        "## `chinwag usage` over 100,000 replies",
        "",
        f"{REPLIES:,} replies in {CONVERSATIONS:,} conversations over the last 30 days (built in SQLite in"
        f" {built:.1f} s), spawn to exit, {reps} runs each, alternated with the same command on an empty history.",
        "",
        common.table(["Command", "ms: median (min–max)", "× empty", "ms added"], rows),
        "",
        *verdicts,
        "",
        "Reproduce: `python bench/bench_usage.py" + (" --quick`" if quick else "`"),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv[1:]))
