"""What saving the conversation costs a streamed reply: chinwag's REPL with
its history store on (the default: SQLite in WAL mode, the user message saved
before the request leaves, the reply saved by a timer thread every 250 ms
while it streams and once at the end) against `chinwag --no-save`, in the
same run.

Each contender is its own chinwag REPL on a pseudo-terminal (a fresh
CHINWAG_HOME each), talking to its own in-process scripted Anthropic server
(tests.fakes.server.ScriptedServer, 127.0.0.1). They take turns, alternating
who goes first; turn 1 is a warm-up and is not counted.

(a) Time to first token on turns 2 and later, as in bench_repl_latency.py:
the server hands a text event to the socket (RecordedRequest.text_sent_at,
time.monotonic) -> this process reads that text from the pty (same clock).
Short replies: CHUNKS words, CHUNK_DELAY apart.

(b) A long streamed reply: LONG_CHUNKS text events LONG_DELAY apart (about
two seconds, so the timer thread saves ~8 times), from Enter to the next
`You: ` prompt. Alongside: the latency of every one of its events (does a
save ever hold text back?) and the child's CPU time per turn (utime+stime
from /proc/<pid>/stat, all threads).

Targets: saving adds < 1 ms to the median first-token latency, and
< 2 % to the median time of the long reply. Run alone:
`python bench/bench_save_overhead.py [--quick]`.
"""

from __future__ import annotations

import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as common  # noqa: E402

common.repo_on_path()
from tests.procs import cpu_seconds  # noqa: E402  (utime + stime, all threads)

TARGET_FIRST_MS = 1.0
TARGET_LONG = 1.02
CHUNKS = 6
CHUNK_DELAY = 0.010
LONG_CHUNKS = 400
LONG_DELAY = 0.005


class Contender(common.PtyProgram):
    def __init__(self, name: str, args: list[str], server: Any, home: str, cwd: str, **extra_env: str) -> None:
        self.name, self.server, self.home = name, server, home
        super().__init__(common.CHINWAG, args, common.scripted_env(home, server, **extra_env), cwd)
        # (a) short replies
        self.first: list[float] = []  # latency of each reply's first text event
        self.every: list[float] = []  # latency of every text event
        self.to_request: list[float] = []  # Enter -> the request at the server
        self.to_text: list[float] = []  # Enter -> the first text on the terminal
        # (b) long replies
        self.long_turn: list[float] = []  # Enter -> next prompt
        self.long_stream: list[float] = []  # the server's first -> last text event
        self.long_rest: list[float] = []  # turn - streaming: the client's own time around the stream
        self.long_every: list[float] = []  # latency of every text event
        self.long_cpu: list[float] = []  # the child's CPU seconds for the turn
        self.mid_stream_save: str | None = None

    def turn(self, t: int, words: list[str], delay: float, watch: Any = None) -> tuple[list[float], float, Any]:
        """One question and its reply of `words`; returns (per-event latencies,
        Enter -> next prompt, the server's record of the request)."""
        from tests.fakes.server import Reply

        self.server.enqueue(Reply(chunks=[w + " " for w in words], chunk_delay=delay))
        before = len(self.server.requests)
        start = len(self.reader.buf)
        sent = time.monotonic()
        self.child.sendline(f"question {t}")
        seen = []
        for k, word in enumerate(words):
            when, start = self.reader.wait_for(word.encode(), start, timeout=30)
            seen.append(when)
            if watch is not None and k == len(words) // 2:
                watch()
        done, self.pos = self.reader.wait_for(b"You: ", start, timeout=30)
        request = self.server.requests[before]
        if len(request.text_sent_at) != len(words):
            raise RuntimeError(f"{self.name}: the server sent {len(request.text_sent_at)} text events")
        latencies = [s - w for s, w in zip(seen, request.text_sent_at)]
        return latencies, done - sent, (request, sent, seen)

    def short(self, t: int, counted: bool) -> None:
        words = [f"t{t}{chr(ord('a') + k)}" for k in range(CHUNKS)]
        latencies, _, (request, sent, seen) = self.turn(t, words, CHUNK_DELAY)
        if counted:
            self.first.append(latencies[0])
            self.every += latencies
            self.to_request.append(request.received_at - sent)
            self.to_text.append(seen[0] - sent)

    def long(self, t: int, counted: bool) -> None:
        words = [f"t{t}w{k}" for k in range(LONG_CHUNKS)]
        watch = self._peek_saved if not counted and self.home_db().exists() else None
        cpu = cpu_seconds(self.child.pid)
        latencies, total, (request, _, _) = self.turn(t, words, LONG_DELAY, watch)
        cpu = cpu_seconds(self.child.pid) - cpu
        if counted:
            self.long_turn.append(total)
            self.long_stream.append(request.text_sent_at[-1] - request.text_sent_at[0])
            self.long_rest.append(total - self.long_stream[-1])
            self.long_every += latencies
            self.long_cpu.append(cpu)

    def home_db(self) -> Path:
        return Path(self.home) / "history.db"

    def _peek_saved(self) -> None:
        """Halfway through an uncounted long reply: what the database holds now."""
        conn = sqlite3.connect(self.home_db().resolve().as_uri() + "?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT status, length(content) FROM messages WHERE role = 'assistant'"
                               " ORDER BY id DESC LIMIT 1").fetchone()
        finally:
            conn.close()
        self.mid_stream_save = f"{row[0]}, {row[1]} characters" if row else "no reply row"

    def saved(self) -> str:
        if not self.home_db().exists():
            return "no database"
        conn = sqlite3.connect(self.home_db().resolve().as_uri() + "?mode=ro", uri=True)
        try:
            rows = conn.execute("SELECT role, status, count(*) FROM messages GROUP BY role, status").fetchall()
        finally:
            conn.close()
        return ", ".join(f"{n} {role} {status}" for role, status, n in rows) or "no messages"


def run(quick: bool = False) -> str:
    from tests.fakes.server import ScriptedServer

    short_turns, long_turns = (10, 4) if quick else (50, 15)
    cwd = tempfile.mkdtemp(prefix="chinwag-bench-cwd-")
    homes = [tempfile.mkdtemp(prefix="chinwag-bench-home-") for _ in range(2)]
    with ScriptedServer() as s1, ScriptedServer() as s2:
        saving = Contender("saving (default)", [], s1, homes[0], cwd)
        nosave = Contender("--no-save", ["--no-save"], s2, homes[1], cwd)
        try:
            t = 0
            for i in range(short_turns + 1):
                t += 1
                for c in ((saving, nosave) if i % 2 == 0 else (nosave, saving)):
                    c.short(t, counted=i > 0)
            for i in range(long_turns + 1):
                t += 1
                for c in ((saving, nosave) if i % 2 == 0 else (nosave, saving)):
                    c.long(t, counted=i > 0)
        finally:
            saving.close()
            nosave.close()
        saved = {c.name: c.saved() for c in (saving, nosave)}
    for p in (cwd, *homes):
        shutil.rmtree(p, ignore_errors=True)

    def med(xs: list[float]) -> float:
        return common.summary(xs)["median"]

    def pct(xs: list[float], q: float) -> float:
        return sorted(xs)[int(q * (len(xs) - 1))]

    short_rows, long_rows = [], []
    for c in (saving, nosave):
        short_rows.append((c.name, common.ms_range(c.first, 2), common.ms_range(c.every, 2),
                           common.ms(med(c.to_request), 2), common.ms(med(c.to_text), 2)))
        long_rows.append((c.name, common.ms_range(c.long_turn), f"{med(c.long_turn) / med(nosave.long_turn):.3f}×",
                          common.ms(med(c.long_stream)), common.ms(med(c.long_rest)),
                          f"{common.ms(med(c.long_every), 2)} / {common.ms(pct(c.long_every, 0.99), 2)} / "
                          f"{common.ms(max(c.long_every), 2)}",
                          common.ms(med(c.long_cpu), 0)))
    added_first = (med(saving.first) - med(nosave.first)) * 1000
    added_every = (med(saving.every) - med(nosave.every)) * 1000
    added_enter = (med(saving.to_text) - med(nosave.to_text)) * 1000
    long_ratio = med(saving.long_turn) / med(nosave.long_turn)
    cpu_ratio = med(saving.long_cpu) / med(nosave.long_cpu) if med(nosave.long_cpu) else float("nan")
    lines = [
        "## Cost of saving the conversation: default vs `--no-save`",
        "",
        "Two chinwag REPLs on pseudo-terminals, one saving (fresh CHINWAG_HOME: SQLite in WAL mode, the "
        "user message saved before the request, the reply saved every 250 ms by a timer thread and at the "
        "end) and one with `--no-save`, each with its own scripted Anthropic server; they take turns, "
        "alternating who goes first, after one uncounted turn.",
        "",
        f"(a) Time to first token, turns 2–{short_turns + 1} ({short_turns} each), {CHUNKS} text events per "
        f"reply {CHUNK_DELAY * 1000:.0f} ms apart; latency = the server handing an event to the socket → "
        "this process reading that text from the pty (time.monotonic on both sides):",
        "",
        common.table(["chinwag", "first event ms: median (min–max)", "every event ms: median (min–max)",
                      "Enter → request ms (median)", "Enter → first text ms (median)"], short_rows),
        "",
        f"Saving − no-save, medians: first event {added_first:+.2f} ms, every event {added_every:+.2f} ms, "
        f"Enter → first text {added_enter:+.2f} ms (this one includes saving the user message before the "
        "request leaves, and appending the input line to readline's history file).",
        "",
        f"(b) A long reply: {LONG_CHUNKS} text events {LONG_DELAY * 1000:.0f} ms apart, {long_turns} turns each "
        "after one uncounted; turn = Enter → the next `You: ` on the pty; server streaming = its first → "
        "last text event; the rest is the client's own time around the stream; event latency as in (a); "
        "CPU = the child's utime+stime over the turn (/proc, 10 ms ticks):",
        "",
        common.table(["chinwag", "turn ms: median (min–max)", "× --no-save", "server streaming ms",
                      "turn − streaming ms", "event latency ms: median / p99 / max", "CPU ms per turn"],
                     long_rows),
        "",
        f"Child CPU per long turn, saving ÷ no-save: {cpu_ratio:.2f}×. Halfway through the uncounted long "
        f"turn the saving chinwag's database held: {saving.mid_stream_save or 'not checked'}. Saved at the "
        f"end: {saved[saving.name]}; `--no-save`: {saved[nosave.name]}.",
        "",
        f"- saving adds < {TARGET_FIRST_MS:g} ms to the time to first token (median, each reply's first "
        f"event): {added_first:+.2f} ms {common.verdict(added_first < TARGET_FIRST_MS)}",
        f"- saving adds < {(TARGET_LONG - 1) * 100:.0f} % to a {LONG_CHUNKS}-chunk streamed reply (median, Enter "
        f"→ next prompt): {long_ratio:.3f}× {common.verdict(long_ratio < TARGET_LONG)}",
        "",
        "Reproduce: `python bench/bench_save_overhead.py" + (" --quick" if quick else "") + "`",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
