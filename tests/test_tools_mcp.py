"""MCP servers through the toolbox, against a real server written with the `mcp`
package (tests/mcp_servers/demo.py), over stdio and over streamable HTTP on
127.0.0.1: tools and their approval, calls, a crash mid-call, a server that
never starts, one that starts slowly, one that dies while idle, Ctrl-C during
a call, and a start() that costs the prompt nothing."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chinwag.records import ToolCall
from chinwag.tools import McpServerConfig, Toolbox
from tests.local_servers import free_port, python_server, wait_for

ROOT = Path(__file__).resolve().parent.parent


def demo(name: str, *args: str) -> McpServerConfig:
    return McpServerConfig(name, command=sys.executable, args=("-m", "tests.mcp_servers.demo", *args),
                           env={"PYTHONPATH": str(ROOT)})


def names(box: Toolbox) -> set[str]:
    return {spec.name for spec in box.specs()}


def call(name: str, **args: object) -> ToolCall:
    return ToolCall("c1", name, args)


def gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")


@pytest.fixture(scope="module")
def http_server() -> Iterator[str]:
    port = free_port()
    with python_server("tests.mcp_servers.demo", port, "--http", str(port)):
        yield f"http://127.0.0.1:{port}/mcp"


@pytest.fixture(scope="module")
def box(http_server: str) -> Iterator[Toolbox]:
    """Two servers that stay up: `local` over stdio, `web` over streamable HTTP."""
    toolbox = Toolbox(["list_files"], {"local": demo("local"), "web": McpServerConfig("web", url=http_server)},
                      ROOT, allow=["local_write_note"], environ={"PATH": "/usr/bin:/bin"})
    toolbox.start()
    wait_for(lambda: {"local_echo", "web_echo"} <= names(toolbox))
    yield toolbox
    toolbox.close()


def test_tools_are_listed_as_server_tool(box: Toolbox) -> None:
    assert {"local_echo", "local_lookup", "local_write_note", "local_crash", "local_slow", "local_fail",
            "web_echo", "web_lookup"} <= names(box)
    spec = next(s for s in box.specs() if s.name == "local_echo")
    assert spec.description == "Say the text back."
    assert spec.input_schema["properties"]["text"]["type"] == "string"
    assert box.specs()[0].name == "list_files"  # built-ins first
    assert box.take_notices() == []


def test_annotations_decide_approval(box: Toolbox) -> None:
    assert box.verdict(call("local_echo", text="x")).ask is False  # read-only, closed world
    lookup = box.verdict(call("web_lookup", query="x"))  # read-only but open world
    assert lookup.ask and "MCP server web" in lookup.reason
    assert box.verdict(call("web_write_note", text="x")).ask  # no hints: asks
    assert box.verdict(call("local_write_note", text="x")).reason == "allowed by config"


def test_describe_names_the_server_and_the_approval(box: Toolbox) -> None:
    lines = box.describe()
    assert "local_echo · MCP server local · runs without asking" in lines
    assert "web_lookup · MCP server web · asks" in lines
    assert "local_write_note · MCP server local · allowed by config" in lines


@pytest.mark.parametrize("server", ["local", "web"])
def test_a_call_works(box: Toolbox, server: str) -> None:
    out = box.run(call(f"{server}_echo", text="hello"))
    assert (out.content, out.status, out.summary) == ("echo: hello", "ok", "1 line")


def test_a_tool_error_is_an_error_result(box: Toolbox) -> None:
    out = box.run(call("local_fail"))
    assert out.status == "error" and "this tool always fails" in out.content


def test_bad_input_is_an_error_result(box: Toolbox) -> None:
    out = box.run(call("local_echo", words=3))
    assert out.status == "error"
    assert box.run(call("local_echo", text="still fine")).status == "ok"


def test_output_is_capped(http_server: str) -> None:
    small = Toolbox([], {"web": McpServerConfig("web", url=http_server)}, ROOT, max_output=10, environ={})
    small.start()
    try:
        wait_for(lambda: "web_echo" in names(small))
        assert small.run(call("web_echo", text="a" * 100)).content == "echo: aaaa\n[… 96 more bytes cut]"
    finally:
        small.close()


@pytest.mark.parametrize("server", ["local", "web"])
def test_ctrl_c_during_a_call_interrupts_at_once_and_the_server_lives_on(box: Toolbox, server: str) -> None:
    main = threading.main_thread().ident
    assert main is not None
    sent: list[float] = []

    def press_ctrl_c() -> None:
        time.sleep(0.5)
        sent.append(time.monotonic())
        signal.pthread_kill(main, signal.SIGINT)

    threading.Thread(target=press_ctrl_c).start()
    with pytest.raises(KeyboardInterrupt):
        box.run(call(f"{server}_slow", seconds=30))
    assert time.monotonic() - sent[0] < 0.2
    assert box.run(call(f"{server}_echo", text="after")).content == "echo: after"
    assert box.take_notices() == []


def test_a_crash_mid_call_is_an_error_one_notice_and_the_others_go_on() -> None:
    box = Toolbox([], {"a": demo("a"), "b": demo("b")}, ROOT, environ={"PATH": "/usr/bin:/bin"})
    box.start()
    try:
        wait_for(lambda: {"a_crash", "b_echo"} <= names(box))
        out = box.run(call("a_crash"))
        assert out.status == "error" and "MCP server a" in out.content
        assert box.take_notices() == ["MCP server a died; its tools are gone (the connection closed)"]
        assert not any(name.startswith("a_") for name in names(box))
        later = box.run(call("a_echo", text="x"))
        assert later.status == "error" and "unknown tool 'a_echo'" in later.content
        assert box.run(call("b_echo", text="x")).content == "echo: x"
        time.sleep(1.5)  # the next checks find nothing new to say
        assert box.take_notices() == []
        assert "MCP server a: died (the connection closed)" in box.describe()
    finally:
        box.close()


def test_a_server_that_dies_while_idle_gives_one_notice() -> None:
    box = Toolbox([], {"a": demo("a")}, ROOT, environ={"PATH": "/usr/bin:/bin"})
    box.start()
    try:
        wait_for(lambda: "a_pid" in names(box))
        pid = int(box.run(call("a_pid")).content)
        import os

        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: "a_pid" not in names(box), timeout=10)
        notices = box.take_notices()
        assert len(notices) == 1 and notices[0].startswith("MCP server a died; its tools are gone")
        assert box.run(call("a_pid")).status == "error"
    finally:
        box.close()


def test_servers_that_never_start_give_one_notice_each_and_no_hang(tmp_path: Path) -> None:
    servers = {
        "missing": McpServerConfig("missing", command=str(tmp_path / "no-such-server")),
        "quits": McpServerConfig("quits", command=sys.executable,
                                 args=("-c", "import sys; print('missing API token', file=sys.stderr); sys.exit(1)")),
        "refused": McpServerConfig("refused", url="http://127.0.0.1:9/mcp"),
    }
    box = Toolbox(["list_files"], servers, tmp_path, environ={"PATH": "/usr/bin:/bin"})
    box.start()
    try:
        notices: list[str] = []
        wait_for(lambda: notices.extend(box.take_notices()) or len(notices) >= 3, timeout=30)
        assert sorted(n.split(" failed to start")[0] for n in notices) == [
            "MCP server missing", "MCP server quits", "MCP server refused"]
        assert any("No such file or directory" in n for n in notices)
        assert any("it said: missing API token" in n for n in notices)
        assert names(box) == {"list_files"}
        assert box.run(call("list_files")).status == "ok"
        time.sleep(0.5)
        assert box.take_notices() == []
    finally:
        start = time.monotonic()
        box.close()
        assert time.monotonic() - start < 2


def test_a_slow_server_delays_nothing_but_its_own_tools(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x")
    box = Toolbox(["list_files"], {"slow": demo("slow", "--start-delay", "2")}, tmp_path,
                  environ={"PATH": "/usr/bin:/bin"})
    started = time.monotonic()
    box.start()
    try:
        assert names(box) == {"list_files"}
        assert box.run(call("list_files")).content == "a.txt"
        assert box.run(call("slow_echo", text="x")).status == "error"  # not up yet: an error, not a wait
        assert time.monotonic() - started < 1
        wait_for(lambda: "slow_echo" in names(box))
        assert time.monotonic() - started > 2
        assert box.run(call("slow_echo", text="now")).content == "echo: now"
    finally:
        box.close()


def test_close_ends_the_server_processes() -> None:
    box = Toolbox([], {"a": demo("a")}, ROOT, environ={"PATH": "/usr/bin:/bin"})
    box.start()
    wait_for(lambda: "a_pid" in names(box))
    pid = int(box.run(call("a_pid")).content)
    box.close()
    wait_for(lambda: gone(pid), timeout=5)
    assert box.specs() == ()


START_PROBE = """
import sys, time
from pathlib import Path
from chinwag.tools import McpServerConfig, Toolbox
box = Toolbox([], {"a": McpServerConfig("a", command=sys.executable,
                                         args=("-m", "tests.mcp_servers.demo", "--start-delay", "30"))},
              Path("."))
t = time.perf_counter()
box.start()
elapsed = time.perf_counter() - t
print(elapsed, "mcp" in sys.modules)
box.close()
"""


def test_start_returns_at_once_without_importing_mcp() -> None:
    result = subprocess.run([sys.executable, "-c", START_PROBE], cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    """The server sleeps 30 s before it serves: a start() that waited for it (or for
    importing the mcp package) would take that long. The bound is a hang guard far
    from any real figure (start() takes well under a millisecond), not a timing
    assertion that load could break."""
    elapsed, imported = result.stdout.split()
    assert float(elapsed) < 5, result.stdout
    assert imported == "False"


def test_close_does_not_wait_for_a_server_still_starting() -> None:
    marker = "31.4159"
    box = Toolbox([], {"late": demo("late", "--start-delay", marker)}, ROOT, environ={"PATH": "/usr/bin:/bin"})
    box.start()

    def server_pids() -> list[int]:
        found = []
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and marker in (entry / "cmdline").read_text():
                    found.append(int(entry.name))
            except OSError:
                continue
        return [pid for pid in found if not gone(pid)]

    wait_for(server_pids, timeout=30)
    start = time.monotonic()
    box.close()
    assert time.monotonic() - start < 5
    wait_for(lambda: not server_pids(), timeout=5)
    assert box.take_notices() == []
