"""REPL latency on second and later turns: from the scripted server writing a
text event to that text appearing on the pseudo-terminal.

Both contenders chat with their own in-process scripted Anthropic server
(tests.fakes.server.ScriptedServer, 127.0.0.1) and run on pseudo-terminals
read by this process:
- chinwag's REPL (ANTHROPIC_API_KEY=test, ANTHROPIC_BASE_URL=the server);
- the bare loop: the tutorial's REPL script (bench/tutorial_bot.py, its SDK
  imported at start, long before the timed turns).

Each turn the server sends CHUNKS text events, CHUNK_DELAY apart, each a
word unique to its turn and position ("t12c "). The server stamps each
event with time.monotonic() when it hands it to the socket
(RecordedRequest.text_sent_at); this process stamps each read from the pty
with time.monotonic() and finds the read that completed each word. Same
clock, same machine. Turn 1 is a warm-up for both and is not counted; the
contenders take turns, alternating who goes first.

Target (issue 7): chinwag's median added latency over the bare loop <= 2 ms
(50 turns; --quick: 10). Run alone: `python bench/bench_repl_latency.py [--quick]`.
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

TARGET_MS = 2.0
CHUNKS = 6
CHUNK_DELAY = 0.010
TUTORIAL = str(Path(__file__).resolve().parent / "tutorial_bot.py")


class Contender(common.PtyProgram):
    def __init__(self, name: str, command: str, args: list[str], server: Any, home: str, cwd: str) -> None:
        self.name, self.server = name, server
        super().__init__(command, args, common.scripted_env(home, server), cwd)
        self.first: list[float] = []  # latency of each turn's first text event
        self.every: list[float] = []  # latency of every text event
        self.turn_time: list[float] = []  # Enter -> next prompt
        self.to_request: list[float] = []  # Enter -> the request at the server, turns 2+
        self.to_text: list[float] = []  # Enter -> the first text on the terminal, turns 2+
        self.turn1: tuple[float, float] | None = None  # turn 1: (Enter -> request, first event latency)

    def turn(self, t: int, counted: bool) -> None:
        from tests.fakes.server import Reply

        words = [f"t{t}{chr(ord('a') + k)}" for k in range(CHUNKS)]
        self.server.enqueue(Reply(chunks=[w + " " for w in words], chunk_delay=CHUNK_DELAY))
        before = len(self.server.requests)
        start = len(self.reader.buf)
        sent = time.monotonic()
        self.child.sendline(f"question {t}")
        seen = []
        for word in words:
            when, end = self.reader.wait_for(word.encode(), start, timeout=30)
            seen.append(when)
            start = end
        done, self.pos = self.reader.wait_for(b"You: ", start, timeout=30)
        request = self.server.requests[before]
        if len(request.text_sent_at) != CHUNKS:
            raise RuntimeError(f"{self.name}: the server sent {len(request.text_sent_at)} text events")
        latencies = [s - w for s, w in zip(seen, request.text_sent_at)]
        if not counted:
            self.turn1 = (request.received_at - sent, latencies[0])
        else:
            self.to_request.append(request.received_at - sent)
            self.to_text.append(seen[0] - sent)
            self.first.append(latencies[0])
            self.every += latencies
            self.turn_time.append(done - sent)


def run(quick: bool = False) -> str:
    from tests.fakes.server import ScriptedServer

    turns = 10 if quick else 50
    cwd = tempfile.mkdtemp(prefix="chinwag-bench-cwd-")
    homes = [tempfile.mkdtemp(prefix="chinwag-bench-home-") for _ in range(2)]
    with ScriptedServer() as s1, ScriptedServer() as s2:
        # Raw text, as the bare loop prints it; bench_markdown_latency compares the markdown view.
        chinwag = Contender("chinwag", common.CHINWAG, ["--render", "plain"], s1, homes[0], cwd)
        bare = Contender("bare loop (tutorial)", common.PYTHON, [TUTORIAL], s2, homes[1], cwd)
        try:
            for t in range(1, turns + 2):
                pair = (chinwag, bare) if t % 2 else (bare, chinwag)
                for c in pair:
                    c.turn(t, counted=t > 1)
        finally:
            chinwag.close()
            bare.close()
    for p in (cwd, *homes):
        shutil.rmtree(p, ignore_errors=True)

    def med(xs: list[float]) -> float:
        return common.summary(xs)["median"]

    def p90(xs: list[float]) -> float:
        return sorted(xs)[int(0.9 * (len(xs) - 1))]

    rows = []
    for c in (chinwag, bare):
        rows.append((c.name, common.ms_range(c.first, 2), common.ms_range(c.every, 2), common.ms(p90(c.every), 2),
                     common.ms(med(c.turn_time)), common.ms(med(c.to_request)), common.ms(med(c.to_text)),
                     f"{common.ms(c.turn1[0])} / {common.ms(c.turn1[1], 2)}"))
    added_all = (med(chinwag.every) - med(bare.every)) * 1000
    added_first = (med(chinwag.first) - med(bare.first)) * 1000
    lines = [
        "## REPL latency: server writes a text event → it is on the terminal",
        "",
        f"Turns 2–{turns + 1} of a chat on a pseudo-terminal ({turns} turns each, alternated), "
        f"{CHUNKS} text events per reply {CHUNK_DELAY * 1000:.0f} ms apart; latency = the server handing an event "
        "to the socket → this process reading that text from the pty (time.monotonic on both sides).",
        "",
        common.table(["Program", "first event ms: median (min–max)", "every event ms: median (min–max)",
                      "every event p90 ms", "turn ms (Enter → next prompt)", "Enter → request ms", "Enter → first text ms",
                      "turn 1 (not counted): Enter → request ms / first event ms"], rows),
        "",
        "Turn 1 is sent the moment the first prompt appears, so it shows whether the first reply waits for "
        "work (imports, connection set-up) that could have been done while the user typed.",
        "",
        f"- chinwag's added latency over the bare loop ≤ {TARGET_MS:g} ms (median, every event): "
        f"{added_all:+.2f} ms {common.verdict(added_all <= TARGET_MS)}",
        f"- chinwag's added latency over the bare loop ≤ {TARGET_MS:g} ms (median, each reply's first event): "
        f"{added_first:+.2f} ms {common.verdict(added_first <= TARGET_MS)}",
        "",
        "Reproduce: `python bench/bench_repl_latency.py" + (" --quick" if quick else "") + "`",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
