"""`chinwag history` over conversations with branches, and continuing one, through the
installed `chinwag` (pipes for `history`, a pseudo-terminal for the chat).

`show` prints the current branch and says how many others there are, `--all` the tree;
`export` writes the current branch, `--format json --tree` every message with its parent;
`search` finds words on any branch and numbers each hit; `--resume ID --at N` and `-c`
continue a branch, and the scripted server is sent that branch's path and nothing else.
The branched conversation is made through the public API (`chinwag.Chat`), as a script would.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chinwag import Chat
from tests.cli_helpers import anthropic_env, finish, run_chinwag, start_chat
from tests.fakes.reply import Reply
from tests.fakes.server import ScriptedServer


def _sent(server: ScriptedServer, index: int = -1) -> list[tuple[str, str]]:
    body = [r for r in server.requests if r.method == "POST"][index].json
    return [(m["role"], m["content"] if isinstance(m["content"], str) else
             "".join(p.get("text", "") for p in m["content"])) for m in body["messages"] if m["role"] != "system"]


def _branched(server: ScriptedServer, home: Path) -> None:
    """Conversation 1: 1 Q1 · 2 A1 · 3 Q2 · 4 A2 (old branch) and 5 Q2 edited · 6 A2b (current)."""
    server.enqueue(Reply(chunks=["A1"]), Reply(chunks=["A2 about llamas"]), Reply(chunks=["A2b"]))
    with Chat("anthropic:claude-sonnet-4-20250514", base_url=server.base_url, api_key="test-key",
              environ={"CHINWAG_HOME": str(home)}, cwd=home) as chat:
        chat.ask("Q1")
        chat.ask("Q2 about llamas")
        q2 = chat.tree().by_number(3)
        assert q2 is not None
        chat.edit(q2.id, "Q2 edited")


def test_show_prints_the_current_branch_and_counts_the_others(scripted_server: ScriptedServer,
                                                              tmp_path: Path) -> None:
    _branched(scripted_server, tmp_path)
    env = anthropic_env(tmp_path, scripted_server.base_url)
    shown = run_chinwag(["history", "show", "1"], env)
    assert shown.returncode == 0, shown.stderr
    assert "You: Q2 edited" in shown.stdout and "Claude: A2b" in shown.stdout
    assert "llamas" not in shown.stdout  # the other branch is not printed
    assert "(the current branch; 1 other branch: `chinwag history show 1 --all` shows the tree)" in shown.stdout
    tree = run_chinwag(["history", "show", "1", "--all"], env).stdout.splitlines()
    assert [line for line in tree if line[:1] in "* "][-6:] == [
        "* 1  You: Q1",
        "* 2  Claude: A1  · 2 branches",
        "  3    [1/2] You: Q2 about llamas",
        "  4    Claude: A2 about llamas",
        "* 5  [2/2] You: Q2 edited",
        "* 6  Claude: A2b  ← current",
    ]
    assert tree[-1] == "6 messages · 2 branches · * the current path · chinwag --resume 1 --at N continues from message N"


def test_show_json_is_the_current_branch_and_with_all_every_message(scripted_server: ScriptedServer,
                                                                    tmp_path: Path) -> None:
    _branched(scripted_server, tmp_path)
    env = anthropic_env(tmp_path, scripted_server.base_url)
    path = json.loads(run_chinwag(["history", "show", "1", "--json"], env).stdout)
    assert [m["number"] for m in path["messages"]] == [1, 2, 5, 6] and path["branches"] == 2
    every = json.loads(run_chinwag(["history", "show", "1", "--all", "--json"], env).stdout)
    assert [m["number"] for m in every["messages"]] == [1, 2, 3, 4, 5, 6]


def test_export_writes_the_current_branch_and_json_tree_every_message(scripted_server: ScriptedServer,
                                                                      tmp_path: Path) -> None:
    _branched(scripted_server, tmp_path)
    env = anthropic_env(tmp_path, scripted_server.base_url)
    markdown = run_chinwag(["history", "export", "1"], env).stdout
    assert "Q2 edited" in markdown and "A2b" in markdown and "llamas" not in markdown
    path = json.loads(run_chinwag(["history", "export", "1", "--format", "json"], env).stdout)
    assert [m["content"] for m in path["messages"]] == ["Q1", "A1", "Q2 edited", "A2b"]
    tree = json.loads(run_chinwag(["history", "export", "1", "--format", "json", "--tree"], env).stdout)
    ids = {m["number"]: m["id"] for m in tree["messages"]}
    assert [(m["number"], m["content"], m["parent_id"]) for m in tree["messages"]] == [
        (1, "Q1", None), (2, "A1", ids[1]), (3, "Q2 about llamas", ids[2]), (4, "A2 about llamas", ids[3]),
        (5, "Q2 edited", ids[2]), (6, "A2b", ids[5])]
    assert tree["leaf_id"] == ids[6] and tree["branches"] == 2
    refused = run_chinwag(["history", "export", "1", "--tree"], env)
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr == "chinwag: --tree writes every branch, which needs --format json (markdown is one path).\n"


def test_search_then_resume_at_the_hit_sends_that_branch(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    _branched(scripted_server, tmp_path)
    env = anthropic_env(tmp_path, scripted_server.base_url)
    found = run_chinwag(["history", "search", "llamas"], env).stdout
    assert "#1 · You · " in found and " · message 3 (another branch)\n" in found
    assert " · message 4 (another branch)\n" in found
    assert "(continue from a hit: chinwag --resume ID --at MESSAGE)" in found
    hits = [json.loads(line) for line in run_chinwag(["history", "search", "llamas", "--json"], env).stdout.splitlines()]
    assert sorted(h["number"] for h in hits) == [3, 4]
    scripted_server.enqueue(Reply(chunks=["A3"]))
    done = run_chinwag(["--resume", "1", "--at", "3", "Q3"], env)
    assert done.returncode == 0 and done.stdout == "A3\n", done.stderr
    assert _sent(scripted_server) == [("user", "Q1"), ("assistant", "A1"), ("user", "Q2 about llamas"),
                                      ("assistant", "A2 about llamas"), ("user", "Q3")]
    # The branch holding the hit is the conversation's current branch now: -c goes on there.
    scripted_server.enqueue(Reply(chunks=["A4"]))
    assert run_chinwag(["-c", "Q4"], env).returncode == 0
    assert _sent(scripted_server)[-3:] == [("user", "Q3"), ("assistant", "A3"), ("user", "Q4")]


@pytest.mark.parametrize(("args", "said"), [
    (["--at", "3", "hi"], "chinwag: --at needs --resume ID: chinwag --resume ID --at MESSAGE (see chinwag history"
                          " search).\n"),
    (["--resume", "1", "--at", "99", "hi"], "chinwag: there is no message 99 in conversation 1 (it has messages 1 to"
                                            " 6; `chinwag history show 1 --all` shows them)\n"),
    (["--resume", "7", "--at", "1", "hi"], "chinwag: no conversation 7; see `chinwag history list`\n"),
    (["--resume", "1", "--at", "x", "hi"], "chinwag: argument --at: a message number is a whole number from 1, not"
                                           " 'x' (see chinwag --help)\n"),
    (["--resume", "1", "--at", "0", "hi"], "chinwag: argument --at: a message number is a whole number from 1, not"
                                           " '0' (see chinwag --help)\n"),
])
def test_bad_resume_at_is_one_line_and_sends_nothing(scripted_server: ScriptedServer, tmp_path: Path,
                                                     args: list[str], said: str) -> None:
    _branched(scripted_server, tmp_path)
    before = len(scripted_server.requests)
    done = run_chinwag(args, anthropic_env(tmp_path, scripted_server.base_url))
    assert (done.returncode, done.stdout, done.stderr.splitlines()[-1] + "\n") == (2, "", said)
    assert len(scripted_server.requests) == before


def test_continue_goes_on_from_the_branch_the_chat_left(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    """In the chat: /switch to the old branch, quit; `chinwag -c` continues there."""
    _branched(scripted_server, tmp_path)
    env = anthropic_env(tmp_path, scripted_server.base_url)
    child = start_chat(env, ["-c", "--render", "plain"])
    child.sendline("/switch 4")
    child.expect("on the branch through message 4, now at message 4")
    child.expect("You: ")
    child.sendline("quit")
    assert finish(child) == 0
    scripted_server.enqueue(Reply(chunks=["A5"]))
    assert run_chinwag(["-c", "Q5"], env).stdout == "A5\n"
    assert _sent(scripted_server) == [("user", "Q1"), ("assistant", "A1"), ("user", "Q2 about llamas"),
                                      ("assistant", "A2 about llamas"), ("user", "Q5")]


def test_continue_after_an_edit_sends_the_system_prompt_the_chat_sent(scripted_server: ScriptedServer,
                                                                      tmp_path: Path) -> None:
    """/system, then /edit of a question before it: the new branch was sent the new prompt, and
    so is `chinwag -c` on it (found by the REPL's random walk)."""
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nprintf "Q1 again\\n" > "$1"\n')
    editor.chmod(0o755)
    scripted_server.enqueue(Reply(chunks=["A1"]), Reply(chunks=["A2"]), Reply(chunks=["A1b"]), Reply(chunks=["A3"]))
    env = anthropic_env(tmp_path, scripted_server.base_url, EDITOR=str(editor))
    child = start_chat(env, ["--render", "plain"])
    for line, reply in [("Q1", "A1"), ("/system Be terse.", "System prompt set."), ("Q2", "A2"), ("/edit 1", "A1b")]:
        child.sendline(line)
        child.expect(reply)
        child.expect("You: ")
    posts = [r.json for r in scripted_server.requests if r.method == "POST"]
    assert posts[-1]["system"] == "Be terse." and posts[-1]["messages"] == [{"role": "user", "content": "Q1 again"}]
    child.sendline("quit")
    assert finish(child) == 0
    assert run_chinwag(["-c", "Q3"], env).stdout == "A3\n"
    last = [r.json for r in scripted_server.requests if r.method == "POST"][-1]
    assert last["system"] == "Be terse."
    assert _sent(scripted_server) == [("user", "Q1 again"), ("assistant", "A1b"), ("user", "Q3")]
