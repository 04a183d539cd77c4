"""Benchmark the history store: search and list on a large store, its size on
disk, and what saving costs a streamed reply.

Run: `PYTHONPATH=src python bench/bench_store.py [--quick]`. `run(quick)`
returns the markdown section that bench/run.py puts into bench/RESULTS.md.

The store is built through the public API (a user message, then a reply
begun and finished, as a chat does) from sentences of the Python reference
documentation shipped with CPython (`pydoc_data.topics`), picked with a fixed
seed, so every run builds the same store. Times are medians over repeated
calls on a warm cache, taken with `time.perf_counter_ns`.
"""

from __future__ import annotations

import os
import platform
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

from chinwag.history.store import Store

SEED = 20251126
SEARCHES = ("function", "generator", "coroutine", "exception handler", "__init__ method",
            '"quoted" (syntax) -chars*', "kangaroo")
SAVE_INTERVAL_S = 0.25  # how often chat saves a streaming reply, at most


def _sentences() -> list[str]:
    from pydoc_data.topics import topics

    text = " ".join(" ".join(topics[key].split()) for key in sorted(topics))
    return [s for s in re.split(r"(?<=[.?!])\s+", text) if 20 <= len(s) <= 300]


def _build(path: Path, messages: int, conversations: int) -> float:
    """Fill a new store; returns the seconds it took."""
    rng, pool = random.Random(SEED), _sentences()
    turns = messages // conversations // 2
    models = ("claude-sonnet-4-20250514", "gpt-4o-mini", "local")
    start = time.perf_counter()
    with closing(Store.open(path)) as store:
        for _ in range(conversations):
            model = rng.choice(models)
            cid = store.start_conversation(model=model, system="You are a helpful assistant.")
            for _ in range(turns):
                store.add_message(cid, "user", " ".join(rng.sample(pool, rng.randint(1, 2))))
                rid = store.begin_reply(cid, model=model)
                reply = " ".join(rng.sample(pool, rng.randint(2, 9)))
                store.update_reply(rid, reply, status="complete", input_tokens=40,
                                   output_tokens=len(reply) // 4, ttft=0.3, duration=2.0)
    return time.perf_counter() - start


def _times_us(call: Callable[[], object], repeat: int) -> list[float]:
    call()  # warm up
    samples = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        call()
        samples.append((time.perf_counter_ns() - start) / 1000)
    return samples


def _median_p95(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def _matches(path: Path, query: str) -> int:
    from chinwag.history.store import fts_query

    with closing(sqlite3.connect(path)) as conn:
        row = conn.execute("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH ?",
                           (fts_query(query),)).fetchone()
    return int(row[0])


def _read_rows(path: Path, repeat: int) -> list[str]:
    rows = []
    with closing(Store.open(path)) as store:
        for query in SEARCHES:
            med, p95 = _median_p95(_times_us(lambda q=query: store.search(q, limit=20), repeat))
            rows.append(f"| `search({query!r})`, {_matches(path, query):,} matching messages "
                        f"| {med / 1000:.2f} ms | {p95 / 1000:.2f} ms | < 50 ms |")
        med, p95 = _median_p95(_times_us(lambda: store.list_conversations(20), repeat))
        rows.append(f"| `list_conversations(20)` | {med / 1000:.2f} ms | {p95 / 1000:.2f} ms "
                    "| < 20 ms |")
        cid = store.latest_conversation_id() or 1
        med, p95 = _median_p95(_times_us(lambda: (store.conversation(cid),
                                                  store.messages(cid)), repeat))
        rows.append(f"| `conversation(id)` + `messages(id)` (history show) | {med / 1000:.2f} ms "
                    f"| {p95 / 1000:.2f} ms | |")
    return rows


def _save_rows(path: Path, repeat: int) -> tuple[list[str], dict[str, float]]:
    """The writes on a chat's path, each timed alone; also their medians (µs)."""
    rng = random.Random(SEED)
    text_1k = "".join(rng.choice("abcdefgh ") for _ in range(1024))
    text_64k = text_1k * 64
    grown = {"1k": [text_1k, text_1k + "."], "64k": [text_64k, text_64k + "."]}

    def save(size: str) -> bool:  # the text differs from one save to the next
        grown[size].reverse()
        return store.update_reply(rid, grown[size][0], status="streaming")

    def noop(rid: int, text: str, status: str = "streaming") -> bool:
        return True

    rows, medians = [], {}
    with closing(Store.open(path)) as store:
        cid = store.start_conversation(model="bench")
        rid = store.begin_reply(cid, model="bench")
        every = f"every {SAVE_INTERVAL_S * 1000:.0f} ms at most while text arrives"
        cases: list[tuple[str, str, Callable[[], object], str]] = [
            ("noop", "no-op function call with the same arguments (baseline)",
             lambda: noop(rid, text_1k, status="streaming"), "-"),
            ("stream", "`update_reply(..., status=\"streaming\")`, 1 KB so far",
             lambda: save("1k"), every),
            ("stream64", "`update_reply(..., status=\"streaming\")`, 64 KB so far",
             lambda: save("64k"), every),
            ("add", "`add_message(cid, \"user\", 200 chars)`", lambda: store.add_message(
                cid, "user", text_1k[:200]), "once per turn, before the request"),
            ("begin", "`begin_reply(cid)`", lambda: store.begin_reply(cid),
             "once per turn, before the first token"),
        ]
        for key, label, call, when in cases:
            med, p95 = _median_p95(_times_us(call, repeat))
            medians[key] = med
            rows.append(f"| {label} | {med:,.1f} µs | {p95:,.1f} µs | {when} |")
        medians["final"], p95 = _median_p95(_final_saves(store, cid, text_1k, repeat // 5))
        rows.append(f"| final `update_reply(..., status=\"complete\")`, 1 KB, indexed "
                    f"| {medians['final']:,.1f} µs | {p95:,.1f} µs | once per reply, at the end |")
    return rows, medians


def _final_saves(store: Store, cid: int, text: str, count: int) -> list[float]:
    """Times (µs) of the last save of a reply, which also indexes it for search."""
    samples = []
    for _ in range(count):
        reply = store.begin_reply(cid)
        store.update_reply(reply, text, status="streaming")
        start = time.perf_counter_ns()
        store.update_reply(reply, text, status="complete", output_tokens=256)
        samples.append((time.perf_counter_ns() - start) / 1000)
    return samples


def _per_turn(medians: dict[str, float]) -> str:
    """What saving adds to one turn like the design's example: a ~600-character
    reply streamed over 2.3 s, so at most 9 progressive saves and a final one."""
    before = medians["add"] + medians["begin"]
    total = before + 9 * medians["stream"] + medians["final"]
    return (f"Per turn, at these medians: saving adds **{before / 1000:.2f} ms before the"
            f" first token** (user message + empty reply row; target < 1 ms) and"
            f" **{total / 1000:.2f} ms in all** to a reply streamed over 2.3 s"
            f" (**{total / 2.3e6:.3%}** of its time; target < 2 %).")


def _fresh_process_search(home: Path, repeat: int) -> str:
    """`chinwag history search` as a user runs it: a new interpreter each time."""
    code = ("import os, sys; from chinwag.cli.history import main; "
            "sys.exit(main(sys.argv[1:], os.environ, sys.stdout))")
    env = {**os.environ, "CHINWAG_HOME": str(home),
           "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    argv = [sys.executable, "-c", code, "search", "generator"]
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
        samples.append(time.perf_counter() - start)
    empty = [sys.executable, "-c", "import chinwag.cli.history"]
    base = statistics.median(_wall(empty, env) for _ in range(repeat))
    return (f"| `chinwag history search generator` in a fresh Python process"
            f" (start-up included; importing `chinwag.cli.history` alone:"
            f" {base * 1000:.0f} ms) | {statistics.median(samples) * 1000:.0f} ms"
            f" | {max(samples) * 1000:.0f} ms (max) | |")


def _wall(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True)
    return time.perf_counter() - start


def run(quick: bool = False) -> str:
    """Build the store, measure, and return the "## History store" section."""
    messages, conversations = (10_000, 500) if quick else (100_000, 5_000)
    repeat = 21 if quick else 51
    with tempfile.TemporaryDirectory(prefix="chinwag-bench-") as tmp:
        path = Path(tmp) / "history.db"
        built = _build(path, messages, conversations)
        size = path.stat().st_size  # closed, so the WAL is checkpointed into it
        with closing(sqlite3.connect(path)) as conn:
            text_bytes = conn.execute("SELECT sum(length(CAST(content AS BLOB)))"
                                      " FROM messages").fetchone()[0]
        read_rows = _read_rows(path, repeat)
        read_rows.append(_fresh_process_search(Path(tmp), 5 if quick else 11))
        save_rows, medians = _save_rows(Path(tmp) / "saves.db", repeat * 10)
    per_k = size / (messages / 1000) / 1024
    lines = [
        "## History store", "",
        "Reproduce: `PYTHONPATH=src python bench/bench_store.py` (100,000 messages;"
        f" `--quick` builds 10,000).{' This was a quick run.' * quick}", "",
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version},"
        f" {platform.system()} {platform.machine()}. {messages:,} messages in"
        f" {conversations:,} conversations ({messages // conversations} each), text from"
        f" CPython's reference docs, built through the public API in {built:.1f} s"
        f" ({messages / built:,.0f} messages/s, each one short transaction).", "",
        "| Read (warm cache) | median | p95 | target |", "|---|---|---|---|", *read_rows, "",
        f"Database size: {size / 2**20:.1f} MiB, **{per_k:,.0f} KiB per 1,000 messages**"
        f" (the text alone: {text_bytes / (messages / 1000) / 1024:,.0f} KiB per 1,000;"
        " the rest is the full-text index and row overhead).", "",
        "| Write on a chat's path | median | p95 | when |",
        "|---|---|---|---|", *save_rows, "", _per_turn(medians), "",
        "A streaming save is one UPDATE in its own transaction and does not touch the"
        " search index (only the final save indexes the reply), so its cost does not"
        " depend on the size of the store.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv[1:]))
