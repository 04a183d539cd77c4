"""What prices and budgets cost (issue 23): a reply's cost at the end of a
turn, the budget check before a request, and launch to `You: `.

1. Turn end: `Session.priced(reply)` (the price looked up once and kept, then
   float arithmetic) and `Session.count_reply` (the run's totals and the
   budgets), per reply, against the same loop doing nothing (the baseline);
   also the history's final UPDATE with the usage columns against without
   (on the writer thread, off the chat's path). Target: ≤ 0.1 ms added.
2. The budget check: `Session.check_budget(request)` with all four budgets
   set, on a request of 200 messages (400 KB of text) and 20 tools, against
   the same call with no budget set; the first check, which reads the history's
   totals (here 20,000 stored replies), apart. Target: ≤ 1 ms (every check after
   the first of the day).
3. Launch to `You: ` on a bare pty, config with 20 `[prices]` overrides and
   every budget against an empty config, alternated (as bench_startup_pty.py);
   and the modules of genai_prices imported before `You: ` (Python's import
   log, PYTHONPROFILEIMPORTTIME): 0. Target: ≤ 1.10× (unchanged within noise).

Run alone: `python bench/bench_costs.py [--quick]`.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as common  # noqa: E402
from pty_launch import time_launches  # noqa: E402

common.repo_on_path()
sys.path.insert(0, str(common.ROOT / "src"))

TURN_END_TARGET_MS = 0.1
CHECK_TARGET_MS = 1.0
LAUNCH_TARGET = 1.10
PRICES = "".join(f'[prices."model-{n}"]\ninput = 0.{n + 1}\noutput = {n + 1}\n' for n in range(20))
BUDGETS = "budget_per_conversation = 5\nbudget_per_day = 20\nbudget_per_month = 200\n"


def _session(config: str, home: str, budget: str | None = None):  # noqa: ANN202
    from chinwag.config import resolve
    from chinwag.session import open_session

    Path(home, "config.toml").write_text(config)
    env = common.clean_env(home, ANTHROPIC_API_KEY="test", ANTHROPIC_BASE_URL="http://127.0.0.1:9",
                           CHINWAG_MODEL="anthropic:claude-sonnet-4-5")
    settings = resolve(env, Path(home), {"budget": budget, "max_tokens": 4096})
    return open_session(settings, env)


def _per_call(fn, n: int) -> float:  # noqa: ANN001
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def turn_end(reps: int) -> tuple[list[float], list[float]]:
    """Seconds per reply: pricing and counting it, and the baseline loop."""
    from chinwag.records import Reply, ReplyUsage

    home = tempfile.mkdtemp(prefix="chinwag-bench-costs-")
    try:
        session = _session(BUDGETS, home)
        reply = Reply("x", "complete", 5_000, 800, usage=ReplyUsage(cache_read_tokens=2_000))
        session.prices.price(session.model, session.settings.provider)  # looked up once, as the warm-up does
        priced, base = [], []
        for _ in range(reps):
            base.append(_per_call(lambda: None, 2_000))
            priced.append(_per_call(lambda: session.count_reply(session.priced(reply)), 2_000))
        return priced, base
    finally:
        shutil.rmtree(home, ignore_errors=True)


def stored_update(reps: int) -> tuple[list[float], list[float]]:
    """Seconds per final UPDATE of a reply, with the usage columns and without."""
    from chinwag.history.store import Store
    from chinwag.records import ReplyUsage

    home = tempfile.mkdtemp(prefix="chinwag-bench-costs-")
    try:
        store = Store.open(Path(home) / "history.db")
        cid = store.start_conversation("m")
        rows = [store.begin_reply(cid, "m") for _ in range(reps * 2 * 50)]
        usage = ReplyUsage("anthropic", 2_000, 0, None, 0.0123, "genai-prices 0.2.3")
        with_usage, without = [], []
        it = iter(rows)
        for rep in range(reps):
            for name in common.alternate(1, "without", "with")[:: 1 if rep % 2 else -1]:  # A, B then B, A
                given = usage if name == "with" else None
                took = _per_call(lambda: store.update_reply(next(it), "t", "complete", input_tokens=5,
                                                            output_tokens=8, usage=given), 50)
                (with_usage if given else without).append(took)
        store.close()
        return with_usage, without
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _fill_history(home: str, replies: int) -> None:
    import sqlite3

    from chinwag.history.store import Store

    db = Path(home) / "history.db"
    Store.open(db).close()
    now = time.time()
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO conversations (id, created_at, updated_at) VALUES (1, ?, ?)", (now, now))
        conn.executemany(
            "INSERT INTO messages (conversation_id, role, content, status, input_tokens, output_tokens, cost,"
            " price_source, created_at, updated_at) VALUES (1, 'assistant', '', 'complete', 10, 10, 0.0001,"
            " 'config', ?, ?)", [(now - i * 60, now - i * 60) for i in range(replies)])


def budget_check(reps: int) -> tuple[list[float], list[float], float]:
    """Seconds per check with budgets and with none, and the first check (reading the history)."""
    from chinwag.records import ChatRequest, Message, ToolSpec

    home, bare = tempfile.mkdtemp(prefix="chinwag-bench-costs-"), tempfile.mkdtemp(prefix="chinwag-bench-costs-")
    try:
        _fill_history(home, 20_000)
        budgeted, unbudgeted = _session(BUDGETS, home, budget="100"), _session("", bare)
        for session in (budgeted, unbudgeted):
            session.recorder.conversation_id = 1
            session.prices.price(session.model, session.settings.provider)
        schema = {"type": "object", "properties": {f"p{i}": {"type": "string"} for i in range(10)}}
        tools = tuple(ToolSpec(f"tool_{i}", "does a thing " * 20, schema) for i in range(20))
        messages = tuple(Message("user" if i % 2 == 0 else "assistant", "word " * 400) for i in range(200))
        request = ChatRequest("claude-sonnet-4-5", messages, "Be brief.", 4096, tools=tools)
        start = time.perf_counter()
        budgeted.check_budget(request)
        first = time.perf_counter() - start
        checked, none = [], []
        for _ in range(reps):
            none.append(_per_call(lambda: unbudgeted.check_budget(request), 200))
            checked.append(_per_call(lambda: budgeted.check_budget(request), 200))
        for session in (budgeted, unbudgeted):
            session.close()
        return checked, none, first
    finally:
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(bare, ignore_errors=True)


def launch(reps: int, base_url: str) -> tuple[dict[str, list[float]], int]:
    def setup(name: str, home: str) -> tuple[list[str], dict[str, str]]:
        Path(home, "config.toml").write_text("" if name == "empty config" else BUDGETS + PRICES)
        return [common.CHINWAG], common.clean_env(home, ANTHROPIC_API_KEY="test", ANTHROPIC_BASE_URL=base_url)

    return time_launches(["empty config", "20 prices and every budget"], reps, setup), _genai_before_prompt(base_url)


def _genai_before_prompt(base_url: str) -> int:
    """Lines of Python's import log naming genai_prices before `You: `."""
    import pexpect

    home = tempfile.mkdtemp(prefix="chinwag-bench-home-")
    cwd = tempfile.mkdtemp(prefix="chinwag-bench-cwd-")
    try:
        Path(home, "config.toml").write_text(BUDGETS + PRICES)
        env = common.clean_env(home, ANTHROPIC_API_KEY="test", ANTHROPIC_BASE_URL=base_url,
                               PYTHONPROFILEIMPORTTIME="1")
        child = pexpect.spawn(common.CHINWAG, [], env=env, cwd=cwd, encoding="utf-8", timeout=60)
        child.expect("You: ")
        before = child.before
        child.sendline("quit")
        child.expect(pexpect.EOF)
        return sum(1 for line in before.splitlines() if "genai_prices" in line)
    finally:
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(cwd, ignore_errors=True)


def run(quick: bool = False) -> str:
    from tests.fakes.server import ScriptedServer

    reps = 7 if quick else 21
    priced, base = turn_end(reps)
    with_usage, without = stored_update(reps)
    checked, none, first = budget_check(reps)
    with ScriptedServer() as server:
        times, genai_lines = launch(reps, server.base_url)
    med = statistics.median
    added = med(priced) - med(base)
    stored = med(with_usage) - med(without)
    check = med(checked) - med(none)
    lmed = {name: med(t) for name, t in times.items()}
    ratio = lmed["20 prices and every budget"] / lmed["empty config"]
    us = lambda s: f"{s * 1e6:.1f}"  # noqa: E731
    rows = [
        ("turn end: price and count a reply", us(med(priced)), us(med(base)), us(added)),
        ("history: the final UPDATE, with usage vs without (writer thread)", us(med(with_usage)), us(med(without)),
         us(stored)),
        ("budget check: 4 budgets vs none (200 messages, 20 tools)", us(med(checked)), us(med(none)), us(check)),
    ]
    launch_rows = [(name, common.ms_range(t), f"{lmed[name] / lmed['empty config']:.2f}×") for name, t in times.items()]
    return "\n".join([
        "## Costs and budgets",
        "",
        f"Per call, medians of {reps} batches (µs); each row against its baseline in the same run.",
        "",
        common.table(["what", "µs", "baseline µs", "added µs"], rows),
        "",
        f"- a reply's cost at the end of a turn ≤ {TURN_END_TARGET_MS} ms: {added * 1e3:.4f} ms "
        f"{common.verdict(added * 1e3 <= TURN_END_TARGET_MS)}",
        f"- the budget check before a request ≤ {CHECK_TARGET_MS} ms: {check * 1e3:.3f} ms "
        f"{common.verdict(check * 1e3 <= CHECK_TARGET_MS)}; the first of a day, reading the totals of 20,000 "
        f"stored replies: {first * 1e3:.1f} ms (once)",
        "",
        f"Launch to `You: ` on a bare pty, {reps} alternated runs each after one untimed run:",
        "",
        common.table(["config.toml", "ms: median (min–max)", "× empty"], launch_rows),
        "",
        f"- with prices and budgets ≤ {LAUNCH_TARGET}× without: {ratio:.2f}× {common.verdict(ratio <= LAUNCH_TARGET)}",
        f"- genai_prices modules imported before `You: ` (import log): {genai_lines} "
        f"{common.verdict(genai_lines == 0)}",
        "",
        "Reproduce: `python bench/bench_costs.py" + (" --quick" if quick else "") + "`",
    ]) + "\n"


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
