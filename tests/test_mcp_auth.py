"""Auth for MCP servers over HTTP, against real servers on 127.0.0.1:
tests/mcp_servers/oauth_demo.py is an MCP server that is also its own OAuth 2.1
authorization server (the `mcp` package's server-side auth: discovery, dynamic
client registration, PKCE, refresh, revocation).

`chinwag mcp login` runs in a pty (pexpect) as a person runs it; the URL it
prints is opened in real Chromium, whose redirect reaches chinwag's callback
on 127.0.0.1. `chinwag mcp list` and the chat's MCP hub (Toolbox) then use the
stored tokens: refreshed after expiry, "needs login" once revoked. Headers with
${VAR} reach the server (it says back what it received)."""

from __future__ import annotations

import io
import json
import os
import re
import stat
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pexpect
import pytest

from chinwag.records import ToolCall
from chinwag.tools import McpServerConfig, Toolbox
from tests.local_servers import free_port, python_server, wait_for

ROOT = Path(__file__).resolve().parent.parent
URL_LINE = re.compile(r"(http://127\.0\.0\.1:\d+/authorize\?\S+)")


class Served:
    def __init__(self, port: int, proc: subprocess.Popen[bytes]) -> None:
        self.port, self.proc = port, proc
        self.base = f"http://127.0.0.1:{port}"
        self.url = f"{self.base}/mcp"

    def log(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.base}/admin/log", timeout=10) as answer:
            return dict(json.load(answer))

    def revoke_all(self) -> None:
        urllib.request.urlopen(urllib.request.Request(f"{self.base}/admin/revoke", method="POST"), timeout=10)

    def forget_access(self) -> None:
        urllib.request.urlopen(urllib.request.Request(f"{self.base}/admin/forget-access", method="POST"), timeout=10)


def serve(*args: str) -> Iterator[Served]:
    port = free_port()
    with python_server("tests.mcp_servers.oauth_demo", port, str(port), *args) as proc:
        yield Served(port, proc)


@pytest.fixture
def oauth_server() -> Iterator[Served]:
    """Access tokens live 2 s, so a test can outlive one."""
    yield from serve("--lifetime", "2")


@pytest.fixture
def long_lived_server() -> Iterator[Served]:
    """Access tokens live 10 minutes: one still valid as far as the chat knows."""
    yield from serve("--lifetime", "600")


@pytest.fixture(scope="module")
def open_server() -> Iterator[Served]:
    """No OAuth: its `header` tool says back a request header."""
    yield from serve("--no-oauth")


def environment(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "BROWSER")}
    env.update(CHINWAG_HOME=str(home), PYTHONPATH=f"{ROOT / 'src'}:{ROOT}", **extra)
    for key in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL", "CHINWAG_MODEL"):
        env.pop(key, None)
    return env


def configure(home: Path, text: str) -> None:
    (home / "config.toml").write_text(text, encoding="utf-8")


def chinwag(home: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chinwag", *args], cwd=home, env=environment(home, **extra),
                          capture_output=True, text=True, timeout=120)


def login(home: Path, name: str, browser: Any) -> str:
    """`chinwag mcp login NAME` in a pty; the URL it prints is opened in Chromium.
    Returns everything chinwag printed."""
    child = pexpect.spawn(sys.executable, ["-m", "chinwag", "mcp", "login", name], cwd=str(home),
                          env=environment(home), encoding="utf-8", timeout=60)
    try:
        child.expect(URL_LINE)
        url = child.match.group(1)
        child.expect("Waiting for the browser")
        page = browser.new_page()
        try:
            page.goto(url)
            page.wait_for_selector("text=chinwag is logged in.")
        finally:
            page.close()
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0, child.before
    return str(child.before) + url


def stored(home: Path, name: str) -> dict[str, Any]:
    return dict(json.loads((home / "mcp-auth" / f"{name}.json").read_text(encoding="utf-8")))


def test_login_stores_tokens_0600_and_list_then_runs(home: Path, oauth_server: Served, browser: Any) -> None:
    configure(home, f'[mcp_servers.remote]\nurl = "{oauth_server.url}"\n')
    before = chinwag(home, "mcp", "list")
    assert before.returncode == 0, before.stderr
    assert before.stdout == "remote · http · needs login: run chinwag mcp login remote\n"

    printed = login(home, "remote", browser)

    assert "Logged in to MCP server remote (2 tools)" in printed
    path = home / "mcp-auth" / "remote.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    tokens = stored(home, "remote")["tokens"]
    assert tokens["access_token"] not in printed and tokens["refresh_token"] not in printed
    log = oauth_server.log()
    assert log["grants"] == ["authorization_code"] and len(log["registrations"]) == 1  # DCR, then PKCE code

    after = chinwag(home, "mcp", "list")
    assert after.returncode == 0, after.stderr
    assert after.stdout.startswith("remote · http · running · 2 tools, 0 prompts, 0 resources · "
                                   "2 run without asking (read-only)"), after.stdout
    assert tokens["access_token"] not in after.stdout + after.stderr

    out = chinwag(home, "mcp", "logout", "remote")
    assert (out.returncode, out.stdout) == (0, "Logged out of MCP server remote: its tokens are removed.\n")
    assert not path.exists()
    again = chinwag(home, "mcp", "list")
    assert again.stdout == "remote · http · needs login: run chinwag mcp login remote\n"


@contextmanager
def logged_in_chat(home: Path, served: Served, browser: Any) -> Iterator[Toolbox]:
    """Logged in to `served` as server `remote`; a chat's MCP hub with its tools listed."""
    configure(home, f'[mcp_servers.remote]\nurl = "{served.url}"\n')
    login(home, "remote", browser)
    box = Toolbox([], {"remote": McpServerConfig("remote", url=served.url)}, ROOT, environ=environment(home))
    box.start()
    try:
        wait_for(lambda: not box.starting())
        assert "remote_echo" in {spec.name for spec in box.specs()}, (box.describe(), box.take_notices())
        yield box
    finally:
        box.close()


def test_an_expired_token_is_refreshed_without_asking(home: Path, oauth_server: Served, browser: Any) -> None:
    configure(home, f'[mcp_servers.remote]\nurl = "{oauth_server.url}"\n')
    login(home, "remote", browser)
    first = stored(home, "remote")
    time.sleep(3.2)  # the access token (2 s, 3 at most on the server) is dead now

    box = Toolbox([], {"remote": McpServerConfig("remote", url=oauth_server.url)}, ROOT, environ=environment(home))
    box.start()
    try:
        wait_for(lambda: "remote_echo" in {spec.name for spec in box.specs()})
        out = box.run(ToolCall("c1", "remote_echo", {"text": "hi"}))
        assert (out.status, out.content) == ("ok", "echo: hi")
        assert box.take_notices() == []
    finally:
        box.close()
    assert oauth_server.log()["grants"] == ["authorization_code", "refresh_token"]
    second = stored(home, "remote")
    assert second["tokens"]["access_token"] != first["tokens"]["access_token"]
    assert stat.S_IMODE((home / "mcp-auth" / "remote.json").stat().st_mode) == 0o600


# One chat's MCP hub in a process of its own: it says "ready" once the server's tools are
# listed, waits for the file argv[2] to appear, makes one call and prints its outcome.
CHAT_PROCESS = """
import json, sys, time
from pathlib import Path
from chinwag.records import ToolCall
from chinwag.tools import McpServerConfig, Toolbox
box = Toolbox([], {"remote": McpServerConfig("remote", url=sys.argv[1])}, Path("."))
box.start()
while "remote_echo" not in {spec.name for spec in box.specs()}:
    time.sleep(0.05)
print("ready", flush=True)
while not Path(sys.argv[2]).exists():
    time.sleep(0.01)
out = box.run(ToolCall("c1", "remote_echo", {"text": "hi"}))
print(json.dumps([out.status, out.content, box.take_notices()]), flush=True)
box.close()
"""


def _chat_processes(home: Path, url: str, go: Path, count: int) -> list[subprocess.Popen[str]]:
    chats = [subprocess.Popen([sys.executable, "-c", CHAT_PROCESS, url, str(go)], cwd=ROOT, text=True,
                              env=environment(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(count)]
    for chat in chats:
        assert chat.stdout is not None and chat.stdout.readline().strip() == "ready", chat.stderr
    return chats


def _outcome(chat: subprocess.Popen[str]) -> list[Any]:
    out, err = chat.communicate(timeout=60)
    return list(json.loads(out.strip().splitlines()[-1])) if out.strip() else ["no outcome", err, []]


def test_two_chats_refreshing_one_rotating_token_at_once_both_go_on(
        home: Path, oauth_server: Served, browser: Any, tmp_path: Path) -> None:
    """Two chats (two processes) with one server whose refresh tokens are single-use:
    both find the access token expired and call at the same moment. One refreshes; the
    other waits for it and uses what it saved, instead of spending the same refresh
    token again and being told to log in. (What it saved may itself have expired by
    then on a loaded machine, 1.5 s later: then it refreshes with the new token.)"""
    configure(home, f'[mcp_servers.remote]\nurl = "{oauth_server.url}"\n')
    login(home, "remote", browser)
    go = tmp_path / "go"
    chats = _chat_processes(home, oauth_server.url, go, 2)
    time.sleep(3.2)  # the access token (2 s) has expired for both
    go.touch()
    assert [_outcome(chat) for chat in chats] == [["ok", "echo: hi", []]] * 2
    log = oauth_server.log()
    assert log["refused"] == []  # no refresh token was spent twice
    assert log["grants"] in (["authorization_code", "refresh_token"], ["authorization_code"] + ["refresh_token"] * 2)


def test_a_chat_uses_the_tokens_another_chat_refreshed_since_it_started(
        home: Path, oauth_server: Served, browser: Any) -> None:
    """Chat A refreshes (the server takes the old refresh token back); chat B, started
    before that, then calls: it reads the tokens A saved rather than the ones it read
    at start, so it needs no login."""
    configure(home, f'[mcp_servers.remote]\nurl = "{oauth_server.url}"\n')
    login(home, "remote", browser)
    environ = environment(home)
    boxes = [Toolbox([], {"remote": McpServerConfig("remote", url=oauth_server.url)}, ROOT, environ=environ)
             for _ in range(2)]
    try:
        for box in boxes:
            box.start()
            wait_for(lambda: "remote_echo" in {spec.name for spec in box.specs()})
        time.sleep(3.2)  # expired
        first = boxes[0].run(ToolCall("c1", "remote_echo", {"text": "A"}))
        time.sleep(3.2)  # A's new token has expired too: B must refresh with A's new refresh token
        second = boxes[1].run(ToolCall("c2", "remote_echo", {"text": "B"}))
        assert (first.status, first.content) == ("ok", "echo: A")
        assert (second.status, second.content) == ("ok", "echo: B"), boxes[1].take_notices()
        assert boxes[1].take_notices() == []
    finally:
        for box in boxes:
            box.close()
    assert oauth_server.log()["grants"] == ["authorization_code", "refresh_token", "refresh_token"]


def test_a_revoked_token_is_one_line_naming_the_command(home: Path, oauth_server: Served, browser: Any) -> None:
    configure(home, f'[mcp_servers.remote]\nurl = "{oauth_server.url}"\n')
    login(home, "remote", browser)
    oauth_server.revoke_all()

    box = Toolbox([], {"remote": McpServerConfig("remote", url=oauth_server.url)}, ROOT, environ=environment(home))
    box.start()
    try:
        wait_for(lambda: not box.starting())
        assert box.take_notices() == ["MCP server remote needs login: run chinwag mcp login remote"]
        assert box.specs() == ()
        assert "MCP server remote: needs login (run chinwag mcp login remote)" in box.describe()
    finally:
        box.close()
    listed = chinwag(home, "mcp", "list")
    assert listed.stdout == "remote · http · needs login: run chinwag mcp login remote\n"
    assert "Traceback" not in listed.stderr and listed.stderr == ""


def test_ctrl_c_while_waiting_for_the_browser_stores_nothing(home: Path, oauth_server: Served) -> None:
    """A real SIGINT from the terminal (^C in the pty) while login waits for the callback."""
    configure(home, f'[mcp_servers.remote]\nurl = "{oauth_server.url}"\n')
    child = pexpect.spawn(sys.executable, ["-m", "chinwag", "mcp", "login", "remote", "--no-browser"],
                          cwd=str(home), env=environment(home), encoding="utf-8", timeout=60)
    try:
        child.expect("Waiting for the browser")
        child.sendintr()
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 130
    assert "Traceback" not in str(child.before)
    assert not list((home / "mcp-auth").glob("*")) if (home / "mcp-auth").exists() else True
    assert oauth_server.log()["grants"] == []


def test_a_server_down_at_login_is_one_line_and_exit_1(home: Path, refused_url: str) -> None:
    configure(home, f'[mcp_servers.remote]\nurl = "{refused_url}/mcp"\n')
    out = chinwag(home, "mcp", "login", "remote")
    assert out.returncode == 1
    assert out.stdout == ""
    lines = out.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("chinwag: cannot log in to MCP server remote: "), out.stderr
    assert not (home / "mcp-auth").exists() or not list((home / "mcp-auth").iterdir())
    listed = chinwag(home, "mcp", "list")
    assert listed.returncode == 0 and listed.stdout.startswith("remote · http · failed: ")


def test_headers_with_env_vars_reach_the_server(home: Path, open_server: Served) -> None:
    config = McpServerConfig("h", url=open_server.url, headers={
        "Authorization": "Bearer ${GITHUB_TOKEN}", "X-Team": "${TEAM}", "X-Fixed": "plain"})
    box = Toolbox([], {"h": config}, ROOT, environ={"GITHUB_TOKEN": "s3cret-value", "CHINWAG_HOME": str(home)})
    box.start()
    try:
        wait_for(lambda: "h_header" in {spec.name for spec in box.specs()})
        said = {name: box.run(ToolCall("c", "h_header", {"name": name})).content
                for name in ("authorization", "x-team", "x-fixed")}
        notices = box.take_notices()
    finally:
        box.close()
    assert said == {"authorization": "Bearer s3cret-value", "x-team": "(not sent)", "x-fixed": "plain"}
    assert notices == ["MCP server h: ${TEAM} is not set, so its X-Team header is not sent"]


def test_headers_from_config_toml_and_the_json_in_mcp_list(home: Path, open_server: Served) -> None:
    configure(home, f'allow = ["t_echo"]\n[mcp_servers.t]\nurl = "{open_server.url}"\n'
                    'headers = { Authorization = "Bearer ${NOT_SET_ANYWHERE}" }\n')
    (home / "mcp.json").write_text(json.dumps({"mcpServers": {"j": {
        "url": open_server.url, "headers": {"Authorization": "Bearer ${J_TOKEN}"}}}}), encoding="utf-8")
    out = chinwag(home, "mcp", "list", "--mcp-config", str(home / "mcp.json"), J_TOKEN="jj-token")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "MCP server t: ${NOT_SET_ANYWHERE} is not set, so its Authorization header is not sent",
        "t · http · running · 2 tools, 0 prompts, 0 resources · 1 run without asking (read-only), "
        "1 allowed by config",
        "j · http · running · 2 tools, 0 prompts, 0 resources · 2 run without asking (read-only)",
    ]
    assert "jj-token" not in out.stdout + out.stderr


def test_a_refused_header_is_named_without_its_value(home: Path, oauth_server: Served) -> None:
    configure(home, f'[mcp_servers.r]\nurl = "{oauth_server.url}"\nheaders = {{ Authorization = "Bearer ${{TOK}}" }}\n')
    out = chinwag(home, "mcp", "list", TOK="wrong-token-123")
    assert out.returncode == 0
    assert out.stdout == "r · http · failed: HTTP 401: the server refused the configured Authorization header\n"
    assert "wrong-token-123" not in out.stdout + out.stderr


@pytest.mark.parametrize(("config", "args", "message"), [
    ('[mcp_servers.a]\nurl = "http://127.0.0.1:9/mcp"\nheaders = "Bearer x"\n', ("list",),
     "chinwag: MCP server 'a' in config"),
    ('[mcp_servers.a]\nurl = "http://127.0.0.1:9/mcp"\nheaders = { "Bad Name" = "x" }\n', ("list",),
     "headers must map header names to string values"),
    ('[mcp_servers.a]\ncommand = "true"\nheaders = { X = "y" }\n', ("list",),
     "headers are for a server with a url; a stdio server takes env"),
    ('[mcp_servers.a]\ncommand = "true"\n', ("login", "a"),
     "chinwag: MCP server a runs a command (stdio); login is for a server with a url"),
    ('[mcp_servers.a]\ncommand = "true"\n', ("login", "nope"), "chinwag: no MCP server 'nope' (servers: a)"),
    ('[mcp_servers.a]\nurl = "http://127.0.0.1:9/mcp"\nheaders = { authorization = "Bearer ${T}" }\n',
     ("login", "a"), "chinwag: MCP server a has an Authorization header configured, which wins over OAuth"),
    ("", ("logout", "nope"), "chinwag: no MCP server 'nope' (servers: none configured"),
    ("", (), "chinwag: the following arguments are required"),
    ("", ("frobnicate",), "chinwag: argument list|login|logout: invalid choice"),
])
def test_bad_input_is_one_line_and_exit_2(home: Path, config: str, args: tuple[str, ...], message: str) -> None:
    configure(home, config)
    out = chinwag(home, "mcp", *args)
    assert out.returncode == 2, out
    assert len(out.stderr.splitlines()) == 1 and message in out.stderr, out.stderr
    assert "Traceback" not in out.stderr


def test_token_file_names_stay_inside_the_folder(home: Path) -> None:
    from chinwag.tools.mcp_auth import token_file

    env = {"CHINWAG_HOME": str(home)}
    folder = home / "mcp-auth"
    assert token_file(env, "remote") == folder / "remote.json"
    for name in ("../escape", "a/b", ".hidden", ""):
        path = token_file(env, name)
        assert path.parent == folder and not path.name.startswith("."), path
    assert token_file(env, "a/b") != token_file(env, "a_b")


def test_the_chat_says_once_which_server_needs_login_and_which_header_is_unset(
        home: Path, work: Path, oauth_server: Served, open_server: Served, scripted_server: Any) -> None:
    """The chat in a pty against the scripted Anthropic server: a server that wants OAuth
    (no tokens stored) and one whose header's variable is unset are one line each; the
    chat goes on, and the first server's tools are never offered."""
    from tests.cli_helpers import anthropic_env, finish, spawn_chinwag
    from tests.fakes.server import Reply
    from tests.procs import wait_until_reading_keys

    config = home / "mcp.json"
    config.write_text(json.dumps({"mcpServers": {
        "remote": {"url": oauth_server.url},
        "hosted": {"type": "http", "url": open_server.url, "headers": {"X-Api-Key": "${HOSTED_KEY}"}}}}),
        encoding="utf-8")
    scripted_server.enqueue(Reply(chunks=["Hello there."]), Reply(chunks=["Again."]))
    env = anthropic_env(home, scripted_server.base_url, PYTHONPATH=f"{ROOT / 'src'}:{ROOT}")
    env.pop("HOSTED_KEY", None)
    child = spawn_chinwag(["--mcp-config", str(config)], env, cwd=work, timeout=60)
    child.logfile_read = log = io.StringIO()
    try:
        child.expect("You: ")
        for text, answer in (("hi", "Hello there."), ("again", "Again.")):
            wait_until_reading_keys(child.pid)
            child.sendline(text)
            child.expect_exact(answer)
            child.expect("You: ")
        child.sendline("quit")
        assert finish(child) == 0
    finally:
        child.close()
    seen = log.getvalue()
    login_lines = [line for line in seen.splitlines() if "needs login" in line]
    assert len(login_lines) == 1 and "MCP server remote needs login: run chinwag mcp login remote" in login_lines[0]
    header_lines = [line for line in seen.splitlines() if "HOSTED_KEY" in line]
    assert len(header_lines) == 1
    assert "MCP server hosted: ${HOSTED_KEY} is not set, so its X-Api-Key header is not sent" in header_lines[0]
    offered = {tool["name"] for tool in scripted_server.requests[0].json.get("tools", [])}
    assert "hosted_echo" in offered and not any(name.startswith("remote_") for name in offered)


def test_mcp_list_counts_the_reference_servers_prompts_and_resources(home: Path) -> None:
    """server-everything (npm) and mcp-server-time (PyPI), as installed by the test command."""
    from tests.mcp_reference import config_toml_tables, everything, time_server

    configure(home, config_toml_tables({"everything": everything(), "time": time_server()}))
    out = chinwag(home, "mcp", "list")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 2, out.stdout
    assert re.fullmatch(r"everything · stdio · running · \d+ tools, 4 prompts, 7 resources · "
                        r"\d+ run without asking \(read-only\), \d+ ask", lines[0]), lines[0]
    assert lines[1] == "time · stdio · running · 2 tools, 0 prompts, 0 resources · 2 run without asking (read-only)"


def test_tokens_revoked_during_the_chat_make_the_next_call_say_login(
        home: Path, oauth_server: Served, browser: Any) -> None:
    with logged_in_chat(home, oauth_server, browser) as box:
        oauth_server.revoke_all()
        time.sleep(3.2)  # the access token has expired too: the refresh is refused
        out = box.run(ToolCall("c1", "remote_echo", {"text": "hi"}))
        assert (out.status, out.content) == ("error", "MCP server remote needs login: run chinwag mcp login remote")
        assert box.take_notices() == ["MCP server remote needs login: run chinwag mcp login remote"]
        assert box.specs() == ()


def test_a_token_the_server_forgot_is_refreshed_not_a_new_login(
        home: Path, long_lived_server: Served, browser: Any) -> None:
    """The server restarted and lost its access tokens, keeping its refresh
    tokens (or revoked one early): its 401 to a token that had not expired is
    answered with a refresh and the call is sent again, once. The SDK alone
    went straight to a new authorization: in a chat, a login."""
    with logged_in_chat(home, long_lived_server, browser) as box:
        long_lived_server.forget_access()
        out = box.run(ToolCall("c1", "remote_echo", {"text": "hi"}))
        assert (out.status, out.content) == ("ok", "echo: hi")
        assert box.take_notices() == []
    log = long_lived_server.log()
    assert (log["grants"], log["refused"]) == (["authorization_code", "refresh_token"], [])


def test_a_valid_looking_token_whose_refresh_is_refused_too_says_login_once(
        home: Path, long_lived_server: Served, browser: Any) -> None:
    """Revoked outright: the 401 brings a refresh, refused, then the line that
    names the login command (no loop of refreshes: the call ends)."""
    with logged_in_chat(home, long_lived_server, browser) as box:
        long_lived_server.revoke_all()
        out = box.run(ToolCall("c1", "remote_echo", {"text": "hi"}))
        assert (out.status, out.content) == ("error", "MCP server remote needs login: run chinwag mcp login remote")
    assert long_lived_server.log()["grants"] == ["authorization_code"]


def test_login_to_a_server_without_oauth_stores_nothing(home: Path, open_server: Served) -> None:
    configure(home, f'[mcp_servers.open]\nurl = "{open_server.url}"\n')
    out = chinwag(home, "mcp", "login", "open")
    assert (out.returncode, out.stderr) == (0, "")
    assert out.stdout == "MCP server open answered without asking for a login; nothing stored.\n"
    assert not (home / "mcp-auth").exists() or not list((home / "mcp-auth").iterdir())
