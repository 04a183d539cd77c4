"""Memory and per-turn time of a long session, in chinwag's REPL on a
pseudo-terminal against an in-process scripted Anthropic server (127.0.0.1).

1. One conversation of TURNS turns (500; --quick 100): each reply is a few
   sentences (~200 characters), so the history sent grows every turn. Peak
   RSS is the chinwag process's VmHWM in /proc/<pid>/status, read just
   before `quit`; VmRSS is sampled along the way. Per-turn time is Enter ->
   the next `You: ` prompt (time.monotonic), turns 2 to 10%+1 vs the last 10%.
   For scale the same turns are timed with the tutorial's bare loop
   (bench/tutorial_bot.py), turn by turn alternated with chinwag.
2. Saved conversations: two chinwag REPLs side by side, one with an empty
   CHINWAG_HOME, one whose history already holds SAVED conversations (built
   with chinwag.history.store's public API), alternated turn by turn; per-turn time
   should not depend on how much is saved.

Targets (issue 7): peak RSS < 150 MB; per-turn time does not grow with the
number of saved conversations (median ratio <= 1.10 here, allowing noise).
Run alone: `python bench/bench_memory.py [--quick]`.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as common  # noqa: E402

common.repo_on_path()

TARGET_MB = 150
TARGET_SAVED_RATIO = 1.10
SAVED = 1000  # conversations in the prefilled store
SAVED_TURNS = 5
TUTORIAL = str(Path(__file__).resolve().parent / "tutorial_bot.py")
FILLER = ("The answer depends on the details, but in short it works as described. ",
          "Each step follows from the previous one and the result is stable. ")


def _status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in kB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields


class Chat(common.PtyProgram):
    def __init__(self, name: str, command: str, args: list[str], server: Any, home: str, cwd: str) -> None:
        self.name, self.server = name, server
        super().__init__(command, args, common.scripted_env(home, server), cwd)
        self.times: list[float] = []
        self.started_rss = _status(self.child.pid)["VmRSS"]

    def turn(self, t: int) -> None:
        from tests.fakes.server import Reply

        end = f"end{t}."
        self.server.enqueue(Reply(chunks=[f"Reply {t}: ", *FILLER, end]))
        start = len(self.reader.buf)
        sent = time.monotonic()
        self.child.sendline(f"Question number {t}: how does this part work?")
        _, pos = self.reader.wait_for(end.encode(), start, timeout=60)
        done, self.pos = self.reader.wait_for(b"You: ", pos, timeout=60)
        self.times.append(done - sent)
        if len(self.reader.buf) > 1 << 20:  # keep the transcript small
            del self.reader.buf[:]
            self.reader.reads.clear()
            self.pos = 0

    def memory(self) -> dict[str, int]:
        return _status(self.child.pid)


def _prefill(home: str) -> float:
    from chinwag.paths import database_file
    from chinwag.history.store import Store

    start = time.perf_counter()
    store = Store.open(database_file({"CHINWAG_HOME": home}))
    try:
        for c in range(SAVED):
            cid = store.start_conversation(model="claude-sonnet-4-20250514", system="You are a helpful assistant.")
            for t in range(SAVED_TURNS):
                store.add_message(cid, "user", f"Saved question {c}.{t}: how does this part work?")
                rid = store.begin_reply(cid, model="claude-sonnet-4-20250514")
                store.update_reply(rid, f"Saved reply {c}.{t}: " + "".join(FILLER), status="complete",
                                   input_tokens=40, output_tokens=30, ttft=0.3, duration=1.0)
    finally:
        store.close()
    return time.perf_counter() - start


def run(quick: bool = False) -> str:
    from tests.fakes.server import ScriptedServer

    turns = 100 if quick else 500
    saved_turns = 10 if quick else 30
    tenth = turns // 10
    cwd = tempfile.mkdtemp(prefix="chinwag-bench-cwd-")
    homes = [tempfile.mkdtemp(prefix="chinwag-bench-home-") for _ in range(4)]
    samples: list[tuple[int, int]] = []
    try:
        # 1. the long conversation
        with ScriptedServer() as s1, ScriptedServer() as s2:
            chinwag = Chat("chinwag", common.CHINWAG, [], s1, homes[0], cwd)
            bare = Chat("bare loop (tutorial)", common.PYTHON, [TUTORIAL], s2, homes[1], cwd)
            try:
                for t in range(1, turns + 1):
                    for chat in ((chinwag, bare) if t % 2 else (bare, chinwag)):
                        chat.turn(t)
                    if t % tenth == 0:
                        samples.append((t, chinwag.memory()["VmRSS"]))
                final = {c.name: c.memory() for c in (chinwag, bare)}
                started = {c.name: c.started_rss for c in (chinwag, bare)}
                body_kb = len(s1.requests[-1].body) / 1024
            finally:
                chinwag.close()
                bare.close()
        # 2. saved conversations
        prefill_s = _prefill(homes[3])
        with ScriptedServer() as s3, ScriptedServer() as s4:
            empty = Chat("empty history", common.CHINWAG, [], s3, homes[2], cwd)
            full = Chat(f"{SAVED} saved conversations", common.CHINWAG, [], s4, homes[3], cwd)
            try:
                for t in range(1, saved_turns + 2):
                    for chat in ((empty, full) if t % 2 else (full, empty)):
                        chat.turn(t)
            finally:
                empty.close()
                full.close()
    finally:
        for p in (cwd, *homes):
            shutil.rmtree(p, ignore_errors=True)

    def med(xs: list[float]) -> float:
        return common.summary(xs)["median"]

    peak_mb = final["chinwag"]["VmHWM"] / 1024
    rows = []
    for chat in (chinwag, bare):
        early, late = chat.times[1:tenth + 1], chat.times[-tenth:]  # turn 1 waits for warm-up
        rows.append((chat.name, common.rss_mb(started[chat.name]), common.rss_mb(final[chat.name]["VmRSS"]),
                     common.rss_mb(final[chat.name]["VmHWM"]), common.ms_range(early), common.ms_range(late),
                     f"{med(late) / med(early):.2f}×"))
    empty_t, full_t = empty.times[1:], full.times[1:]  # turn 1 warms up
    saved_ratio = med(full_t) / med(empty_t)
    lines = [
        "## Memory and per-turn time of a long session",
        "",
        f"One conversation of {turns} turns in the REPL (scripted Anthropic server, ~200-character replies; "
        f"the last request carried {body_kb:.0f} KB of history), turn by turn alternated with the tutorial's "
        f"bare loop. Per-turn time = Enter → next `You: ` prompt; turns 2–{tenth + 1} (turn 1 includes the "
        f"start-up warm-up) vs "
        f"{turns - tenth + 1}–{turns}.",
        "",
        common.table(["Program", "RSS at prompt MB", f"RSS after {turns} turns MB", "peak RSS (VmHWM) MB",
                      f"turns 2–{tenth + 1} ms", f"turns {turns - tenth + 1}–{turns} ms", "late ÷ early"], rows),
        "",
        "chinwag's RSS along the way (MB): " + ", ".join(f"turn {t}: {kb / 1024:.1f}" for t, kb in samples),
        "",
        f"Saved conversations: {saved_turns} turns (after a warm-up turn) in two chinwag REPLs alternated turn "
        f"by turn, one with an empty history, one with {SAVED} saved conversations × {SAVED_TURNS} turns "
        f"({SAVED * SAVED_TURNS * 2} messages, built in {prefill_s:.1f} s):",
        "",
        common.table(["chinwag with", "per-turn ms: median (min–max)"],
                     [(empty.name, common.ms_range(empty_t)), (full.name, common.ms_range(full_t))]),
        "",
        f"- chinwag's peak RSS over {turns} turns < {TARGET_MB} MB: {peak_mb:.1f} MB "
        f"{common.verdict(peak_mb < TARGET_MB)}",
        f"- per-turn time with {SAVED} saved conversations ÷ with none ≤ {TARGET_SAVED_RATIO}: {saved_ratio:.2f}× "
        f"{common.verdict(saved_ratio <= TARGET_SAVED_RATIO)}",
        "",
        "Reproduce: `python bench/bench_memory.py" + (" --quick" if quick else "") + "`",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
