"""Start-up through a bare pseudo-terminal: launch to `You: ` with no pexpect.

bench_startup.py spawns through pexpect, whose own fork and pty set-up sit
inside every figure. Here the pty is the kernel's and nothing else (see
pty_launch.py): os.openpty, the child started by subprocess.Popen on the
pty's far end, the near end read with select+os.read until the prompt text
appears. The clock runs from just before Popen to the read that completes
the prompt.

Contenders, alternated run by run, each run once first untimed (filling the
bytecode cache, see run.PYCACHE):
- bare Python: `python -c "input('You: ')"`, the floor;
- the same with `-S` (no site module): the floor the target is measured
  against (below);
- chinwag on the Anthropic path (ANTHROPIC_API_KEY=test, base URL at a
  scripted server on 127.0.0.1: nothing is sent before the first turn);
- chinwag with no key (the bundled local model, loaded after the prompt).

Target (issue 20.8): each chinwag ≤ 6.0× bare python -S (medians), site's
share taken out. A site-packages with heavy .pth hooks (this machine's
imports certifi at every start: bare python is ~4× bare python -S) slows
every contender by the same milliseconds and so flatters a ratio against bare
python; chinwag needs its site-packages, so it cannot itself run with -S.
The honest ratio is therefore (chinwag − site's share) / bare python -S, where
site's share = bare python − bare python -S, all measured in the same run:
what chinwag would take on a Python whose site adds nothing, over the floor.
The ratio against bare python is shown too, without a verdict.

Run alone: `python bench/bench_startup_pty.py [--quick]`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as common  # noqa: E402
from pty_launch import time_launches  # noqa: E402

common.repo_on_path()

TARGET_VS_FLOOR = 6.0  # × bare python -S, site's share taken out


def _contenders(base_url: str) -> dict[str, tuple[list[str], dict[str, str]]]:
    """name -> (argv, extra environment); every one prompts `You: `."""
    return {
        "bare python": ([common.PYTHON, "-c", "input('You: ')"], {}),
        "bare python -S": ([common.PYTHON, "-S", "-c", "input('You: ')"], {}),
        "chinwag (Anthropic)": ([common.CHINWAG], {"ANTHROPIC_API_KEY": "test", "ANTHROPIC_BASE_URL": base_url}),
        "chinwag (local model)": ([common.CHINWAG], {}),
    }


def measure(reps: int, base_url: str) -> dict[str, list[float]]:
    contenders = _contenders(base_url)

    def setup(name: str, home: str) -> tuple[list[str], dict[str, str]]:
        argv, extra = contenders[name]
        return argv, common.clean_env(home, **extra)

    return time_launches(list(contenders), reps, setup)


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} cores"


def run(quick: bool = False) -> str:
    from tests.fakes.server import ScriptedServer

    reps = 7 if quick else 21
    load_before = _load()
    with ScriptedServer() as server:
        times = measure(reps, server.base_url)
        sent = len(server.requests)
    load_after = _load()

    med = {name: common.summary(t)["median"] for name, t in times.items()}
    bare, floor = med["bare python"], med["bare python -S"]
    site = bare - floor  # what site-packages' .pth hooks add to every start, chinwag's included

    def vs_floor(name: str) -> float:
        return (med[name] - site) / floor if name != "bare python -S" else 1.0

    rows = [(name, common.ms_range(t), f"{med[name] / bare:.2f}×", f"{vs_floor(name):.2f}×")
            for name, t in times.items()]
    lines = [
        "## Start-up through a bare pseudo-terminal (no pexpect)",
        "",
        f"os.openpty + subprocess.Popen, the pty read with select+read until `You: `; {reps} alternated "
        "runs each after one untimed run, fresh CHINWAG_HOME each time. "
        f"Load average before: {load_before}; after: {load_after}.",
        "",
        common.table(["Program", "ms: median (min–max)", "× bare python",
                      "× bare python -S (site's share out)"], rows),
        "",
        f"- site's share, paid by every contender: {common.ms(site)} ms (bare python minus bare python -S)",
    ]
    for name in ("chinwag (Anthropic)", "chinwag (local model)"):
        r = vs_floor(name)
        lines.append(f"- {name} ≤ {TARGET_VS_FLOOR}× bare python -S: {r:.2f}× {common.verdict(r <= TARGET_VS_FLOOR)} "
                     f"(chinwag's own part: {common.ms(med[name] - bare)} ms; "
                     f"{med[name] / bare:.2f}× bare python with site)")
    lines += [
        "",
        f"Requests chinwag sent before the first turn: {sent} (should be 0).",
        "",
        "Reproduce: `python bench/bench_startup_pty.py" + (" --quick" if quick else "") + "`",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
