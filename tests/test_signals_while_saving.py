"""Real signals, delivered at random points while the main thread saves, never
leave the history's locks held and never lose what was saved.

The cause of the hang at exit (CI's terminal walk, after a hang-up): a signal
handler raised KeyboardInterrupt or Ending just after the main thread took the
save queue's lock, inside `threading.Condition.__enter__` (Python code, so
the handler can run between the lock's acquire and the `with` block), and the
lock stayed held; the writer thread then waited for it forever, holding the
write lock that closing needs. The same raise in the middle of a section left
the queue half-updated (a conversation row made but never queued: every
message saved into it was dropped).

A child process saves turns the way the chat does: inside the InterruptGuard,
in `allowed()` sections (where Ctrl-C raises at once, as while a reply
streams), through the real Recorder, SaveQueue, writer thread and SQLite file.
This process sends it real SIGINTs at random intervals (no simulation), then
one SIGTERM at a random point: the child ends as the chat does (Ending
unwinds the turn, the history is closed, exit 143). After every interrupt
the child notes whether its main thread still held a history lock; at the
end we read the database. The 60 s bound is a hang guard, not a timing
assertion.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
from contextlib import closing
from pathlib import Path
from queue import Queue
from typing import IO

import pytest

SIGINTS = 1000  # sent before the SIGTERM, 0.1-2 ms apart
HANG_GUARD_S = 60

CHILD = r"""
import json, signal, sys
from pathlib import Path

signal.signal(signal.SIGINT, signal.default_int_handler)  # as a chat started in the foreground

from chinwag.events import TextDelta
from chinwag.history.recorder import Recorder
from chinwag.interrupts import Ending, InterruptGuard
from chinwag.records import Reply

guard, recorder = InterruptGuard(), Recorder(Path(sys.argv[1]))
queue = recorder._queue
asked, answered, interrupts, held = [], [], 0, 0


def locks_held():
    # The main thread is between sections here: it must hold none of the history's locks.
    return (getattr(queue, "_lock", None) or queue._cond)._is_owned() or recorder._lock.locked()


print("ready", flush=True)
try:
    with guard.guarded():
        turn = -1
        while True:  # until SIGTERM
            turn += 1
            try:
                with guard.allowed():  # as while a reply streams: Ctrl-C raises at once
                    if turn % 4 == 0:
                        recorder.new_conversation()
                    recorder.save_user(f"q{turn}", "m", None)
                    asked.append(turn)
                    recorder.begin_reply("m", "")
                    sink = recorder.reply_sink("")
                    if sink is not None:
                        sink.on_event(TextDelta("a"), Reply(text="a"))
                        for _ in range(20):  # what the chat asks the history after each turn
                            recorder.take_notices()
                        sink.on_end(Reply(text=f"a{turn}", status="complete"))
                        answered.append(turn)
            except KeyboardInterrupt:
                interrupts += 1
            if locks_held():
                held += 1
except Ending as ending:
    code = ending.exit_code
held += locks_held()
print(json.dumps({"asked": asked, "answered": answered, "interrupts": interrupts, "held": held}), flush=True)
recorder.close()  # as the chat does on its way out
sys.exit(code)
"""


def _read_lines(stream: IO[str], lines: Queue[str]) -> None:
    for line in stream:
        lines.put(line.rstrip("\n"))
    lines.put("")


def test_signals_at_random_points_while_saving_never_leave_a_lock_held_or_lose_a_save(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    env = {**os.environ, "CHINWAG_HOME": str(tmp_path)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(db)], env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, restore_signals=True)
    assert child.stdout is not None and child.stderr is not None
    lines: Queue[str] = Queue()
    threading.Thread(target=_read_lines, args=(child.stdout, lines), daemon=True).start()
    rng = random.Random(20)
    try:
        assert lines.get(timeout=HANG_GUARD_S) == "ready"
        for _ in range(SIGINTS):
            threading.Event().wait(rng.uniform(0.0001, 0.002))
            child.send_signal(signal.SIGINT)
        threading.Event().wait(rng.uniform(0.0001, 0.002))
        child.send_signal(signal.SIGTERM)
        line = lines.get(timeout=HANG_GUARD_S)
        assert line, f"the child ended without its report: {child.stderr.read() if child.poll() is not None else ''}"
        report = json.loads(line)
        try:
            child.wait(timeout=HANG_GUARD_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the child hung closing its history (after {report['interrupts']} interrupts, it found its "
                        f"main thread holding a history lock {report['held']} times between saves)")
        assert child.returncode == 143, child.stderr.read()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()

    assert report["interrupts"] > SIGINTS // 4, report["interrupts"]  # most landed while it saved
    assert report["held"] == 0, f"a history lock was held between saves {report['held']} times"
    with closing(sqlite3.connect(db)) as conn:
        users = {row[0] for row in conn.execute("SELECT content FROM messages WHERE role = 'user'")}
        replies = dict(conn.execute("SELECT content, status FROM messages WHERE role = 'assistant'").fetchall())
    lost_questions = [t for t in report["asked"] if f"q{t}" not in users]
    lost_replies = [t for t in report["answered"] if replies.get(f"a{t}") != "complete"]
    assert not lost_questions, f"questions saved but not in the history: {lost_questions[:10]}"
    assert not lost_replies, f"replies saved but not in the history (or not complete): {lost_replies[:10]}"
