"""/tree as the chat runs it: the tree read AND drawn (issue 21's "/tree on a conversation of
1,000 messages with 100 branches: <= 50 ms").

bench_tree.py times `chat.tree()`, the read, and leaves the terminal's drawing out; this
times the whole command on the same conversation (bench_tree's builder, same seed): the
`/tree` row of the command table run in a `Repl` over a resumed session, writing its lines
to a buffer, beside the read alone (`session.tree()`) in the same run, alternated. The
difference is what drawing costs. No request is made.

Run: `PYTHONPATH=src python bench/bench_tree_view.py [--quick]`.
"""

from __future__ import annotations

import io
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as common  # noqa: E402

common.repo_on_path()

import bench_tree  # noqa: E402

TREE_MS = 50.0


class _Screen(io.StringIO):
    def isatty(self) -> bool:
        return False  # 100 columns, no colour: the same work but for the escape codes


def run(quick: bool = False) -> str:
    from chinwag.cli.commands import run_command
    from chinwag.cli.repl import Repl
    from chinwag.config import resolve
    from chinwag.session import open_session

    reps = 15 if quick else 60
    home = Path(tempfile.mkdtemp(prefix="chinwag-bench-tree-view-"))
    cid, _, _ = bench_tree._build(home / "history.db")
    env = common.clean_env(str(home), ANTHROPIC_API_KEY="unused", ANTHROPIC_BASE_URL="http://127.0.0.1:9")
    session = open_session(resolve(env, home, {}), env, resume=cid)
    screen = _Screen()
    repl = Repl(session, screen, screen, color=False, environ=env, cwd=home)
    drawn_s, read_s = [], []
    try:
        run_command(repl, "/tree")  # warm: imports, the database's pages
        lines = screen.getvalue().count("\n")
        for which in common.alternate(reps * 2, "drawn", "read"):
            screen.seek(0), screen.truncate()
            start = time.perf_counter()
            if which == "drawn":
                run_command(repl, "/tree")
            else:
                session.tree()
            (drawn_s if which == "drawn" else read_s).append(time.perf_counter() - start)
    finally:
        session.close()
    drawn, read = common.summary(drawn_s)["median"] * 1000, common.summary(read_s)["median"] * 1000
    return "\n".join([
        "## /tree in the chat: read and drawn",
        "",
        f"The conversation of bench_tree ({bench_tree.MESSAGES:,} messages, {bench_tree.BRANCHES} branches),"
        f" resumed; `/tree` run through the command table into a buffer ({lines} lines), against the read"
        f" alone; {reps} of each, alternated.",
        "",
        common.table(["operation", "ms: median (min–max)"], [
            ("/tree, read and drawn (`run_command(repl, \"/tree\")`)", common.ms_range(drawn_s)),
            ("baseline: the read alone (`session.tree()`)", common.ms_range(read_s)),
        ]),
        "",
        f"- /tree ≤ {TREE_MS:.0f} ms: {drawn:.1f} ms {common.verdict(drawn <= TREE_MS)}"
        f" (drawing adds {drawn - read:.1f} ms to the read's {read:.1f} ms)",
        "",
        "Run alone: `python bench/bench_tree_view.py [--quick]`.",
        "",
    ])


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
