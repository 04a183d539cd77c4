"""Progress and cancel of MCP calls, as a person meets them: the installed `chinwag` in a
pty (pexpect) with server-everything (tests/mcp_reference.py) and demo.py's flood, and
the scripted model server (tests/fakes).

The running call's line counts the server's progress in place (`… 2/3`); a flood of
progress notifications (1,000 a second) is drawn at most every 100 ms, not once per
notification; Ctrl-C (and the page's Stop) cancels the call with notifications/cancelled
for its request, and the chat and the server go on.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pexpect

from chinwag.records import ToolCall
from chinwag.tools import McpServerConfig, Toolbox
from tests.cli_helpers import anthropic_env, finish, leave_chat, say, spawn_chinwag
from tests.fakes.server import Reply, ScriptedServer
from tests.fakes.tool_wire import anthropic_calls
from tests.local_servers import wait_for
from tests.mcp_reference import everything, write_mcp_json

ROOT = Path(__file__).resolve().parent.parent
LONG = "everything_trigger-long-running-operation"


def teed(config: McpServerConfig, log: Path) -> McpServerConfig:
    """`config` run through tee_stdin: every line chinwag sends the server is copied to `log`."""
    return McpServerConfig(config.name, command=sys.executable,
                           args=("-m", "tests.mcp_servers.tee_stdin", str(log), config.command or "", *config.args),
                           env={"PYTHONPATH": str(ROOT), **config.env})


def sent_to_server(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def chat(server: ScriptedServer, home: Path, work: Path, tmp_path: Path, *servers: McpServerConfig) -> pexpect.spawn:
    config = write_mcp_json(tmp_path / "mcp.json", {s.name: s for s in servers})
    child = spawn_chinwag(["--mcp-config", str(config)], anthropic_env(home, server.base_url), cwd=work, timeout=60)
    child.expect("You: ")
    return child


def test_progress_updates_the_calls_line_live(work: Path, home: Path, server: ScriptedServer,
                                               tmp_path: Path) -> None:
    server.enqueue(anthropic_calls([("toolu_1", LONG, {"duration": 3, "steps": 3})]), Reply(chunks=["Done."]))
    child = chat(server, home, work, tmp_path, everything())
    say(child, "take your time")
    child.expect_exact(f"⚙ {LONG} … 1/3")
    child.expect_exact(f"⚙ {LONG} … 2/3")
    child.expect_exact("↳ 1 line")  # then the call ends as every call does
    child.expect_exact("Done.")
    leave_chat(child)


def test_ctrl_c_cancels_the_call_on_the_server_and_the_chat_and_the_server_go_on(
        work: Path, home: Path, server: ScriptedServer, tmp_path: Path) -> None:
    log = tmp_path / "sent.jsonl"
    server.enqueue(anthropic_calls([("toolu_1", LONG, {"duration": 60, "steps": 60})]),
                   anthropic_calls([("toolu_2", "everything_echo", {"message": "still here"})]),
                   Reply(chunks=["Fine."]))
    child = chat(server, home, work, tmp_path, teed(everything(), log))
    say(child, "take your time")
    child.expect_exact(f"⚙ {LONG} … 1/60")
    child.sendintr()
    child.expect("You: ", timeout=5)
    call = next(m for m in sent_to_server(log) if m.get("method") == "tools/call")
    wait_for(lambda: any(m.get("method") == "notifications/cancelled" for m in sent_to_server(log)), 5)
    cancelled = next(m for m in sent_to_server(log) if m.get("method") == "notifications/cancelled")
    assert cancelled["params"]["requestId"] == call["id"]
    say(child, "are you there?")  # the interrupted call goes back, and the same server answers the next
    child.expect_exact("Fine.")
    child.expect("You: ")
    assert "died" not in child.before
    child.sendline("quit")
    assert finish(child) == 0
    echoed = server.requests[2].json["messages"][-1]["content"][0]
    assert echoed["tool_use_id"] == "toolu_2" and echoed["content"] == "Echo: still here"


def test_a_flood_of_progress_is_drawn_at_most_every_100_ms_and_the_chat_goes_on(
        work: Path, home: Path, server: ScriptedServer, tmp_path: Path) -> None:
    demo = McpServerConfig("demo", command=sys.executable, args=("-m", "tests.mcp_servers.demo"),
                           env={"PYTHONPATH": str(ROOT)})
    server.enqueue(anthropic_calls([("toolu_1", "demo_flood", {"count": 2000, "rate": 1000})]),
                   Reply(chunks=["Flooded."]))
    child = chat(server, home, work, tmp_path, demo)
    say(child, "flood")
    child.expect_exact("⚙ demo_flood … ")
    started = time.monotonic()
    child.expect_exact("↳ 1 line", timeout=120)
    took = time.monotonic() - started
    drawn = child.before
    child.expect_exact("Flooded.")
    leave_chat(child)
    redraws = len(re.findall(r"⚙ demo_flood … \d+/2000 step", drawn))
    # Each report is drawn at once and once more by the spinner's next tick: two draws per
    # 100 ms at most, however many of the 2,000 notifications came meanwhile.
    assert 1 <= redraws <= 2 * (took / 0.1) + 4 and redraws < 2000 / 5, (redraws, took)
    assert server.requests[1].json["messages"][-1]["content"][0]["content"] == "flooded 2000"


def test_the_pages_stop_cancels_the_call_on_the_server(tmp_path: Path) -> None:
    """Simulated: the page's Stop sets the turn's `stopping` event from another thread (the
    web server's), which is what Toolbox.calling is given; here a thread sets it."""
    log = tmp_path / "sent.jsonl"
    box = Toolbox([], {"everything": teed(everything(), log)}, tmp_path)
    box.start()
    try:
        wait_for(lambda: not box.starting(), 30)
        stopping = threading.Event()
        steps = box.calling(ToolCall("c1", LONG, {"duration": 60, "steps": 60}), stopping)
        reports = []
        try:
            while True:
                reports.append(next(steps))
                stopping.set()  # Stop pressed once the call is seen running
        except StopIteration as done:
            output = done.value
        assert [r.text() for r in reports] == ["1/60"]
        assert output.status == "interrupted" and output.content.startswith("interrupted: the user stopped")
        call = next(m for m in sent_to_server(log) if m.get("method") == "tools/call")
        wait_for(lambda: any(m.get("method") == "notifications/cancelled" for m in sent_to_server(log)), 5)
        cancelled = next(m for m in sent_to_server(log) if m.get("method") == "notifications/cancelled")
        assert cancelled["params"]["requestId"] == call["id"]
        assert box.run(ToolCall("c2", "everything_echo", {"message": "on"})).content == "Echo: on"
        assert box.take_notices() == []
    finally:
        box.close()


def test_stop_on_the_page_cancels_the_call_on_the_server_and_the_next_call_runs(
        browser: Any, fake: ScriptedServer, tmp_path: Path) -> None:
    """The page's Stop, clicked in Chromium, while an MCP call runs in `chinwag serve` (its
    progress on the page's notice line meanwhile)."""
    from tests.test_web_support import serve

    log = tmp_path / "sent.jsonl"
    config = write_mcp_json(tmp_path / "mcp.json", {"everything": teed(everything(), log)})
    fake.enqueue(anthropic_calls([("toolu_1", LONG, {"duration": 60, "steps": 60})]),
                 anthropic_calls([("toolu_2", "everything_echo", {"message": "still here"})]),
                 Reply(chunks=["Fine."]))
    work = tmp_path / "work"
    work.mkdir()
    with serve(anthropic_env(tmp_path / "home", fake.base_url), "--mcp-config", str(config), cwd=work) as served:
        context = browser.new_context()
        page = context.new_page()
        page.set_default_timeout(30_000)
        try:
            page.goto(served.url)
            page.wait_for_selector("#model option", state="attached")
            page.fill("#input", "take your time")
            page.press("#input", "Enter")
            # The call's progress, live on the page's notice line.
            page.locator("#notice", has_text=f"⚙ {LONG} … 1/60").wait_for()
            page.click("#stop")
            wait_for(lambda: any(m.get("method") == "notifications/cancelled" for m in sent_to_server(log)), 10)
            call = next(m for m in sent_to_server(log) if m.get("method") == "tools/call")
            cancelled = next(m for m in sent_to_server(log) if m.get("method") == "notifications/cancelled")
            assert cancelled["params"]["requestId"] == call["id"]
            page.wait_for_selector(".msg.assistant[data-status=stopped], .msg.assistant[data-status=interrupted]")
            assert "1/60" not in page.inner_text("#notice")  # gone with the call
            page.fill("#input", "are you there?")
            page.press("#input", "Enter")
            page.wait_for_selector("text=Fine.")
        finally:
            context.close()
    stopped = fake.requests[1].json["messages"][-1]["content"][0]
    assert stopped["tool_use_id"] == "toolu_1" and stopped["is_error"] is True
    echoed = fake.requests[2].json["messages"][-1]["content"][0]
    assert echoed["tool_use_id"] == "toolu_2" and echoed["content"] == "Echo: still here"
