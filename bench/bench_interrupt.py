"""Ctrl-C in the middle of a streaming reply: how long until the `You: `
prompt is back on the terminal, and until the server sees the connection
closed, for the Anthropic provider and the OpenAI-compatible one.

Each provider gets one chinwag REPL on a pseudo-terminal (a fresh
CHINWAG_HOME, saving on, as by default) and its own in-process scripted
server (tests.fakes.server.ScriptedServer, 127.0.0.1): ANTHROPIC_BASE_URL for
the first, OPENAI_BASE_URL=<server>/v1 with CHINWAG_MODEL=openai:test for the
second. Each turn the server streams HELD_AFTER of its words CHUNK_DELAY
apart and then holds the rest (Reply.hold_after); once the first is on the
terminal, the server has written the last one and PAUSE has passed (chinwag is then blocked reading the
socket), this process stamps time.monotonic() and sends Ctrl-C
(pexpect.sendintr: the terminal's interrupt character, so the line
discipline sends SIGINT). Measured, on the same clock:
- Ctrl-C -> `You: ` read from the pty (after the "stopped" notice);
- Ctrl-C -> the scripted server counting the connection as closed by the
  client (a thread blocked in ScriptedServer.wait_closed stamps the moment
  it wakes);

Baseline, in the same run and alternated with the above: the pty round trip
of a plain echo program (`python -c` looping on input() and printing
"echo: " + the line): sending a line -> reading its "echo: ..." back. The
Ctrl-C times are shown as multiples of it.

Target (the issue): Ctrl-C stops the reply within 100 ms (median of REPS
runs each, after one uncounted; --quick: 5). Run alone:
`python bench/bench_interrupt.py [--quick]`.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as common  # noqa: E402

common.repo_on_path()

TARGET_MS = 100.0
CHUNKS = 20
HELD_AFTER = 10
CHUNK_DELAY = 0.002
PAUSE = 0.05  # after the last word before the hold, before Ctrl-C
ECHO = "while True:\n    line = input('You: ')\n    print('echo: ' + line, flush=True)\n"
ANTHROPIC, OPENAI, BASELINE = "chinwag (Anthropic)", "chinwag (OpenAI-compatible)", "plain echo (baseline)"


class Interrupted(common.PtyProgram):
    """One chinwag REPL whose replies get Ctrl-C mid-stream."""

    def __init__(self, name: str, server: Any, env: dict[str, str], cwd: str) -> None:
        self.name, self.server = name, server
        super().__init__(common.CHINWAG, [], env, cwd)
        self.to_prompt: list[float] = []
        self.to_closed: list[float] = []

    def once(self, t: int, counted: bool) -> None:
        from tests.fakes.server import Reply

        words = [f"t{t}w{k}" for k in range(CHUNKS)]
        reply = Reply(chunks=[w + " " for w in words], chunk_delay=CHUNK_DELAY, hold_after=HELD_AFTER)
        self.server.enqueue(reply)
        closed_before = self.server.closed_connections
        try:
            before = len(self.server.requests)
            self.child.sendline(f"question {t}")
            # The first word on the terminal, then the server at its hold: the
            # markdown view may keep the last few words for its next repaint.
            _, start = self.reader.wait_for(words[0].encode(), self.pos, timeout=30)
            deadline = time.monotonic() + 30
            while len(self.server.requests[before].text_sent_at) < HELD_AFTER:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{self.name}: the server did not reach its hold")
                time.sleep(0.001)
            time.sleep(PAUSE)
            self.reader.drain(0)
            if self.reader.buf.find(words[HELD_AFTER].encode(), start) >= 0:
                raise RuntimeError(f"{self.name}: text after the hold reached the terminal")
            closed_at: list[float] = []

            def watch() -> None:
                if self.server.wait_closed(closed_before + 1, timeout=10):
                    closed_at.append(time.monotonic())

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            pressed = time.monotonic()
            self.child.sendintr()
            _, notice = self.reader.wait_for(b"stopped", start, timeout=10)
            prompt, self.pos = self.reader.wait_for(b"You: ", notice, timeout=10)
            watcher.join(10)
            if not closed_at:
                raise RuntimeError(f"{self.name}: the server did not see the connection closed")
        finally:
            reply.release.set()
        if counted:
            self.to_prompt.append(prompt - pressed)
            self.to_closed.append(closed_at[0] - pressed)


class Echo(common.PtyProgram):
    """The baseline: a line sent to a plain echo program on a pty, read back."""

    def __init__(self, env: dict[str, str], cwd: str) -> None:
        super().__init__(common.PYTHON, ["-c", ECHO], env, cwd)
        self.round_trip: list[float] = []

    def once(self, t: int, counted: bool) -> None:
        text = f"line {t}"
        start = len(self.reader.buf)
        sent = time.monotonic()
        self.child.sendline(text)
        seen, end = self.reader.wait_for(f"echo: {text}".encode(), start, timeout=30)
        _, self.pos = self.reader.wait_for(b"You: ", end, timeout=30)
        if counted:
            self.round_trip.append(seen - sent)


def run(quick: bool = False) -> str:
    from tests.fakes.server import ScriptedServer

    reps = 5 if quick else 15
    cwd = tempfile.mkdtemp(prefix="chinwag-bench-cwd-")
    homes = [tempfile.mkdtemp(prefix="chinwag-bench-home-") for _ in range(3)]
    with ScriptedServer() as s1, ScriptedServer() as s2:
        contenders: dict[str, Any] = {}
        try:
            contenders[ANTHROPIC] = Interrupted(ANTHROPIC, s1, common.clean_env(
                homes[0], ANTHROPIC_API_KEY="test", ANTHROPIC_BASE_URL=s1.base_url), cwd)
            contenders[OPENAI] = Interrupted(OPENAI, s2, common.clean_env(
                homes[1], OPENAI_BASE_URL=s2.base_url + "/v1", CHINWAG_MODEL="openai:test"), cwd)
            contenders[BASELINE] = Echo(common.clean_env(homes[2]), cwd)
            names = list(contenders)
            for name in names:  # uncounted: the first turn imports the HTTP stack
                contenders[name].once(0, counted=False)
            for t, name in enumerate(common.alternate(reps, *names), start=1):
                contenders[name].once(t, counted=True)
        finally:
            for c in contenders.values():
                c.close()
    for p in (cwd, *homes):
        shutil.rmtree(p, ignore_errors=True)

    def med(xs: list[float]) -> float:
        return common.summary(xs)["median"]

    base = med(contenders[BASELINE].round_trip)
    rows = []
    for name in (ANTHROPIC, OPENAI):
        c = contenders[name]
        rows.append((name, common.ms_range(c.to_prompt, 2), f"{med(c.to_prompt) / base:.1f}×",
                     common.ms_range(c.to_closed, 2), f"{med(c.to_closed) / base:.1f}×"))
    rows.append((BASELINE + ": line sent → echoed", common.ms_range(contenders[BASELINE].round_trip, 2), "1.0×",
                 "", ""))
    targets = []
    for name in (ANTHROPIC, OPENAI):
        c = contenders[name]
        for what, xs in (("`You: ` back on the terminal", c.to_prompt),
                         ("the server sees the connection closed", c.to_closed)):
            m = med(xs) * 1000
            targets.append(f"- {name}: Ctrl-C mid-reply → {what} ≤ {TARGET_MS:g} ms (median): {m:.2f} ms "
                           f"(slowest {max(xs) * 1000:.2f} ms) {common.verdict(m <= TARGET_MS)}")
    lines = [
        "## Ctrl-C mid-reply: back to the prompt, connection closed",
        "",
        f"A chinwag REPL per provider on a pseudo-terminal (fresh CHINWAG_HOME, saving on), each with its own "
        f"scripted server that streams {HELD_AFTER} words {CHUNK_DELAY * 1000:.0f} ms apart and then holds the "
        f"rest; {PAUSE * 1000:.0f} ms after the server wrote the last of them, Ctrl-C (pexpect `sendintr`). "
        f"{reps} runs each after one uncounted, alternated with the baseline: a plain `python -c` echo loop "
        "on a pty, line sent → `echo: line` read back. Server closed = the scripted server counting the "
        "connection as closed by the client. (No `^C` echo is measured: the chat keeps keys typed during a "
        "reply out of it, so the terminal echoes nothing then.) All times from the moment Ctrl-C is sent, time.monotonic on both sides.",
        "",
        common.table(["Program", "Ctrl-C → `You: ` ms: median (min–max)", "× echo round trip",
                      "Ctrl-C → server closed ms: median (min–max)", "× echo round trip"],
                     rows),
        "",
        *targets,
        "",
        "Reproduce: `python bench/bench_interrupt.py" + (" --quick" if quick else "") + "`",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
