"""Launch to `You: ` with five MCP servers configured against none (issue 22:
servers start after the prompt is drawn).

Both contenders are chinwag on the Anthropic path (a scripted server on
127.0.0.1; nothing is sent before the first turn), started on a bare pty as in
bench_startup_pty.py, alternated run by run, each after one untimed run, with a
fresh CHINWAG_HOME each time, each with a config.toml (`max_tool_rounds = 10`, so
reading the file is in both). "five servers" adds to it: three stdio
servers (tests/mcp_servers/demo.py, each told to sleep 2 s before serving), one
streamable-HTTP server with `headers = { Authorization = "Bearer ${TOKEN}" }`,
and one HTTP server with stored OAuth tokens (CHINWAG_HOME/mcp-auth, 0600);
both URLs refuse connections. Were any of them waited for, the prompt would
come at least 2 s later.

Target: with five servers ≤ 1.10× without (medians), i.e. unchanged within the
noise of a shared 2-core machine; the difference in ms is shown too.

Run alone: `python bench/bench_mcp_startup.py [--quick]`.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as common  # noqa: E402
from pty_launch import time_launches  # noqa: E402

common.repo_on_path()

TARGET = 1.10
NAMES = ["no MCP servers", "five MCP servers"]


def _configure(home: str, with_servers: bool, refused: str) -> None:
    # Both have a config.toml, so the difference is the servers, not reading the file.
    Path(home, "config.toml").write_text("max_tool_rounds = 10\n", encoding="utf-8")
    if with_servers:
        stdio = "".join(
            f'[mcp_servers.demo{n}]\ncommand = "{common.PYTHON}"\n'
            f'args = ["-m", "tests.mcp_servers.demo", "--start-delay", "2"]\n'
            f'env = {{ PYTHONPATH = "{common.ROOT}" }}\n' for n in range(3))
        http = (f'[mcp_servers.hosted]\nurl = "{refused}/mcp"\n'
                'headers = { Authorization = "Bearer ${BENCH_TOKEN}" }\n'
                f'[mcp_servers.oauth]\nurl = "{refused}/other/mcp"\n')
        Path(home, "config.toml").write_text("max_tool_rounds = 10\n" + stdio + http, encoding="utf-8")
        folder = Path(home, "mcp-auth")
        folder.mkdir(mode=0o700)
        fd = os.open(folder / "oauth.json", os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump({"url": f"{refused}/other/mcp", "tokens": {"access_token": "a", "token_type": "Bearer"}}, out)


def measure(reps: int, base_url: str, refused: str) -> dict[str, list[float]]:
    def setup(name: str, home: str) -> tuple[list[str], dict[str, str]]:
        _configure(home, name != NAMES[0], refused)
        return [common.CHINWAG], common.clean_env(home, ANTHROPIC_API_KEY="test", ANTHROPIC_BASE_URL=base_url,
                                                  BENCH_TOKEN="bench-token")

    return time_launches(NAMES, reps, setup)


def run(quick: bool = False) -> str:
    from tests.fakes.server import ScriptedServer

    reps = 7 if quick else 21
    with ScriptedServer() as server, socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        times = measure(reps, server.base_url, f"http://127.0.0.1:{sock.getsockname()[1]}")
        sent = len(server.requests)
    med = {name: common.summary(t)["median"] for name, t in times.items()}
    base, five = med[NAMES[0]], med[NAMES[1]]
    ratio = five / base
    rows = [(name, common.ms_range(t), f"{med[name] / base:.2f}×") for name, t in times.items()]
    return "\n".join([
        "## Start-up with five MCP servers configured",
        "",
        f"chinwag (Anthropic path) on a bare pty to `You: `, {reps} alternated runs each after one untimed run,"
        " fresh CHINWAG_HOME each time; three stdio servers that sleep 2 s before serving, one HTTP server"
        " with a ${VAR} Authorization header and one with stored OAuth tokens.",
        "",
        common.table(["config.toml", "ms: median (min–max)", "× no servers"], rows),
        "",
        f"- with five MCP servers ≤ {TARGET}× without: {ratio:.2f}× {common.verdict(ratio <= TARGET)}"
        f" (difference {common.ms(five - base)} ms)",
        f"- requests sent to the model before the first turn: {sent} (should be 0)",
        "",
        "Reproduce: `python bench/bench_mcp_startup.py" + (" --quick" if quick else "") + "`",
    ]) + "\n"


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
