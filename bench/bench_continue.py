"""/continue on the bundled model: what resuming a cut-off reply costs.

chinwag renders the conversation with the model's chat template, appends the
partial reply and completes from there; llama.cpp keeps the tokens it last
evaluated and re-evaluates only what differs, so right after the reply was
cut, continuing should cost about the new tokens, not the whole prompt again.

Measured with the public API on SmolLM2 (temperature 0): a reply to STORY is
cut by max_tokens; then the time to the continuation's first token
(`Reply.ttft`)
- warm: `/continue` at once (llama.cpp's cache holds the prompt and the partial);
- cold, the baseline in the same run, alternated: the same conversation and
  partial continued by a runner whose cache holds an unrelated prompt, so the
  whole continuation prompt is evaluated.
Target: warm ≤ 0.5× cold (the prefix is reused). Run alone:
`python bench/bench_continue.py [--quick]`.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as common  # noqa: E402

common.repo_on_path()

STORY = ("Write a long, detailed story about a lighthouse keeper on a remote island, his daily routine,"
         " the storms he faces, the ships he guides and the letters he writes to his sister.")
CUT = 48
TARGET = 0.5


def _pair(home: str) -> tuple[float, float, int]:
    from chinwag import Chat, Message

    options = {"save": False, "max_tokens": CUT, "temperature": 0.0, "environ": common.clean_env(home)}
    with Chat("local", **options) as warm_chat:  # type: ignore[arg-type]
        first = warm_chat.ask(STORY)
        warm = warm_chat.continue_reply()
    with Chat("local", **options) as cold_chat:  # type: ignore[arg-type]
        cold_chat.ask("Say one word.")  # the model is loaded; its cache holds something else
        session = cold_chat._session
        session.conversation.messages = [Message("user", STORY), Message("assistant", first.text)]
        session.last_reply = first
        cold = cold_chat.continue_reply()
    assert warm.ttft is not None and cold.ttft is not None
    return warm.ttft, cold.ttft, warm.input_tokens or 0


def run(quick: bool = False) -> str:
    reps = 3 if quick else 7
    home = tempfile.mkdtemp(prefix="chinwag-bench-continue-")
    warm, cold, prompt = [], [], 0
    for _ in range(reps):
        w, c, prompt = _pair(home)
        warm.append(w)
        cold.append(c)
    ratio = common.summary(warm)["median"] / common.summary(cold)["median"]
    return "\n".join([
        "## /continue on the bundled model: the evaluated prefix is reused",
        "",
        f"SmolLM2, temperature 0; a reply cut after {CUT} tokens, then continued ({reps} pairs; the continuation"
        f" prompt is {prompt} tokens). Time to the continuation's first token:",
        "",
        common.table(["", "first token ms: median (min–max)"], [
            ("warm: /continue at once (cache holds the prompt and the partial)", common.ms_range(warm)),
            ("cold: the same prompt, cache holding another one (baseline)", common.ms_range(cold)),
        ]),
        "",
        f"- warm ≤ {TARGET}× cold: {ratio:.2f}× {common.verdict(ratio <= TARGET)}",
        "",
    ])


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
