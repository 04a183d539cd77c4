"""Conversation trees (issue 21): /tree, /switch and /undo on a conversation
of 1,000 messages with 100 branches, resuming its deepest leaf, and what a
branch adds to the database.

The tree is built with the Store (as a chat saves: a question, then a reply
begun and finished, under the leaf) from sentences of the Python reference
documentation shipped with CPython, with a fixed seed: a line of exchanges,
then 99 branches, each an /edit of a random earlier question (a new sibling)
followed by a few exchanges. The operations are then timed through the
public API (`Chat(resume=ID)`: `chat.tree()`, `chat.switch(id)`,
`chat.undo()`), which go through the Session and the Recorder as the
terminal's commands do (the terminal's drawing of /tree is not included).
No request is made: no model is needed.

- /tree (`Chat.tree`): <= 50 ms; beside it, the baseline in the same run:
  reading every message of the same conversation as `history show` does
  (`Store.messages`).
- /switch to a random message, and /undo: <= 20 ms each.
- Resuming the deepest leaf (`Chat(resume=ID)`, the session's start-up read:
  the path, its system prompt, its cancelled question) <= 2x resuming a
  linear conversation of the same path length, alternated.
- A branch adds only its messages: the file grows by no more than the same
  messages appended to a linear conversation would grow it (<= 1.25x, in
  pages, for 50 messages), and the row count by exactly the new messages. /fork copies the
  path, by design (reported).

Run: `PYTHONPATH=src python bench/bench_tree.py [--quick]`.
"""

from __future__ import annotations

import random
import re
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as common  # noqa: E402

common.repo_on_path()

from chinwag.history.store import Store  # noqa: E402

SEED = 20261202
MESSAGES, BRANCHES = 1000, 100
BRANCH_EXCHANGES = 4  # exchanges after each edit
TREE_MS, MOVE_MS, RESUME_RATIO, GROWTH_RATIO = 50.0, 20.0, 2.0, 1.25
GROWTH = 50  # messages in the branch whose growth is measured (an edit, then exchanges)


def _sentences() -> list[str]:
    from pydoc_data.topics import topics

    text = " ".join(" ".join(topics[key].split()) for key in sorted(topics))
    return [s for s in re.split(r"(?<=[.?!])\s+", text) if 20 <= len(s) <= 300]


class _Writer:
    def __init__(self, store: Store, rng: random.Random) -> None:
        self.store, self.rng, self.pool = store, rng, _sentences()

    def exchange(self, cid: int, parent: int | None | str = "leaf") -> tuple[int, int]:
        """A question under `parent` and its reply; their ids."""
        q = self.store.add_message(cid, "user", " ".join(self.rng.sample(self.pool, 2)), parent=parent)
        r = self.store.begin_reply(cid, model="m")
        self.store.update_reply(r, " ".join(self.rng.sample(self.pool, 5)), status="complete",
                                input_tokens=40, output_tokens=200, ttft=0.3, duration=2.0)
        return q, r


def _build(db: Path) -> tuple[int, int, int]:
    """The branched conversation; its id, its deepest leaf and that leaf's path length."""
    rng = random.Random(SEED)
    with closing(Store.open(db)) as store:
        writer = _Writer(store, rng)
        cid = store.start_conversation("m", "You are a helpful assistant.")
        line = (MESSAGES - (BRANCHES - 1) * (1 + BRANCH_EXCHANGES) * 2) // 2
        questions = [writer.exchange(cid)[0] for _ in range(line)]
        for _ in range(BRANCHES - 1):
            edited = rng.choice(questions)
            parent = store.message(edited).parent_id  # type: ignore[union-attr]
            q, _ = writer.exchange(cid, parent)  # the edit: a sibling of `edited`
            questions.append(q)
            for _ in range(BRANCH_EXCHANGES):
                questions.append(writer.exchange(cid)[0])
        tree = store.tree(cid)
        assert len(tree) == MESSAGES and tree.branches() == BRANCHES, (len(tree), tree.branches())
        deepest = max((n.id for n in tree.nodes.values() if not n.children), key=lambda i: len(tree.path(i)))
        depth = len(tree.path(deepest))
        store.set_leaf(cid, deepest)
    return cid, deepest, depth


def _linear(db: Path, depth: int) -> int:
    with closing(Store.open(db)) as store:
        writer = _Writer(store, random.Random(SEED + 1))
        cid = store.start_conversation("m", "You are a helpful assistant.")
        for _ in range(depth // 2):
            writer.exchange(cid)
    return cid


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _chat(home: str, cid: int):  # type: ignore[no-untyped-def]
    from chinwag import Chat

    env = common.clean_env(home, ANTHROPIC_API_KEY="unused")
    return Chat("anthropic:claude-sonnet-4-20250514", base_url="http://127.0.0.1:9", environ=env, resume=cid)


def _pages(db: Path) -> int:
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return int(conn.execute("PRAGMA page_count").fetchone()[0]) - int(
            conn.execute("PRAGMA freelist_count").fetchone()[0])


def _growth(home: Path, cid: int, linear: int) -> tuple[int, int, int, int, int]:
    """(pages a branch of GROWTH messages adds, pages as many appended to a line add,
    rows the branch added, rows a /fork added, the forked path's length)."""
    db = home / "history.db"
    with closing(Store.open(db)) as store:
        writer = _Writer(store, random.Random(SEED + 2))
        rows = len(store.messages(cid))
        start = _pages(db)
        first = store.path_messages(cid)[len(store.path_messages(cid)) // 2]
        writer.exchange(cid, first.parent_id)
        for _ in range(GROWTH // 2 - 1):
            writer.exchange(cid)
        branch_pages = _pages(db) - start
        branch_rows = len(store.messages(cid)) - rows
        writer = _Writer(store, random.Random(SEED + 2))
        start = _pages(db)
        for _ in range(GROWTH // 2):
            writer.exchange(linear)
        line_pages = _pages(db) - start
        path = len(store.path_messages(cid))
        forked = len(store.messages(store.fork(cid)))
    return branch_pages, line_pages, branch_rows, forked, path


def run(quick: bool = False) -> str:
    reps = 15 if quick else 60
    home = Path(tempfile.mkdtemp(prefix="chinwag-bench-tree-"))
    db = home / "history.db"
    cid, deepest, depth = _build(db)
    linear = _linear(db, depth)
    rng = random.Random(SEED + 3)

    tree_s, baseline_s, switch_s, undo_s = [], [], [], []
    with _chat(str(home), cid) as chat, closing(Store.open(db)) as store:
        ids = list(chat.tree().nodes)
        chat.tree()  # warm
        for _ in range(reps):
            tree_s.append(_timed(chat.tree))
            baseline_s.append(_timed(lambda: store.messages(cid)))
            switch_s.append(_timed(lambda: chat.switch(rng.choice(ids))))
            chat.switch(deepest)
            undo_s.append(_timed(chat.undo))
            chat.switch(deepest)

    branched_s, linear_s = [], []
    for which in common.alternate(reps // 3 * 2, "branched", "linear"):
        with closing(Store.open(db)) as store:
            store.set_leaf(cid, deepest)
        start = time.perf_counter()
        with _chat(str(home), cid if which == "branched" else linear) as chat:
            (branched_s if which == "branched" else linear_s).append(time.perf_counter() - start)
            assert len(chat.messages) in (depth, depth - 1)

    branch_pages, line_pages, branch_rows, forked, path = _growth(home, cid, linear)
    med = {name: common.summary(s)["median"] for name, s in
           (("tree", tree_s), ("switch", switch_s), ("undo", undo_s), ("branched", branched_s),
            ("linear", linear_s), ("baseline", baseline_s))}
    resume_ratio = med["branched"] / med["linear"]
    growth_ratio = branch_pages / max(line_pages, 1)
    return "\n".join([
        "## Conversation trees: /tree, /switch, /undo, resume, growth",
        "",
        f"One conversation of {MESSAGES:,} messages with {BRANCHES} branches (deepest leaf: {depth} messages"
        f" on its path), through `Chat(resume=ID)`; {reps} of each operation, each switch to a random message.",
        "",
        common.table(["operation", "ms: median (min–max)"], [
            ("/tree (`chat.tree()`)", common.ms_range(tree_s)),
            ("baseline: every message read back (`Store.messages`, as `history show`)", common.ms_range(baseline_s)),
            ("/switch to a random message (`chat.switch(id)`)", common.ms_range(switch_s)),
            ("/undo (`chat.undo()`)", common.ms_range(undo_s)),
            ("resume the deepest leaf (`Chat(resume=ID)`)", common.ms_range(branched_s)),
            (f"resume a linear conversation of {depth} messages (baseline, alternated)", common.ms_range(linear_s)),
        ]),
        "",
        f"- /tree ≤ {TREE_MS:.0f} ms: {med['tree'] * 1000:.1f} ms {common.verdict(med['tree'] * 1000 <= TREE_MS)}"
        f" ({med['tree'] / med['baseline']:.2f}× reading every message)",
        f"- /switch ≤ {MOVE_MS:.0f} ms: {med['switch'] * 1000:.1f} ms"
        f" {common.verdict(med['switch'] * 1000 <= MOVE_MS)}",
        f"- /undo ≤ {MOVE_MS:.0f} ms: {med['undo'] * 1000:.1f} ms {common.verdict(med['undo'] * 1000 <= MOVE_MS)}",
        f"- resuming the deepest leaf ≤ {RESUME_RATIO:g}× a linear conversation of the same path:"
        f" {resume_ratio:.2f}× {common.verdict(resume_ratio <= RESUME_RATIO)}",
        f"- a branch (an edit and its exchanges: {GROWTH} messages) added {branch_rows} rows and"
        f" {branch_pages} pages; the same appended to a line: {line_pages} pages; ≤ {GROWTH_RATIO:g}×:"
        f" {growth_ratio:.2f}× {common.verdict(branch_rows == GROWTH and growth_ratio <= GROWTH_RATIO)}",
        f"- /fork copies the path, by design: {forked} rows for a path of {path} messages",
        "",
        "Run alone: `python bench/bench_tree.py [--quick]`.",
        "",
    ])


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
