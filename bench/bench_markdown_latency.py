"""Does rendering markdown delay the first text? chinwag's REPL with
`--render markdown` against `--render plain`, on pseudo-terminals.

Same method as bench_repl_latency.py (whose Contender this reuses): an
in-process scripted Anthropic server stamps each text event as it hands it
to the socket; this process stamps each read from the pty. Turn 1 is a
warm-up (it loads rich); the two take turns, alternating who goes first.

The first event of a reply is what a person waits for: markdown must show it
as fast as plain (target: added median latency <= 1 ms). Later events may be
batched by the renderer's repaint throttle (at most 50 ms behind, by design);
their latency is reported, not judged.

Run alone: `python bench/bench_markdown_latency.py [--quick]`.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as common  # noqa: E402
from bench_repl_latency import Contender  # noqa: E402

common.repo_on_path()

TARGET_MS = 1.0
THROTTLE_MS = 50.0


def run(quick: bool = False) -> str:
    from tests.fakes.server import ScriptedServer

    turns = 10 if quick else 40
    cwd = tempfile.mkdtemp(prefix="chinwag-bench-cwd-")
    homes = [tempfile.mkdtemp(prefix="chinwag-bench-home-") for _ in range(2)]
    with ScriptedServer() as s1, ScriptedServer() as s2:
        markdown = Contender("chinwag --render markdown", common.CHINWAG, ["--render", "markdown"], s1, homes[0], cwd)
        plain = Contender("chinwag --render plain", common.CHINWAG, ["--render", "plain"], s2, homes[1], cwd)
        try:
            for t in range(1, turns + 2):
                for c in ((markdown, plain) if t % 2 else (plain, markdown)):
                    c.turn(t, counted=t > 1)
        finally:
            markdown.close()
            plain.close()
    for p in (cwd, *homes):
        shutil.rmtree(p, ignore_errors=True)

    def med(xs: list[float]) -> float:
        return common.summary(xs)["median"]

    rows = [(c.name, common.ms_range(c.first, 2), common.ms_range(c.every, 2), common.ms(max(c.every), 1))
            for c in (markdown, plain)]
    added_first = (med(markdown.first) - med(plain.first)) * 1000
    worst_later = max(markdown.every) * 1000
    lines = [
        "## Markdown vs plain: first text on screen",
        "",
        f"Turns 2–{turns + 1} of a REPL chat on a pseudo-terminal ({turns} turns each, alternated); "
        "latency = the server handing a text event to the socket → this process reading it from the pty.",
        "",
        common.table(["Render", "first event ms: median (min–max)", "every event ms: median (min–max)",
                      "slowest event ms"], rows),
        "",
        f"- markdown adds ≤ {TARGET_MS:g} ms to the first text of a reply (median): "
        f"{added_first:+.2f} ms {common.verdict(added_first <= TARGET_MS)}",
        f"- later text is at most the {THROTTLE_MS:g} ms repaint throttle behind (slowest event, plus scheduling): "
        f"{worst_later:.1f} ms {common.verdict(worst_later <= THROTTLE_MS + 20)}",
        "",
        "Reproduce: `python bench/bench_markdown_latency.py" + (" --quick" if quick else "") + "`",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
