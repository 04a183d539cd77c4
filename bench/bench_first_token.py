"""One-shot time to first token, launch included: `chinwag "hi"` against the
tutorial's bare SDK script (bench/tutorial_bot.py "hi": `from anthropic import
Anthropic`, `client.messages.stream(...)`, `print(text, end="", flush=True)`),
both pointed at the same scripted Anthropic server on 127.0.0.1, which waits
50 ms before the first byte of every response.

Timing: time.monotonic() just before the child is started to the read that
brings the first text ("Hello") from its stdout (a pipe read with
select+os.read, nothing buffered on our side; stderr goes to /dev/null). The
server runs in this process on the same clock, so each run also splits into:
launch (start -> request received), server (request -> first text event
written; 50 ms of it is the scripted delay) and delivery (written -> read
from the child's stdout). A second, shorter series runs both on a
pseudo-terminal, where chinwag also draws its spinner on stderr.

Target (issue 7): chinwag <= 0.33x the tutorial's script, median of
alternated runs. Run alone: `python bench/bench_first_token.py [--quick]`.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as common  # noqa: E402

common.repo_on_path()

TARGET = 0.33
SERVER_DELAY = 0.050
FIRST = "Hello"
TUTORIAL = str(Path(__file__).resolve().parent / "tutorial_bot.py")


def _contenders() -> dict[str, tuple[str, list[str]]]:
    return {
        "chinwag": (common.CHINWAG, ["hi"]),
        "tutorial script": (common.PYTHON, [TUTORIAL, "hi"]),
    }


def _read_pipe_until(fd: int, text: bytes, timeout: float) -> tuple[float, bytes]:
    buf, deadline = b"", time.monotonic() + timeout
    while text not in buf:
        ready, _, _ = select.select([fd], [], [], max(deadline - time.monotonic(), 0))
        if not ready:
            raise TimeoutError(f"no {text!r} on stdout; got {buf!r}")
        data = os.read(fd, 65536)
        now = time.monotonic()
        if not data:
            raise EOFError(f"stdout closed before {text!r}; got {buf!r}")
        buf += data
    return now, buf


def _once_pipe(command: str, args: list[str], env: dict[str, str], cwd: str) -> float:
    start = time.monotonic()
    proc = subprocess.Popen([command, *args], env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0)
    try:
        seen, buf = _read_pipe_until(proc.stdout.fileno(), FIRST.encode(), 60)
        rest = proc.stdout.read()
        code = proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    if code != 0:
        raise RuntimeError(f"{command} {args} exited {code}; stdout: {buf + rest!r}")
    return seen - start


def _once_pty(command: str, args: list[str], env: dict[str, str], cwd: str) -> float:
    start = time.monotonic()
    child = common.spawn(command, args, env, cwd=cwd)
    try:
        seen, _ = common.PtyReader(child).wait_for(FIRST.encode(), 0, timeout=60)
        child.expect(__import__("pexpect").EOF, timeout=30)
    finally:
        common.kill(child)
    return seen - start


def run(quick: bool = False) -> str:
    from tests.fakes.server import Reply, ScriptedServer

    reps_pipe, reps_pty = (3, 1) if quick else (8, 4)
    cwd = tempfile.mkdtemp(prefix="chinwag-bench-cwd-")  # no .env here
    contenders = _contenders()
    names = list(contenders)
    pipe: dict[str, list[float]] = {n: [] for n in names}
    pty: dict[str, list[float]] = {n: [] for n in names}
    parts: dict[str, list[tuple[float, float, float]]] = {n: [] for n in names}

    def reply() -> Reply:
        return Reply(chunks=[FIRST, " there", "!"], delay_first_byte=SERVER_DELAY)

    with ScriptedServer(default_reply=reply) as server:
        def env(home: str) -> dict[str, str]:
            return common.clean_env(home, ANTHROPIC_API_KEY="test", ANTHROPIC_BASE_URL=server.base_url)

        def one(name: str, how) -> float:  # noqa: ANN001
            home = tempfile.mkdtemp(prefix="chinwag-bench-home-")
            try:
                return how(*contenders[name], env(home), cwd)
            finally:
                shutil.rmtree(home, ignore_errors=True)

        for name in names:  # untimed: fills the bytecode cache
            one(name, _once_pipe)
        for name in common.alternate(reps_pipe, *names):
            before = len(server.requests)
            start = time.monotonic()
            total = one(name, _once_pipe)
            request = server.requests[before]
            launch = request.received_at - start
            wait = request.text_sent_at[0] - request.received_at
            parts[name].append((launch, wait, total - launch - wait))
            pipe[name].append(total)
        for name in common.alternate(reps_pty, *names):
            pty[name].append(one(name, _once_pty))
    shutil.rmtree(cwd, ignore_errors=True)

    def median(xs: list[float]) -> float:
        return common.summary(xs)["median"]

    base = median(pipe["tutorial script"])
    ratio = median(pipe["chinwag"]) / base
    rows = []
    for name in names:
        launch, wait, deliver = (median([p[i] for p in parts[name]]) for i in range(3))
        rows.append((name, common.ms_range(pipe[name]), f"{median(pipe[name]) / base:.2f}×",
                     common.ms(launch), common.ms(wait), common.ms(deliver, 2)))
    pty_base = median(pty["tutorial script"])
    pty_rows = [(name, common.ms_range(pty[name]), f"{median(pty[name]) / pty_base:.2f}×") for name in names]
    lines = [
        "## One-shot time to first token, launch included",
        "",
        f"`chinwag \"hi\"` vs `python bench/tutorial_bot.py \"hi\"` (the tutorial's SDK script), same scripted "
        f"Anthropic server with a {SERVER_DELAY * 1000:.0f} ms delay before the first byte; from starting the "
        f"process to reading the first text from its stdout (a pipe). {reps_pipe} alternated runs each after "
        "one untimed run. The last three columns split the median run: launch = start → request at the "
        "server; server = request → first text event written (includes the scripted delay); "
        "delivery = written → read from the child's stdout.",
        "",
        common.table(["Program", "ms: median (min–max)", "× tutorial", "launch ms", "server ms", "delivery ms"],
                     rows),
        "",
        f"On a pseudo-terminal ({reps_pty} alternated runs each; chinwag also draws its spinner):",
        "",
        common.table(["Program", "ms: median (min–max)", "× tutorial"], pty_rows),
        "",
        f"- chinwag ≤ {TARGET}× the tutorial's script: {ratio:.2f}× {common.verdict(ratio <= TARGET)}",
        "",
        "Reproduce: `python bench/bench_first_token.py" + (" --quick" if quick else "") + "`",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
