"""A hostile search against opening a conversation, in `chinwag serve`.

A history search's cost grows far faster than its words, and in the server
the search holds the history reader that opening a conversation waits for
(issue 18: a 7,000-word search held it 14 s). chinwag caps a search at
`MAX_SEARCH_WORDS` words and stops it after `SEARCH_SECONDS` (SQLite's
progress handler).

1. Why: the same FTS query, uncapped, straight through sqlite3 on the same
   store, for 1 word (the baseline) and for 32, 1,000 and 7,000 of the
   corpus's 400 most common words (repeated past 400); each run stopped at
   20 s. Figures are ratios to the 1-word query; they grow with the store.
2. What a user of the page sees: `GET /api/conversations/ID` over HTTP,
   alone (the baseline) and while another request searches for 7,000 common
   words, or for 32 (the most allowed), alternated. Target: opening during
   either search ≤ 3× opening alone (median).

The store is bench_store's (sentences of CPython's reference docs, a fixed
seed). Run alone: `PYTHONPATH=src python bench/bench_search_bound.py [--quick]`.
"""

from __future__ import annotations

import collections
import re
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from contextlib import closing
from pathlib import Path

import run as common

TARGET_RATIO = 3.0
RAW_LIMIT_S = 20.0


def _common_words(path: Path, count: int) -> list[str]:
    with closing(sqlite3.connect(path)) as conn:
        text = " ".join(row[0] for row in conn.execute("SELECT content FROM messages LIMIT 2000"))
    counts = collections.Counter(w.lower() for w in re.findall(r"[A-Za-z]{3,}", text))
    return [w for w, _ in counts.most_common(count)]


def _raw_search_s(path: Path, words: list[str]) -> tuple[float, bool]:
    """The FTS query as it ran before the cap; (seconds, stopped at RAW_LIMIT_S)."""
    from chinwag.history.schema import fts_query

    with closing(sqlite3.connect(path)) as conn:
        deadline = time.monotonic() + RAW_LIMIT_S
        conn.set_progress_handler(lambda: time.monotonic() > deadline, 1000)
        start = time.perf_counter()
        try:
            conn.execute("SELECT rowid FROM messages_fts WHERE messages_fts MATCH ? ORDER BY rowid DESC LIMIT 20",
                         (fts_query(" ".join(words)),)).fetchall()
        except sqlite3.OperationalError:
            return time.perf_counter() - start, True
        return time.perf_counter() - start, False


def _open_s(served: object, cid: int) -> float:
    start = time.perf_counter()
    status, _, _ = served.request("GET", f"/api/conversations/{cid}")  # type: ignore[attr-defined]
    assert status == 200, status
    return time.perf_counter() - start


def _during(served: object, query: str, cid: int) -> float:
    """Opening a conversation while another connection runs the search."""
    answered: list[int] = []
    searching = threading.Thread(target=lambda: answered.append(
        served.request("GET", f"/api/conversations?q={query}")[0]))  # type: ignore[attr-defined]
    searching.start()
    time.sleep(0.02)  # the search's request is in the server first
    took = _open_s(served, cid)
    searching.join()
    return took


def run(quick: bool = False) -> str:
    common.repo_on_path()
    import bench_store
    from tests.test_web_support import serve

    from chinwag.history.store import MAX_SEARCH_WORDS

    messages, conversations = (4_000, 200) if quick else (20_000, 1_000)
    rounds = 7 if quick else 21
    with tempfile.TemporaryDirectory(prefix="chinwag-bench-") as home:
        env = common.clean_env(home, ANTHROPIC_API_KEY="unused", ANTHROPIC_BASE_URL="http://127.0.0.1:9")
        path = Path(home) / "history.db"
        bench_store._build(path, messages, conversations)
        words = _common_words(path, 400)
        sizes = [1, 32, 1000, 7000]
        raw = {n: _raw_search_s(path, (words * (n // len(words) + 1))[:n]) for n in sizes}
        hostile = "+".join((words * (7000 // len(words) + 1))[:7000])
        most = "+".join(words[:MAX_SEARCH_WORDS])
        samples: dict[str, list[float]] = {"alone": [], "7000": [], "32": []}
        with serve(env) as served:
            _open_s(served, 1)  # warm: the reader is open
            for name in common.alternate(rounds, "alone", "7000", "32"):
                if name == "alone":
                    samples[name].append(_open_s(served, 1 + len(samples[name]) % conversations))
                else:
                    samples[name].append(_during(served, hostile if name == "7000" else most, 1))
    return _report(quick, messages, raw, samples)


def _report(quick: bool, messages: int, raw: dict[int, tuple[float, bool]], samples: dict[str, list[float]]) -> str:
    base = raw[1][0]
    raw_rows = [(f"{n:,}", f"{s * 1000:,.1f}" + (" (stopped)" if stopped else ""), f"{s / base:,.0f}×")
                for n, (s, stopped) in raw.items()]
    alone = statistics.median(samples["alone"])
    ratios = {k: statistics.median(v) / alone for k, v in samples.items()}
    ok = all(ratios[k] <= TARGET_RATIO for k in ("7000", "32"))
    return "\n\n".join([
        "## A hostile search against opening a conversation",
        f"A store of {messages:,} messages (bench_store's corpus). The uncapped FTS query, straight through "
        f"sqlite3, for N of the corpus's most common words (stopped at {RAW_LIMIT_S:g} s):",
        common.table(["words", "ms", "vs 1 word"], raw_rows),
        "`GET /api/conversations/1` on `chinwag serve`, alone and while another request searches:",
        common.table(["opening a conversation", "ms: median (min–max)", "vs alone"], [
            ("alone (baseline)", common.ms_range(samples["alone"]), "1.00×"),
            ("during a 7,000-word search (refused: over the cap)", common.ms_range(samples["7000"]),
             f"{ratios['7000']:.2f}×"),
            ("during a 32-word search of common words", common.ms_range(samples["32"]), f"{ratios['32']:.2f}×"),
        ]),
        f"- opening during either search ≤ {TARGET_RATIO:g}× opening alone (median): {verdict_line(ratios)} "
        f"{common.verdict(ok)}",
        f"Reproduce: `PYTHONPATH=src python bench/bench_search_bound.py{' --quick' if quick else ''}`",
    ])


def verdict_line(ratios: dict[str, float]) -> str:
    return f"{ratios['7000']:.2f}× and {ratios['32']:.2f}×"


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv[1:]))
