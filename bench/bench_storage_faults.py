"""What a failing history costs the chat: a full database against one with
room, and a database locked by another process against one that is not, in
the same run.

Each contender is its own chinwag REPL on a pseudo-terminal with its own
CHINWAG_HOME, holding one earlier conversation, talking to its own scripted
Anthropic server (tests.fakes.server.ScriptedServer, 127.0.0.1). They take
turns, alternating who goes first; turn 1 is a warm-up and is not counted.
Latencies are as in bench_save_overhead.py: the server hands a text event to
the socket (RecordedRequest.text_sent_at, time.monotonic) -> this process
reads that text from the pty (same clock).

(a) Full: the database is capped at its present size (SQLite's max_page_count
on the chat's connection, set to 1 by tests/hooks/sitecustomize.py through
tests/max_pages.py: test code, not chinwag's), so every
save of a reply of LONG_CHUNKS events of ~70 bytes fails with "disk full",
and is retried at each save point. Against the same chinwag with room, both
with `--render plain` (the reply is one long paragraph). The latency of every
text event: a failing save must add nothing.

(b) Locked: another connection (this process) holds `BEGIN IMMEDIATE` on the
database for the whole run, so no save can be written. Against the same
chinwag unlocked. Enter -> the first text on the terminal (this includes
saving the user message before the request leaves), and the first event's
latency. Target: within 5 ms of the unlocked case.

Run alone: `python bench/bench_storage_faults.py [--quick]`.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import sys
import tempfile
from contextlib import closing
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as common  # noqa: E402
from bench_save_overhead import Contender  # noqa: E402

common.repo_on_path()

TARGET_EVENT_MS = 1.0  # a failing save adds less than this to the median event latency
TARGET_LOCKED_MS = 5.0
LONG_CHUNKS = 200
LONG_DELAY = 0.010
PAD = "x" * 60
SHORT_CHUNKS = 6
PLAIN = ["--render", "plain"]
SHORT_DELAY = 0.010


def _seed(home: str) -> Path:
    from chinwag.history.store import Store

    db = Path(home) / "history.db"
    with closing(Store.open(db)) as store:
        cid = store.start_conversation(model="claude-sonnet-4-20250514")
        store.add_message(cid, "user", "an earlier question")
        store.update_reply(store.begin_reply(cid), "an earlier answer", status="complete")
    return db


def _long(c: Contender, t: int, counted: bool, latencies: list[float]) -> None:
    words = [f"t{t}w{k}{PAD}" for k in range(LONG_CHUNKS)]
    got, _, _ = c.turn(t, words, LONG_DELAY)
    if counted:
        latencies += got


def _notices(c: Contender) -> int:
    return bytes(c.reader.buf).count(b"could not be saved") + bytes(c.reader.buf).count(b"not being saved")


def _full_vs_room(quick: bool, cwd: str) -> tuple[list[str], bool]:
    from tests.fakes.server import ScriptedServer
    from tests.max_pages import capped

    turns = 3 if quick else 8
    homes = [tempfile.mkdtemp(prefix="chinwag-bench-home-") for _ in range(2)]
    dbs = [_seed(h) for h in homes]
    lat: dict[str, list[float]] = {"full": [], "room": []}
    with ScriptedServer() as s1, ScriptedServer() as s2:
        # Plain rendering: the reply is one long paragraph, whose markdown re-rendering would swamp the figures.
        full = Contender("full (every save fails)", PLAIN, s1, homes[0], cwd,
                         **capped({"PYTHONPATH": os.environ.get("PYTHONPATH", "")}, 1))
        room = Contender("room (saves succeed)", PLAIN, s2, homes[1], cwd)
        try:
            for i in range(turns + 1):
                for c, key in ((full, "full"), (room, "room")) if i % 2 == 0 else ((room, "room"), (full, "full")):
                    _long(c, i + 1, i > 0, lat[key])
            told = _notices(full)
        finally:
            full.close()
            room.close()
    saved = [_replies(db) for db in dbs]
    for h in homes:
        shutil.rmtree(h, ignore_errors=True)

    def stats(xs: list[float]) -> str:
        xs = sorted(xs)
        return (f"{common.ms(common.summary(xs)['median'], 2)} / {common.ms(xs[int(0.99 * (len(xs) - 1))], 2)}"
                f" / {common.ms(xs[-1], 2)}")

    added = (common.summary(lat["full"])["median"] - common.summary(lat["room"])["median"]) * 1000
    ratio = common.summary(lat["full"])["median"] / common.summary(lat["room"])["median"]
    ok = added < TARGET_EVENT_MS
    lines = [
        f"(a) A database that is full vs one with room: {turns} counted turns each of {LONG_CHUNKS} text events"
        f" of ~{len(PAD) + 8} bytes, {LONG_DELAY * 1000:.0f} ms apart (every progressive save of the full one"
        " fails with \"disk full\" and is retried at each save point):",
        "",
        common.table(["chinwag", "event latency ms: median / p99 / max", "events"],
                     [("full", stats(lat["full"]), len(lat["full"])),
                      ("room", stats(lat["room"]), len(lat["room"]))]),
        "",
        f"Full ÷ room, median event latency: {ratio:.3f}×. Warning lines the full one showed: {told};"
        f" replies saved at the end: full {saved[0]}, room {saved[1]} (one earlier conversation each).",
        "",
        f"- a failing save adds < {TARGET_EVENT_MS:g} ms to the median time from a server's text event to the"
        f" terminal: {added:+.2f} ms ({ratio:.3f}×) {common.verdict(ok)}",
    ]
    return lines, ok


def _replies(db: Path) -> int:
    conn = sqlite3.connect(db.resolve().as_uri() + "?mode=ro", uri=True)
    with closing(conn):
        return int(conn.execute("SELECT count(*) FROM messages WHERE role = 'assistant'").fetchone()[0])


def _locked_vs_unlocked(quick: bool, cwd: str) -> tuple[list[str], bool]:
    from tests.fakes.server import ScriptedServer

    turns = 10 if quick else 30
    homes = [tempfile.mkdtemp(prefix="chinwag-bench-home-") for _ in range(2)]
    dbs = [_seed(h) for h in homes]
    holder = sqlite3.connect(dbs[0], isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    with ScriptedServer() as s1, ScriptedServer() as s2:
        locked = Contender("locked by another process", [], s1, homes[0], cwd)
        free = Contender("not locked", [], s2, homes[1], cwd)
        try:
            for i in range(turns + 1):
                for c in (locked, free) if i % 2 == 0 else (free, locked):
                    c.short(i + 1, counted=i > 0)
            told = _notices(locked)
        finally:
            locked.close()
            free.close()
            holder.execute("COMMIT")
            holder.close()
    saved = [_replies(db) for db in dbs]
    for h in homes:
        shutil.rmtree(h, ignore_errors=True)

    def med(xs: list[float]) -> float:
        return common.summary(xs)["median"]

    rows: list[Any] = [(c.name, common.ms_range(c.to_text, 2), common.ms_range(c.first, 2),
                        common.ms(med(c.to_request), 2)) for c in (locked, free)]
    added = (med(locked.to_text) - med(free.to_text)) * 1000
    ok = abs(added) < TARGET_LOCKED_MS
    lines = [
        f"(b) A database locked by another process (an open `BEGIN IMMEDIATE` for the whole run) vs one that is"
        f" not: {turns} counted turns each, {SHORT_CHUNKS} text events per reply {SHORT_DELAY * 1000:.0f} ms"
        " apart:",
        "",
        common.table(["chinwag", "Enter → first text ms: median (min–max)", "first event latency ms: median"
                      " (min–max)", "Enter → request ms (median)"], rows),
        "",
        f"Locked − unlocked, median Enter → first text: {added:+.2f} ms; first event latency"
        f" {(med(locked.first) - med(free.first)) * 1000:+.2f} ms. Warning lines the locked one showed: {told};"
        f" replies in the database afterwards: locked {saved[0]} (the earlier one: the lock is held past quit),"
        f" unlocked {saved[1]}.",
        "",
        f"- the first token with the database locked is within {TARGET_LOCKED_MS:g} ms of the unlocked case"
        f" (median Enter → first text): {added:+.2f} ms {common.verdict(ok)}",
    ]
    return lines, ok


def run(quick: bool = False) -> str:
    cwd = tempfile.mkdtemp(prefix="chinwag-bench-cwd-")
    try:
        full, _ = _full_vs_room(quick, cwd)
        lock, _ = _locked_vs_unlocked(quick, cwd)
    finally:
        shutil.rmtree(cwd, ignore_errors=True)
    lines = [
        "## Storage faults: a full or locked history database vs a healthy one",
        "",
        "Two chinwag REPLs on pseudo-terminals per comparison, each with its own CHINWAG_HOME (one earlier"
        " conversation saved) and its own scripted Anthropic server; they take turns, alternating who goes"
        " first, after one uncounted turn. Latency = the server handing a text event to the socket → this"
        " process reading that text from the pty (time.monotonic on both sides).",
        "",
        *full,
        "",
        *lock,
        "",
        "Reproduce: `python bench/bench_storage_faults.py" + (" --quick" if quick else "") + "`",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
