"""MCP prompts, resources and elicitation as a person meets them, against the real
@modelcontextprotocol/server-everything (tests/mcp_reference.py) and the
installed `chinwag` in a pty, with the scripted model server in place of a provider.

/prompts and /resources list what the server offers; /SERVER_PROMPT runs a
prompt with positional or key=value arguments and the model answers its
messages (an embedded resource inlined under its URI); a missing argument, an
unknown server and a server that died are one line each; `-a mcp:SERVER:URI`
(a template filled in) attaches a resource like a file. An elicitation is
asked at the terminal field by field and its answers reach the server; with
no terminal (piped, --yes) it is declined at once; URL mode shows the host and
opens nothing unasked.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pexpect
import pytest

from tests.cli_helpers import anthropic_env, chat_in, finish, leave_chat, run_chinwag, say
from tests.fakes.server import Reply, ScriptedServer
from tests.fakes.tool_wire import anthropic_calls
from tests.mcp_reference import everything, write_mcp_json

UP_WITHIN = 60.0


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_mcp_json(tmp_path / "mcp.json", {"everything": everything()})


def wait_for_prompts(child: pexpect.spawn, prompt: str = "/everything_args-prompt") -> str:
    """Ask /prompts until the server is up and lists `prompt`; the listing."""
    deadline = time.monotonic() + UP_WITHIN
    while True:
        say(child, "/prompts")
        child.expect("You: ")
        if prompt in child.before:
            return str(child.before)
        assert time.monotonic() < deadline, child.before
        time.sleep(0.3)


def user_text(request: Any) -> str:
    """The text of the last user message of an Anthropic request."""
    content = request.json["messages"][-1]["content"]
    if isinstance(content, str):
        return content
    return "\n".join(b.get("text", "") if b.get("type") == "text" else json.dumps(b) for b in content)


def tool_result(request: Any) -> str:
    last = request.json["messages"][-1]["content"]
    found = [b for b in last if isinstance(b, dict) and b.get("type") == "tool_result"]
    content = found[0]["content"]
    return content if isinstance(content, str) else json.dumps(content)


def test_prompts_and_resources_are_listed_with_their_arguments(
        tmp_path: Path, home: Path, server: ScriptedServer, config: Path) -> None:
    child = chat_in(anthropic_env(home, server.base_url), tmp_path, "--mcp-config", str(config))
    listed = wait_for_prompts(child)
    assert "/everything_args-prompt city=… [state=…] — A prompt with two arguments" in listed
    assert "/everything_simple-prompt" in listed
    say(child, "/resources")
    child.expect("You: ")
    assert "mcp:everything:demo://resource/static/document/features.md · resource" in child.before
    assert "mcp:everything:demo://resource/dynamic/text/{resourceId} · template" in child.before
    child.sendline("quit")
    assert finish(child) == 0


def test_a_prompt_runs_with_positional_or_named_arguments_and_the_model_answers(
        tmp_path: Path, home: Path, server: ScriptedServer, config: Path) -> None:
    server.enqueue(Reply(chunks=["Sunny in Paris."]), Reply(chunks=["Analysed."]))
    child = chat_in(anthropic_env(home, server.base_url), tmp_path, "--mcp-config", str(config))
    wait_for_prompts(child)
    say(child, "/everything_args-prompt Paris")
    child.expect_exact("⧉ prompt everything_args-prompt from MCP server everything · 1 message")
    child.expect_exact("What's weather in Paris?")
    child.expect_exact("Sunny in Paris.")
    child.expect("You: ")
    say(child, "/everything_resource-prompt resourceId=3 resourceType=Text")
    child.expect_exact("Analysed.")
    leave_chat(child)
    assert "What's weather in Paris?" in user_text(server.requests[0])
    sent = user_text(server.requests[1])
    assert "# resource: demo://resource/dynamic/text/3" in sent
    assert "Resource 3: This is a plaintext resource" in sent


def test_a_missing_argument_is_one_line_naming_it_and_nothing_is_sent(
        tmp_path: Path, home: Path, server: ScriptedServer, config: Path) -> None:
    child = chat_in(anthropic_env(home, server.base_url), tmp_path, "--mcp-config", str(config))
    wait_for_prompts(child)
    say(child, "/everything_args-prompt state=Texas")
    child.expect("You: ")
    lines = [line for line in child.before.splitlines() if "chinwag:" in line]
    assert lines == ["chinwag: /everything_args-prompt needs city (usage: /everything_args-prompt city=… [state=…])."]
    say(child, "/everything_args-prompt a b c")
    child.expect_exact("one too many")
    leave_chat(child)
    assert server.requests == []


def test_a_prompt_of_a_server_that_died_is_one_line_and_the_chat_goes_on(
        tmp_path: Path, home: Path, server: ScriptedServer, config: Path) -> None:
    child = chat_in(anthropic_env(home, server.base_url), tmp_path, "--mcp-config", str(config))
    wait_for_prompts(child)
    pids = [int(p) for p in os.popen(f"pgrep -f -P {child.pid} mcp-server-everything").read().split()]
    node = [int(p) for pid in pids for p in os.popen(f"pgrep -P {pid}").read().split()] + pids
    assert node
    for pid in node:
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while True:
        say(child, "/everything_simple-prompt")
        child.expect("You: ")
        if "died" in child.before or "not running" in child.before or "no MCP server" in child.before:
            break
        assert time.monotonic() < deadline, child.before
        time.sleep(0.3)
    assert "Traceback" not in child.before
    server.enqueue(Reply(chunks=["Still here."]))
    say(child, "hello")
    child.expect_exact("Still here.")
    leave_chat(child)


def test_a_resource_attaches_like_a_file_and_a_template_takes_its_parameter_in_the_uri(
        tmp_path: Path, home: Path, server: ScriptedServer, config: Path) -> None:
    server.enqueue(Reply(chunks=["Read it."]))
    out = run_chinwag(["--mcp-config", str(config), "-a", "mcp:everything:demo://resource/dynamic/text/7",
                       "what does it say?"], anthropic_env(home, server.base_url), cwd=tmp_path, timeout=90)
    assert out.returncode == 0, out.stderr
    assert "Read it." in out.stdout
    assert "📎 demo://resource/dynamic/text/7 · text/plain" in out.stderr
    sent = user_text(server.requests[0])
    assert "Resource 7: This is a plaintext resource" in sent
    assert "what does it say?" in sent


def test_a_blob_resource_is_read_by_its_content_like_a_file(
        tmp_path: Path, home: Path, server: ScriptedServer, config: Path) -> None:
    server.enqueue(Reply(chunks=["A blob."]))
    out = run_chinwag(["--mcp-config", str(config), "-a", "mcp:everything:demo://resource/dynamic/blob/5",
                       "what is it?"], anthropic_env(home, server.base_url), cwd=tmp_path, timeout=90)
    assert out.returncode == 0, out.stderr
    assert "📎 demo://resource/dynamic/blob/5 · text/plain" in out.stderr
    assert "Resource 5: This is a base64 blob" in user_text(server.requests[0])


@pytest.mark.parametrize(("spec", "says"), [
    ("mcp:nowhere:demo://x", "there is no MCP server 'nowhere' (servers: everything)."),
    ("mcp:everything:demo://resource/dynamic/text/{resourceId}", "is a template: put its parameters in the URI"),
    ("mcp:everything", "is not an MCP resource: write mcp:SERVER:URI"),
])
def test_a_bad_resource_is_one_line_and_exit_2(
        tmp_path: Path, home: Path, server: ScriptedServer, config: Path, spec: str, says: str) -> None:
    out = run_chinwag(["--mcp-config", str(config), "-a", spec, "hi"], anthropic_env(home, server.base_url),
                      cwd=tmp_path, timeout=90)
    assert out.returncode == 2, out.stderr
    assert says in out.stderr
    said = [line for line in out.stderr.splitlines() if "ANTHROPIC_BASE_URL" not in line]
    assert len(said) == 1, out.stderr
    assert server.requests == []


def test_attach_in_the_chat_reads_the_resource(
        tmp_path: Path, home: Path, server: ScriptedServer, config: Path) -> None:
    server.enqueue(Reply(chunks=["Got the features."]))
    child = chat_in(anthropic_env(home, server.base_url), tmp_path, "--mcp-config", str(config))
    wait_for_prompts(child)
    say(child, "/attach mcp:everything:demo://resource/static/document/features.md")
    child.expect_exact("📎 demo://resource/static/document/features.md")
    child.expect("You: ")
    say(child, "summarise")
    child.expect_exact("Got the features.")
    leave_chat(child)
    assert "# file: demo://resource/static/document/features.md" in user_text(server.requests[0])


ELICIT = ("toolu_1", "everything_trigger-elicitation-request", {})


def test_an_elicitation_is_asked_field_by_field_and_the_answers_reach_the_server(
        tmp_path: Path, home: Path, server: ScriptedServer, config: Path) -> None:
    server.enqueue(anthropic_calls([ELICIT]), Reply(chunks=["Thanks."]))
    child = chat_in(anthropic_env(home, server.base_url), tmp_path, "--mcp-config", str(config))
    wait_for_prompts(child)
    say(child, "ask me")
    child.expect_exact("Allow?")
    child.sendline("y")
    child.expect_exact("MCP server everything asks: Please provide inputs for the following fields:")
    child.expect_exact("[a]nswer")
    child.sendline("a")
    child.expect_exact("name (required): ")
    child.sendline("")  # required: asked again
    child.expect_exact("name is required")
    child.sendline("Ada Lovelace")
    child.expect_exact("check (y/n")
    child.sendline("y")
    child.expect_exact("firstLine (Enter: It was a dark and stormy night.): ")
    child.sendline("")
    for _ in range(3):  # email, homepage, birthdate: left out
        child.expect_exact("Enter: leave out): ")
        child.sendline("")
    child.expect_exact("integer (")
    child.sendline("500")  # above its maximum: asked again
    child.expect_exact("at most 100")
    child.sendline("7")
    child.expect_exact("number (")
    child.sendline("")
    child.expect_exact("6. Phoebe")
    child.sendline("6")
    child.expect_exact("untitledMultipleSelectEnum (")
    child.sendline("1 2")
    child.expect_exact("titledSingleSelectEnum (")
    child.sendline("Wonder Woman")
    child.expect_exact("titledMultipleSelectEnum (")
    child.sendline("")
    child.expect_exact("legacyTitledEnum (")
    child.sendline("2")
    child.expect_exact("Thanks.")
    leave_chat(child)
    result = tool_result(server.requests[1])
    content = json.loads(result[result.index("{"):])["content"]
    assert content == {"name": "Ada Lovelace", "check": True, "firstLine": "It was a dark and stormy night.",
                       "integer": 7, "number": 3.14, "untitledSingleSelectEnum": "Phoebe",
                       "untitledMultipleSelectEnum": ["Guitar", "Piano"], "titledSingleSelectEnum": "hero-3",
                       "titledMultipleSelectEnum": ["fish-1"], "legacyTitledEnum": "pet-2"}


def test_with_no_terminal_an_elicitation_is_declined_at_once_even_with_yes(
        tmp_path: Path, home: Path, server: ScriptedServer, config: Path) -> None:
    server.enqueue(anthropic_calls([ELICIT]), Reply(chunks=["Declined then."]))
    out = run_chinwag(["--mcp-config", str(config), "--yes", "ask me"], anthropic_env(home, server.base_url),
                      cwd=tmp_path, input="", timeout=90)
    assert out.returncode == 0, out.stderr
    assert "Declined then." in out.stdout
    assert '"action": "decline"' in tool_result(server.requests[1])


def test_a_url_elicitation_shows_the_host_and_opens_only_when_asked(
        tmp_path: Path, home: Path, server: ScriptedServer, config: Path) -> None:
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f"#!/bin/sh\necho \"$1\" >> {opened}\n")
    browser.chmod(0o755)
    url = "https://xn--pple-43d.example/verify?code=1"
    call = ("toolu_1", "everything_trigger-url-elicitation", {"url": url, "message": "Verify \x1b[31myou"})
    server.enqueue(anthropic_calls([call]), Reply(chunks=["Not opened."]),
                   anthropic_calls([("toolu_2", call[1], call[2])]), Reply(chunks=["Opened."]))
    env = anthropic_env(home, server.base_url, BROWSER=str(browser))
    child = chat_in(env, tmp_path, "--mcp-config", str(config))
    wait_for_prompts(child)
    say(child, "verify")
    child.expect_exact("Allow?")
    child.sendline("y")
    child.expect_exact("MCP server everything asks: Verify you")
    child.expect_exact(f"URL:  {url}")
    child.expect_exact("host: xn--pple-43d.example")
    child.expect_exact("[o]pen")
    child.sendline("d")
    child.expect_exact("Not opened.")
    child.expect("You: ")
    assert not opened.exists()
    say(child, "verify again")
    child.expect_exact("Allow?")
    child.sendline("y")
    child.expect_exact("[o]pen")
    child.sendline("o")
    child.expect_exact("Opened.")
    leave_chat(child)
    assert opened.read_text().strip() == url


def test_both_choices_ask_again_on_an_unknown_answer_and_decline_or_cancel(
        tmp_path: Path, home: Path, server: ScriptedServer, config: Path) -> None:
    """The form's choice and the URL's choice are one loop: a word it does not know
    asks again, `no` declines, `cancel` cancels; the server gets which, and
    nothing is asked or opened after."""
    url = "https://example.com/verify"
    form, link = ELICIT, ("toolu_2", "everything_trigger-url-elicitation", {"url": url, "message": "Verify"})
    server.enqueue(anthropic_calls([form]), Reply(chunks=["Declined."]), anthropic_calls([link]),
                   Reply(chunks=["Cancelled."]))
    child = chat_in(anthropic_env(home, server.base_url, BROWSER="false"), tmp_path, "--mcp-config", str(config))
    wait_for_prompts(child)
    say(child, "ask me")
    child.expect_exact("Allow?")
    child.sendline("y")
    child.expect_exact("[a]nswer")
    child.sendline("maybe")
    child.expect_exact("[a]nswer")  # asked again
    child.sendline("no")
    child.expect_exact("Declined.")
    child.expect("You: ")
    assert "name (" not in child.before  # no field was asked
    say(child, "verify")
    child.expect_exact("Allow?")
    child.sendline("y")
    child.expect_exact("[o]pen")
    child.sendline("a")  # the form's word, not this choice's: asked again
    child.expect_exact("[o]pen")
    child.sendline("cancel")
    child.expect_exact("Cancelled.")
    child.expect("You: ")
    assert "opened" not in child.before
    child.sendline("quit")
    assert finish(child) == 0
    assert '"action": "decline"' in tool_result(server.requests[1])
    assert '"action": "cancel"' in tool_result(server.requests[3])


def test_tab_completes_prompt_names_argument_names_and_values_through_the_server(
        tmp_path: Path, home: Path, server: ScriptedServer, config: Path) -> None:
    """In tmux, as a person types: Tab after `/everything_comp` gives the prompt's name,
    after a space its argument names, and after `name=` the values the server's
    completion/complete narrows by the department already typed."""
    from tests.tmux import Pane

    server.enqueue(Reply(chunks=["Promoted."]))
    with Pane(tmp_path, ["--mcp-config", str(config)], anthropic_env(home, server.base_url),
              size=(120, 40)) as pane:
        pane.wait_for("You: ")
        deadline = time.monotonic() + UP_WITHIN
        while "/everything_args-prompt" not in pane.screen():
            assert time.monotonic() < deadline, pane.screen()
            pane.type("/prompts")
            pane.press("Enter")
            time.sleep(0.5)
        pane.type("/everything_comp")
        pane.press("Tab")
        pane.wait_for("You: /everything_completable-prompt")
        pane.type(" dep")
        pane.press("Tab")
        pane.wait_for("/everything_completable-prompt department=")
        pane.type("Sa")
        pane.press("Tab")
        pane.wait_for("department=Sales ")
        pane.type("name=")
        pane.press("Tab", "Tab")  # two Tabs list every candidate: Sales' people only
        pane.wait_for("name=Frank")
        assert "name=Alice" not in pane.screen()
        pane.type("F")
        pane.press("Tab")
        pane.wait_for("name=Frank ")
        pane.press("Enter")
        pane.wait_for("Promoted.")
        pane.type("quit")
        pane.press("Enter")
    assert "Please promote Frank to the head of the Sales team." in user_text(server.requests[0])


def test_the_api_asks_on_elicit_and_declines_without_it(
        tmp_path: Path, home: Path, server: ScriptedServer, config: Path) -> None:
    """chinwag.Chat with an MCP server: the elicitation reaches `on_elicit` on the
    asking thread, and its answer the server; a Chat without one declines at once."""
    from chinwag import Chat, ElicitAnswer, Elicitation

    (home / "config.toml").write_text('allow = ["everything_trigger-elicitation-request"]\n')
    env = anthropic_env(home, server.base_url)
    asked: list[Elicitation] = []

    def on_elicit(request: Elicitation) -> ElicitAnswer:
        asked.append(request)
        return ElicitAnswer("accept", {"name": "Grace Hopper"})

    server.enqueue(anthropic_calls([ELICIT]), Reply(chunks=["Thanks."]),
                   anthropic_calls([("toolu_2", ELICIT[1], {})]), Reply(chunks=["Declined."]))
    with Chat(environ=env, cwd=tmp_path, save=False, mcp_config=config, on_elicit=on_elicit) as chat:
        assert chat.ask("ask me").text == "Thanks."
    assert [r.server for r in asked] == ["everything"]
    assert asked[0].fields[0].name == "name" and asked[0].fields[0].required
    assert '"name": "Grace Hopper"' in tool_result(server.requests[1])
    with Chat(environ=env, cwd=tmp_path, save=False, mcp_config=config) as chat:
        assert chat.ask("ask me").text == "Declined."
    assert '"action": "decline"' in tool_result(server.requests[3])


# -- our own server (tests/mcp_servers/demo.py, the 2026-07-28 protocol): list_changed, odd schemas, hostile text

def demo_chat(tmp_path: Path, home: Path, server: ScriptedServer) -> pexpect.spawn:
    """The chat with our demo server in its mcp.json, up to `You:`."""
    root = str(Path(__file__).resolve().parent.parent)
    config = tmp_path / "mcp.json"
    config.write_text(json.dumps({"mcpServers": {"demo": {"command": sys.executable, "env": {"PYTHONPATH": root},
                                                          "args": ["-m", "tests.mcp_servers.demo"]}}}))
    return chat_in(anthropic_env(home, server.base_url), tmp_path, "--mcp-config", str(config))


def demo_box() -> Any:
    from chinwag.tools import McpServerConfig, Toolbox

    root = str(Path(__file__).resolve().parent.parent)
    config = McpServerConfig("demo", command=sys.executable, args=("-m", "tests.mcp_servers.demo"),
                             env={"PYTHONPATH": root})
    box = Toolbox([], {"demo": config}, Path.cwd())
    box.start()
    deadline = time.monotonic() + UP_WITHIN
    while box.starting():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return box


def test_list_changed_refreshes_the_servers_prompts() -> None:
    from chinwag.records import ToolCall

    box = demo_box()
    try:
        assert [p.name for p in box.mcp.listings()["demo"].prompts] == ["greet", "hostile", "picture"]
        assert box.run(ToolCall("1", "demo_add_prompt", {"name": "fresh"})).content == "added fresh"
        deadline = time.monotonic() + 10
        while "fresh" not in [p.name for p in box.mcp.listings()["demo"].prompts]:
            assert time.monotonic() < deadline, box.mcp.listings()
            time.sleep(0.05)
    finally:
        box.close()


def test_an_elicitation_of_a_type_chinwag_cannot_ask_is_declined_with_one_line() -> None:
    from chinwag.records import ToolCall

    box = demo_box()
    asked: list[Any] = []
    box.mcp.questions.elicit = lambda request: asked.append(request)  # type: ignore[assignment, func-returns-value]
    try:
        output = box.run(ToolCall("1", "demo_ask_nested", {}))
        assert output.content == "answer: decline"
        assert asked == []  # nobody is asked what cannot be answered
        assert box.take_notices() == ["MCP server demo asked for something chinwag cannot ask (field 'address' is"
                                      " of type object, which chinwag cannot ask for); declined."]
    finally:
        box.close()


def test_a_prompts_text_is_sanitized_on_screen_and_sent_as_the_server_gave_it(
        tmp_path: Path, home: Path, server: ScriptedServer) -> None:
    server.enqueue(Reply(chunks=["Noted."]))
    child = demo_chat(tmp_path, home, server)
    wait_for_prompts(child, "/demo_hostile")
    say(child, "/demo_hostile")
    child.expect_exact("⧉ prompt demo_hostile from MCP server demo · 1 message")
    child.expect_exact("Noted.")
    shown = child.before
    leave_chat(child)
    assert "\x1b]0;pwned" not in shown and "\x1b[2J" not in shown
    assert "│ title  clear  end" in shown.replace("\x1b[2m", "").replace("\x1b[0m", "")
    assert "title \x1b]0;pwned\x07 clear \x1b[2J end" in user_text(server.requests[0])


def test_a_prompts_image_goes_to_the_model_as_an_image_and_its_assistant_text_is_marked(
        tmp_path: Path, home: Path, server: ScriptedServer) -> None:
    import base64

    server.enqueue(Reply(chunks=["Red and blue."]))
    child = demo_chat(tmp_path, home, server)
    wait_for_prompts(child, "/demo_picture")
    say(child, "/demo_picture")
    child.expect_exact("⧉ prompt demo_picture from MCP server demo · 3 messages")
    child.expect_exact("image/png · 2×1")
    child.expect_exact("Red and blue.")
    leave_chat(child)
    content = server.requests[0].json["messages"][-1]["content"]
    images = [b for b in content if b.get("type") == "image"]
    assert len(images) == 1 and images[0]["source"]["media_type"] == "image/png"
    assert base64.b64decode(images[0]["source"]["data"]).startswith(b"\x89PNG")
    text = "".join(b.get("text", "") for b in content if b.get("type") == "text")
    assert "What is in this picture?" in text
    assert "(the prompt's assistant message) I will describe it." in text
