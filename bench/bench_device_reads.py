"""Refusing what never ends: chinwag's peak memory when it is handed /dev/zero,
against the same one-shot with an ordinary question, in one run (issue 19.1).

Contenders, alternated run by run, each a fresh one-shot (`CHINWAG_HOME` of
its own) against an in-process scripted Anthropic server on 127.0.0.1:

- `chinwag "hi"`: the baseline, a question answered;
- `chinwag -a /dev/zero "what"` and `chinwag -f /dev/zero "what"`: refused
  from the file's type, before a byte is read;
- `chinwag "what" </dev/zero` and `chinwag -a - "what" </dev/zero`: stdin
  that never ends, refused once 32 MB + 1 byte have been read.

Peak memory is the child's ru_maxrss (os.wait4, through a small launcher, as
in bench_attachments.py); every child runs under a 2 GB address-space limit so
a regression ends in a MemoryError rather than a swapping machine.
Target: each refusal peaks under 100 MB.
Run alone: `python bench/bench_device_reads.py [--quick]`.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as common  # noqa: E402

TARGET_MB = 100
LAUNCHER = """
import os, resource, sys
pid = os.fork()
if pid == 0:
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(usage.ru_maxrss, os.waitstatus_to_exitcode(status))
"""
CONTENDERS = {
    'chinwag "hi" (baseline)': (["hi"], None),
    "-a /dev/zero": (["-a", "/dev/zero", "what"], None),
    "-f /dev/zero": (["-f", "/dev/zero", "what"], None),
    "stdin </dev/zero": (["what"], "/dev/zero"),
    "-a - </dev/zero": (["-a", "-", "what"], "/dev/zero"),
}


def one_run(server: object, args: list[str], stdin: str | None) -> tuple[int, int]:
    """(peak RSS in KB, exit code)."""
    home = tempfile.mkdtemp(prefix="chinwag-bench-home-")
    env = common.clean_env(home, ANTHROPIC_API_KEY="bench", ANTHROPIC_BASE_URL=server.base_url)  # type: ignore[attr-defined]
    with open(stdin or "/dev/null", "rb") as source:
        done = subprocess.run([common.PYTHON, "-c", LAUNCHER, common.CHINWAG, *args], env=env, stdin=source,
                              capture_output=True, text=True, timeout=120)
    peak, code = done.stdout.split()
    return int(peak), int(code)


def run(quick: bool = False) -> str:
    common.repo_on_path()
    from tests.fakes.server import Reply, ScriptedServer

    rounds = 2 if quick else 5
    peaks: dict[str, list[int]] = {name: [] for name in CONTENDERS}
    codes: dict[str, set[int]] = {name: set() for name in CONTENDERS}
    with ScriptedServer() as server:
        for _ in range(rounds * 2 + 2):
            server.enqueue(Reply(chunks=["Hello."]))
        one_run(server, ["hi"], None)  # uncounted: fills the bytecode cache
        for name in common.alternate(rounds, *CONTENDERS):
            args, stdin = CONTENDERS[name]
            peak, code = one_run(server, args, stdin)
            peaks[name].append(peak)
            codes[name].add(code)
    base = statistics.median(peaks['chinwag "hi" (baseline)'])
    rows, worst = [], 0.0
    for name in CONTENDERS:
        median = statistics.median(peaks[name])
        if name != 'chinwag "hi" (baseline)':
            worst = max(worst, max(peaks[name]) / 1024)
        rows.append([name, ", ".join(map(str, sorted(codes[name]))), f"{median / 1024:.0f}",
                     f"{max(peaks[name]) / 1024:.0f}", f"{(median - base) / 1024:+.0f}"])
    lines = [
        "## Refusing /dev/zero: peak memory",
        "",
        f"One-shots against a scripted Anthropic server, {rounds} runs each, alternated; peak = the child's "
        "ru_maxrss (os.wait4). A device named by -a or -f is refused from its type before it is read; stdin "
        "that never ends is refused once 32 MB + 1 byte have been read.",
        "",
        common.table(["run", "exit", "peak RSS MB (median)", "max", "vs baseline MB"], rows),
        "",
        f"- every refusal of /dev/zero peaks under {TARGET_MB} MB: {worst:.0f} MB at most "
        f"{common.verdict(worst < TARGET_MB)}",
        "",
        "Reproduce: `python bench/bench_device_reads.py" + (" --quick" if quick else "") + "`",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
