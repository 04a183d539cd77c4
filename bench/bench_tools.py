"""Tool use: what the tool loop adds, what MCP servers cost the prompt, and
how soon Ctrl-C in a running tool gives the prompt back.

1. Loop overhead. One chinwag REPL on a pseudo-terminal (-T list_files,
   saving on, as by default) against an in-process scripted Anthropic server;
   each turn the server streams a reply that calls list_files on a tiny
   directory, then a text reply. At the server, on one clock: the moment the
   first reply's last byte (the chunked body's end) was written → the moment
   the second request arrived. The tool's own time is measured in the same
   run, alternated: the same call through chinwag's Toolbox, in this
   process, warm. Overhead = median gap − median tool time (parsing the
   stop, saving the call before and after it runs, the result line on the
   terminal, building and sending the next request).
2. Start-up with three MCP servers configured (--mcp-config, stdio,
   tests/mcp_servers/demo.py): spawn → `You: ` on the pty, alternated with a
   bare `python -c "input('You: ')"` (as bench_startup.py). The servers start
   after the prompt; each run quits and waits for the exit before the next.
3. Ctrl-C while a shell tool runs (`sleep 30`, approved with --yes): sendintr
   → `You: ` read back from the pty; the shell's process group is checked
   gone afterwards.

Targets (the tool-use issue): overhead ≤ 5 ms plus the tool's own time;
start-up with three MCP servers ≤ 2.0× bare python; Ctrl-C → `You:` ≤ 100 ms.
Run alone: `python bench/bench_tools.py [--quick]`.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as common  # noqa: E402

common.repo_on_path()
from tests.procs import group_members  # noqa: E402  (the repo is on the path only now)

TARGET_OVERHEAD_MS = 5.0
TARGET_STARTUP = 2.0
TARGET_CTRL_C_MS = 100.0
WARM_TURNS = 3


class _BodyEnds:
    """When each streamed response's last byte was written, by request arrival time
    (the scripted server's handler, wrapped in this process)."""

    def __init__(self) -> None:
        from tests.fakes import handler

        self.ends: dict[float, float] = {}
        self._lock = threading.Lock()
        original = handler.Handler._stream
        ends, lock = self.ends, self._lock

        def stream(self_: Any, wire: Any, reply: Any, request: Any) -> None:
            original(self_, wire, reply, request)
            with lock:
                ends[request.received_at] = time.monotonic()

        handler.Handler._stream = stream  # type: ignore[method-assign]


def _tool_time(cwd: Path) -> float:
    """One list_files call through the Toolbox, in this process."""
    from chinwag.records import ToolCall
    from chinwag.tools import Toolbox

    box = Toolbox(["list_files"], {}, cwd)
    try:
        start = time.perf_counter()
        box.run(ToolCall("c1", "list_files", {}))
        return time.perf_counter() - start
    finally:
        box.close()


def _overhead(quick: bool) -> tuple[list[float], list[float]]:
    from tests.fakes.server import Reply, ScriptedServer
    from tests.fakes.tool_wire import anthropic_calls

    reps = 5 if quick else 15
    cwd = Path(tempfile.mkdtemp(prefix="chinwag-bench-cwd-"))
    for name in ("a.txt", "b.txt", "c.md"):
        (cwd / name).write_text("x\n")
    home = tempfile.mkdtemp(prefix="chinwag-bench-home-")
    ends = _BodyEnds()
    gaps: list[float] = []
    direct: list[float] = []
    with ScriptedServer() as server:
        env = common.clean_env(home, ANTHROPIC_API_KEY="test", ANTHROPIC_BASE_URL=server.base_url)
        child = common.spawn(common.CHINWAG, ["-T", "list_files"], env, cwd=str(cwd))
        reader = common.PtyReader(child)
        try:
            _, pos = reader.wait_for(b"You: ", 0, timeout=60)
            _tool_time(cwd)  # untimed: imports

            def turn(t: int) -> float:
                nonlocal pos
                before = len(server.requests)
                server.enqueue(anthropic_calls([(f"toolu_{t}", "list_files", {})]), Reply(chunks=[f"done {t}."]))
                child.sendline(f"look {t}")
                _, pos = reader.wait_for(f"done {t}.".encode(), pos, timeout=30)
                _, pos = reader.wait_for(b"You: ", pos, timeout=30)
                first, second = server.requests[before:before + 2]
                return second.received_at - ends.ends[first.received_at]

            for t in range(WARM_TURNS):  # untimed: the first turns import the HTTP stack, the tool, the store
                turn(t)
            for t, what in enumerate(common.alternate(reps, "chinwag", "direct"), start=WARM_TURNS):
                if what == "direct":
                    direct.append(_tool_time(cwd))
                else:
                    gaps.append(turn(t))
        finally:
            common.kill(child)
    shutil.rmtree(cwd, ignore_errors=True)
    shutil.rmtree(home, ignore_errors=True)
    return gaps, direct


def _in_process(quick: bool) -> list[float]:
    """The same loop with no process boundary: a Session and a TerminalSink (spinner
    included) writing to memory, in this process. What chinwag's own code costs,
    without the scheduler waking a second process on a loaded machine."""
    import io

    from chinwag.config import resolve
    from chinwag.session import open_session
    from chinwag.sinks import TerminalSink
    from chinwag.toolloop import ToolUse
    from tests.fakes.server import Reply, ScriptedServer
    from tests.fakes.tool_wire import anthropic_calls

    reps = 5 if quick else 15
    cwd = Path(tempfile.mkdtemp(prefix="chinwag-bench-cwd-"))
    (cwd / "a.txt").write_text("x\n")
    home = tempfile.mkdtemp(prefix="chinwag-bench-home-")
    ends = _BodyEnds()
    gaps: list[float] = []
    with ScriptedServer() as server:
        env = {"ANTHROPIC_API_KEY": "test", "ANTHROPIC_BASE_URL": server.base_url, "CHINWAG_HOME": home}
        settings = resolve(env, cwd, {"tools": ["list_files"]})
        session = open_session(settings, env)
        session.tool_use = ToolUse(settings.tools, cwd, env, None)
        try:
            for t in range(WARM_TURNS + reps):
                before = len(server.requests)
                server.enqueue(anthropic_calls([(f"toolu_{t}", "list_files", {})]), Reply(chunks=["ok"]))
                screen = io.StringIO()
                session.ask(f"look {t}", [TerminalSink(screen, screen, label="Claude: ", spinner_out=screen,
                                                       interactive=True)])
                first, second = server.requests[before:before + 2]
                if t >= WARM_TURNS:
                    gaps.append(second.received_at - ends.ends[first.received_at])
        finally:
            session.close()
    shutil.rmtree(cwd, ignore_errors=True)
    shutil.rmtree(home, ignore_errors=True)
    return gaps


def _mcp_config(folder: Path) -> Path:
    demo = {"command": common.PYTHON, "args": ["-m", "tests.mcp_servers.demo"], "env": {"PYTHONPATH": str(common.ROOT)}}
    path = folder / "mcp.json"
    path.write_text(json.dumps({"mcpServers": {"one": demo, "two": demo, "three": demo}}))
    return path


SETTLE = 2.0  # seconds between start-up runs, outside the timing


def _startup(quick: bool) -> dict[str, list[float]]:
    from tests.fakes.server import ScriptedServer

    reps = 5 if quick else 11
    cwd = Path(tempfile.mkdtemp(prefix="chinwag-bench-cwd-"))
    config = _mcp_config(cwd)
    with ScriptedServer() as server:
        contenders = {
            "bare python": (common.PYTHON, ["-c", "input('You: ')"]),
            "chinwag, no tools": (common.CHINWAG, []),
            "chinwag, 3 MCP servers": (common.CHINWAG, ["--mcp-config", str(config)]),
        }

        def once(name: str) -> float:
            command, args = contenders[name]
            home = tempfile.mkdtemp(prefix="chinwag-bench-home-")
            env = common.clean_env(home, ANTHROPIC_API_KEY="test", ANTHROPIC_BASE_URL=server.base_url)
            start = time.monotonic()
            child = common.spawn(command, args, env, cwd=str(cwd))
            try:
                seen, _ = common.PtyReader(child).wait_for(b"You: ", 0, timeout=60)
                child.sendline("quit")  # chinwag closes its MCP servers; none is left to load the next run
                child.expect(__import__("pexpect").EOF, timeout=20)
            finally:
                common.kill(child)
                shutil.rmtree(home, ignore_errors=True)
            # An MCP server still importing `mcp` (1-2 s of CPU) when chinwag quits
            # goes on until it reads EOF: let it end before the next timed launch,
            # or it slows that one (on 2 cores the no-tools runs measured 1.96x then).
            time.sleep(SETTLE)
            return seen - start

        times = common.alternated(list(contenders), reps, once)
    shutil.rmtree(cwd, ignore_errors=True)
    return times




def _ctrl_c(quick: bool) -> tuple[list[float], int]:
    from tests.fakes.server import ScriptedServer
    from tests.fakes.tool_wire import anthropic_calls

    reps = 5 if quick else 15
    cwd = Path(tempfile.mkdtemp(prefix="chinwag-bench-cwd-"))
    home = tempfile.mkdtemp(prefix="chinwag-bench-home-")
    times: list[float] = []
    left = 0
    with ScriptedServer() as server:
        env = common.clean_env(home, ANTHROPIC_API_KEY="test", ANTHROPIC_BASE_URL=server.base_url)
        child = common.spawn(common.CHINWAG, ["-T", "shell", "--yes"], env, cwd=str(cwd))
        reader = common.PtyReader(child)
        try:
            _, pos = reader.wait_for(b"You: ", 0, timeout=60)
            for t in range(reps + 1):
                pid_file = cwd / f"pid{t}"
                server.enqueue(anthropic_calls([(f"toolu_{t}", "shell", {"command": f"echo $$ > {pid_file.name}; "
                                                                       "sleep 30"})]))
                child.sendline(f"wait {t}")
                deadline = time.monotonic() + 30
                while not pid_file.exists() or not pid_file.read_text().strip():
                    if time.monotonic() > deadline:
                        raise TimeoutError("the shell command never started")
                    time.sleep(0.005)
                pgid = os.getpgid(int(pid_file.read_text()))
                time.sleep(0.1)
                reader.drain(0)
                start = len(reader.buf)
                pressed = time.monotonic()
                child.sendintr()
                seen, _ = reader.wait_for(b"You: ", start, timeout=10)
                if t:
                    times.append(seen - pressed)
                time.sleep(0.2)
                left += bool(group_members(pgid))
        finally:
            common.kill(child)
    shutil.rmtree(cwd, ignore_errors=True)
    shutil.rmtree(home, ignore_errors=True)
    return times, left


def run(quick: bool = False) -> str:
    gaps, direct = _overhead(quick)
    inside = _in_process(quick)
    startup = _startup(quick)
    ctrl_c, left = _ctrl_c(quick)

    def med(xs: list[float]) -> float:
        return common.summary(xs)["median"]

    overhead = med(gaps) - med(direct)
    bare, mcp = med(startup["bare python"]), med(startup["chinwag, 3 MCP servers"])
    plain = med(startup["chinwag, no tools"])
    lines = [
        "## Tool use: loop overhead, start-up with MCP servers, Ctrl-C in a tool",
        "",
        f"Loop overhead: a chinwag REPL on a pty (-T list_files, saving on), {len(gaps)} turns after "
        f"{WARM_TURNS} uncounted, "
        "each a list_files call on a 3-file directory then a text reply; at the scripted server, the first "
        "reply's last byte written → the second request's arrival. Alternated with the same call through "
        "chinwag's Toolbox in the bench process (the tool's own time).",
        "",
        common.table(["Measured", "ms: median (min–max)"], [
            ("tool_use stop → next request arrives", common.ms_range(gaps, 2)),
            ("list_files called directly", common.ms_range(direct, 2)),
            ("overhead (difference of medians)", f"{overhead * 1000:.2f}"),
            ("the same loop in this process (Session + TerminalSink to memory; diagnostic)",
             common.ms_range(inside, 2)),
        ]),
        "",
        f"Start-up: spawn → `You: ` on a pty, {len(startup['bare python'])} alternated runs each after one untimed; "
        "chinwag with three stdio MCP servers (tests/mcp_servers/demo.py) in --mcp-config, and without "
        "tools (what the servers add).",
        "",
        common.table(["Program", "ms: median (min–max)", "× bare python"], [
            ("bare python", common.ms_range(startup["bare python"]), "1.00×"),
            ("chinwag, no tools", common.ms_range(startup["chinwag, no tools"]), f"{plain / bare:.2f}×"),
            ("chinwag, 3 MCP servers", common.ms_range(startup["chinwag, 3 MCP servers"]), f"{mcp / bare:.2f}×"),
        ]),
        "",
        f"Ctrl-C in a tool: `shell` running `sleep 30` (--yes), {len(ctrl_c)} runs after one uncounted; "
        f"sendintr → `You: ` read from the pty. Process groups still alive 0.2 s later: {left}.",
        "",
        common.table(["Measured", "ms: median (min–max)"], [("Ctrl-C → `You: `", common.ms_range(ctrl_c, 2))]),
        "",
        f"- tool_use stop → next request ≤ {TARGET_OVERHEAD_MS:g} ms + the tool's own time: overhead "
        f"{overhead * 1000:.2f} ms {common.verdict(overhead * 1000 <= TARGET_OVERHEAD_MS)}",
        f"- launch → `You: ` with three MCP servers ≤ {TARGET_STARTUP}× bare python: {mcp / bare:.2f}× "
        f"{common.verdict(mcp / bare <= TARGET_STARTUP)}",
        f"- Ctrl-C while a shell tool runs → `You: ` ≤ {TARGET_CTRL_C_MS:g} ms (median): {med(ctrl_c) * 1000:.2f} ms "
        f"(slowest {max(ctrl_c) * 1000:.2f} ms) {common.verdict(med(ctrl_c) * 1000 <= TARGET_CTRL_C_MS and not left)}",
        "",
        "Reproduce: `python bench/bench_tools.py" + (" --quick" if quick else "") + "`",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
