"""`chinwag history`: what a user sees from list, show, search, export and delete.

Most tests call `history.main(argv, environ, out)` with StringIO streams; a
few run a real interpreter to check exit codes and stderr as a shell sees
them. Stored text is hostile on purpose: escape sequences saved in the
database must never reach the terminal from show, search or a markdown
export, while JSON output keeps the raw text.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from chinwag.cli.history import main
from chinwag.history.store import Store
from tests.cli_helpers import anthropic_env, run_chinwag
from tests.fakes.reply import Reply
from tests.fakes.server import ScriptedServer

SRC = str(Path(__file__).resolve().parents[1] / "src")
HOSTILE = "\x1b]0;pwned\x07\x1b[2J\x1b]52;c;ZXZpbA==\x07\x9b31m"
MODEL = "claude-sonnet-4-20250514"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def environ(tmp_path: Path) -> dict[str, str]:
    return {"CHINWAG_HOME": str(tmp_path / "home")}


def run(argv: list[str], environ: dict[str, str], *, out: io.StringIO | None = None,
        stdin: io.StringIO | None = None) -> tuple[int, str, str]:
    out = out if out is not None else io.StringIO()
    err = io.StringIO()
    code = main(argv, environ, out, err=err, stdin=stdin or io.StringIO())
    return code, out.getvalue(), err.getvalue()


def json_lines(out: str) -> list[dict[str, object]]:
    """A list printed as JSON lines: one object per line, nothing else."""
    return [json.loads(line) for line in out.splitlines()]


def seed(environ: dict[str, str]) -> tuple[int, int]:
    """Two conversations: a CPU chat (complete, interrupted and failed replies,
    hostile escapes in the text) and a newer, short one about caches."""
    with closing(Store.open(Path(environ["CHINWAG_HOME"]) / "history.db")) as store:
        cpu = store.start_conversation(model=MODEL, system="You are a helpful assistant.")
        store.add_message(cpu, "user", f"Explain how a CPU works{HOSTILE}")
        rid = store.begin_reply(cpu, model=MODEL)
        store.update_reply(rid, f"A CPU fetches{HOSTILE} and executes.", status="complete",
                           input_tokens=12, output_tokens=142, ttft=0.31, duration=2.3,
                           stop_reason="end_turn")
        store.add_message(cpu, "user", "And a GPU?")
        store.update_reply(store.begin_reply(cpu, model=MODEL), "A GPU has many",
                           status="interrupted", ttft=0.4, duration=1.0)
        store.add_message(cpu, "user", "hello?")
        store.update_reply(store.begin_reply(cpu, model=MODEL), "", status="error")
        caches = store.start_conversation(model="local")
        store.add_message(caches, "user", "What is a CPU cache?")
        store.update_reply(store.begin_reply(caches, model="local"), "Fast memory.",
                           status="complete")
    return cpu, caches


# -- list --------------------------------------------------------------------

def test_list_without_a_database_says_so_and_creates_nothing(environ: dict[str, str]) -> None:
    assert run(["list"], environ) == (0, "No conversations yet.\n", "")
    assert run(["list", "--json"], environ) == (0, "", "")  # JSON lines: none
    assert not Path(environ["CHINWAG_HOME"]).exists()


def test_list_shows_id_when_model_turns_and_title_newest_first(environ: dict[str, str]) -> None:
    cpu, caches = seed(environ)
    code, out, _ = run(["list"], environ)
    header, first, second = out.splitlines()
    assert code == 0 and header.split() == ["ID", "WHEN", "MODEL", "TURNS", "TITLE"]
    assert first.split()[0] == str(caches) and "local" in first
    assert first.endswith("What is a CPU cache?")
    assert second.split()[0] == str(cpu) and MODEL in second and " 3  " in second
    assert second.endswith("Explain how a CPU works") and "\x1b" not in out


def test_list_limit_and_json(environ: dict[str, str]) -> None:
    cpu, caches = seed(environ)
    code, out, err = run(["list", "--limit", "1", "--json"], environ)
    listed = json_lines(out)
    assert err == "chinwag: showing the 1 most recent conversations; there are more: add --limit 5 to see more\n"
    assert code == 0 and [c["id"] for c in listed] == [caches]
    assert listed[0]["turns"] == 1 and listed[0]["model"] == "local"
    assert listed[0]["created_at"].endswith("+00:00")


# -- show --------------------------------------------------------------------

def test_show_prints_the_conversation_with_each_replys_facts_and_marks(
        environ: dict[str, str]) -> None:
    cpu, _ = seed(environ)
    code, out, err = run(["show", str(cpu)], environ)
    assert (code, err) == (0, "")
    assert "System: You are a helpful assistant." in out
    assert "You: Explain how a CPU works" in out
    assert "Claude: A CPU fetches and executes." in out
    assert f"↳ {MODEL} · 0.31 s to first token · 12 in / 142 out tok · 2.3 s\n" in out
    assert "Claude: A GPU has many\n" in out and "⚠ interrupted" in out
    assert "Claude: (no text)" in out and "✗ failed" in out
    assert out.index("Explain") < out.index("And a GPU?") < out.index("hello?")


def test_show_last_is_the_most_recent_conversation(environ: dict[str, str]) -> None:
    _, caches = seed(environ)
    assert run(["show", "last"], environ) == run(["show", str(caches)], environ)
    assert "Assistant: Fast memory." in run(["show", "last"], environ)[1]


def test_show_json_keeps_the_raw_text(environ: dict[str, str]) -> None:
    cpu, _ = seed(environ)
    code, out, _ = run(["show", str(cpu), "--json"], environ)
    shown = json.loads(out)
    assert code == 0 and "\x1b" not in out and "\x9b" not in out  # escaped by JSON
    assert shown["messages"][1]["content"] == f"A CPU fetches{HOSTILE} and executes."
    assert [m["status"] for m in shown["messages"][1::2]] == ["complete", "interrupted", "error"]


@pytest.mark.parametrize("argv, message", [
    (["show", "999"], "chinwag: no conversation 999; see `chinwag history list`\n"),
    (["show", "abc"], "chinwag: a conversation ID is a number or 'last', not 'abc'\n"),
    (["export", "99999999999999999999999", "--format", "md"],
     "chinwag: no conversation 99999999999999999999999; see `chinwag history list`\n"),
])
def test_unknown_or_malformed_id_is_one_line_and_exit_2(
        environ: dict[str, str], argv: list[str], message: str) -> None:
    seed(environ)
    assert run(argv, environ) == (2, "", message)


def test_show_last_without_any_conversation_is_exit_2(environ: dict[str, str]) -> None:
    code, out, err = run(["show", "last"], environ)
    assert (code, out) == (2, "") and err == "chinwag: no conversations saved yet\n"


# -- search ------------------------------------------------------------------

def test_search_marks_matches_with_brackets_when_not_a_terminal(environ: dict[str, str]) -> None:
    cpu, caches = seed(environ)
    code, out, _ = run(["search", "cpu"], environ)
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith(f"#{caches} · You · ")
    assert lines[1] == "    What is a [CPU] cache?"
    assert f"#{cpu} · Reply · " in out and "A [CPU] fetches and executes." in out
    assert "\x1b" not in out and "\x9b" not in out and "\x07" not in out


def test_search_marks_matches_in_bold_on_a_terminal_unless_no_color(
        environ: dict[str, str]) -> None:
    seed(environ)
    _, out, _ = run(["search", "cache"], environ, out=Terminal())
    assert "What is a CPU \x1b[1mcache\x1b[22m?" in out
    _, out, _ = run(["search", "cache"], {**environ, "NO_COLOR": "1"}, out=Terminal())
    assert "What is a CPU [cache]?" in out and "\x1b" not in out


def test_search_json_gives_plain_snippets_and_match_offsets(environ: dict[str, str]) -> None:
    _, caches = seed(environ)
    code, out, _ = run(["search", "cache", "--json"], environ)
    (hit,) = json_lines(out)
    assert code == 0 and (hit["conversation_id"], hit["role"]) == (caches, "user")
    start, end = hit["matches"][0]
    assert hit["snippet"] == "What is a CPU cache?" and hit["snippet"][start:end] == "cache"


@pytest.mark.parametrize("text", ['"', "foo-bar", "NEAR(a", "col:val", "*", "'); --", "\x00"])
def test_search_with_query_syntax_characters_is_plain_text(environ: dict[str, str],
                                                           text: str) -> None:
    seed(environ)
    code, out, err = run(["search", text], environ)
    assert (code, out, err) == (0, "No matches.\n", "")


def test_search_without_a_database_says_no_conversations_yet(environ: dict[str, str]) -> None:
    assert run(["search", "cpu"], environ) == (0, "No conversations yet.\n", "")


# -- export ------------------------------------------------------------------

def test_export_markdown_has_headings_facts_and_no_escape_bytes(environ: dict[str, str]) -> None:
    cpu, _ = seed(environ)
    code, out, _ = run(["export", str(cpu), "--format", "markdown"], environ)
    assert code == 0 and out.startswith("# Explain how a CPU works\n")
    assert "## You\n\nAnd a GPU?\n" in out and "## Claude\n\nA GPU has many\n" in out
    assert f"*{MODEL} · 0.40 s to first token · 1.0 s · ⚠ interrupted*" in out
    assert "\x1b" not in out and "\x9b" not in out and "\x07" not in out
    assert run(["export", str(cpu), "--format", "md"], environ) == (code, out, "")


def test_export_json_round_trips_every_message_raw(environ: dict[str, str]) -> None:
    cpu, _ = seed(environ)
    code, out, _ = run(["export", str(cpu), "--format", "json"], environ)
    exported = json.loads(out)
    assert code == 0 and exported["id"] == cpu and exported["system"].startswith("You are")
    assert [m["role"] for m in exported["messages"]] == ["user", "assistant"] * 3
    assert exported["messages"][0]["content"] == f"Explain how a CPU works{HOSTILE}"
    assert exported["messages"][1]["ttft"] == 0.31


def test_export_is_markdown_unless_told_otherwise(environ: dict[str, str]) -> None:
    cpu, _ = seed(environ)
    code, out, err = run(["export", str(cpu)], environ)
    assert (code, err) == (0, "")
    assert out == run(["export", str(cpu), "--format", "markdown"], environ)[1]
    assert out.startswith("# Explain how a CPU works")


def test_a_list_cut_at_its_limit_says_so_and_how_to_see_more(environ: dict[str, str]) -> None:
    seed(environ)
    code, out, _ = run(["search", "CPU", "--limit", "1"], environ)
    assert code == 0 and out.count("#") == 1
    assert out.endswith("(showing the 1 newest matches; there are more: add --limit 5 to see more)\n")
    code, out, err = run(["search", "CPU", "--limit", "1", "--json"], environ)
    assert len(json_lines(out)) == 1 and "add --limit 5" in err
    assert "there are more" not in run(["search", "CPU", "--limit", "3"], environ)[1]  # exactly 3: nothing cut
    code, out, _ = run(["list", "--limit", "1"], environ)
    assert out.endswith("(showing the 1 most recent conversations; there are more: add --limit 5 to see more)\n")
    assert "there are more" not in run(["list", "--limit", "2"], environ)[1]


def test_export_needs_a_known_format(environ: dict[str, str]) -> None:
    cpu, _ = seed(environ)
    code, out, err = run(["export", str(cpu), "--format", "pdf"], environ)
    assert (code, out) == (2, "") and err.startswith("chinwag: argument --format: invalid choice")
    assert err.count("\n") == 1


# -- delete ------------------------------------------------------------------

def test_delete_with_yes_removes_the_conversation(environ: dict[str, str]) -> None:
    cpu, caches = seed(environ)
    assert run(["delete", str(cpu), "--yes"], environ) == (0, f"Deleted conversation {cpu}.\n",
                                                           "")
    assert [c["id"] for c in json_lines(run(["list", "--json"], environ)[1])] == [caches]
    assert run(["search", "GPU"], environ)[1] == "No matches.\n"


def test_delete_without_yes_and_without_a_terminal_refuses_and_keeps_it(
        environ: dict[str, str]) -> None:
    cpu, _ = seed(environ)
    code, out, err = run(["delete", str(cpu)], environ, stdin=io.StringIO("y\n"))
    assert (code, out) == (2, "") and err.count("\n") == 1
    assert err.startswith(f"chinwag: not deleting conversation {cpu} without confirmation")
    assert run(["show", str(cpu)], environ)[0] == 0


@pytest.mark.parametrize("answer, deleted", [("y\n", True), ("yes\n", True), ("n\n", False),
                                             ("\n", False), ("", False)])
def test_delete_on_a_terminal_asks_first(environ: dict[str, str], answer: str,
                                         deleted: bool) -> None:
    cpu, _ = seed(environ)
    out, err = io.StringIO(), io.StringIO()
    code = main(["delete", str(cpu)], environ, out, err=err, stdin=Terminal(answer))
    assert code == 0 and err.getvalue().startswith(f"Delete conversation {cpu} “Explain how")
    assert err.getvalue().endswith("? [y/N] ")
    assert out.getvalue() == (f"Deleted conversation {cpu}.\n" if deleted else "Nothing deleted.\n")
    assert run(["show", str(cpu)], environ)[0] == (2 if deleted else 0)


# -- usage, and a real process ----------------------------------------------

def test_help_is_written_to_out_and_exits_0(environ: dict[str, str]) -> None:
    code, out, err = run(["--help"], environ)
    assert (code, err) == (0, "") and out.startswith("usage: chinwag history")
    assert all(name in out for name in ("list", "show", "search", "export", "delete"))


@pytest.mark.parametrize("argv", [[], ["frobnicate"], ["list", "--limit", "0"], ["show"],
                                  ["search"], ["export", "1"]])
def test_bad_usage_is_one_line_on_stderr_and_exit_2(environ: dict[str, str],
                                                    argv: list[str]) -> None:
    code, out, err = run(argv, environ)
    assert (code, out) == (2, "") and err.startswith("chinwag: ") and err.count("\n") == 1


def test_damaged_database_is_reported_and_left_alone(environ: dict[str, str]) -> None:
    db = Path(environ["CHINWAG_HOME"]) / "history.db"
    db.parent.mkdir()
    db.write_bytes(b"definitely not sqlite" * 100)
    code, out, err = run(["list"], environ)
    assert (code, out) == (2, "") and str(db) in err and "--no-save" in err
    assert db.read_bytes() == b"definitely not sqlite" * 100


def shell(argv: list[str], environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = "import os, sys; from chinwag.cli.history import main; " \
           "sys.exit(main(sys.argv[1:], os.environ, sys.stdout))"
    return subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=60,
                          env={**os.environ, **environ, "PYTHONPATH": SRC})


def test_real_process_exit_codes_and_one_line_errors(environ: dict[str, str]) -> None:
    cpu, _ = seed(environ)
    listed = shell(["list"], environ)
    assert (listed.returncode, listed.stderr) == (0, "") and "Explain how" in listed.stdout
    for argv in (["show", "4242"], ["delete", str(cpu)], ["list", "--bogus"]):
        failed = shell(argv, environ)
        assert failed.returncode == 2 and failed.stdout == ""
        assert failed.stderr.startswith("chinwag: ") and failed.stderr.count("\n") == 1
        assert "Traceback" not in failed.stderr


def test_an_error_naming_a_hostile_path_is_one_safe_line_as_every_commands_is(tmp_path: Path) -> None:
    """A history folder whose name holds a newline and an escape sequence, its database
    damaged: `chinwag history list` says so in one line with no escape, the very line
    `chinwag usage` prints for the same database (its error goes through the chat's
    printer). Real processes; the damage is made by writing bytes into the file."""
    home = tmp_path / "his\ntory\x1b[31m"
    home.mkdir()
    (home / "history.db").write_bytes(b"definitely not sqlite" * 100)
    env = {"CHINWAG_HOME": str(home)}
    listed, usage = (run_chinwag(argv, {**os.environ, **env}) for argv in (["history", "list"], ["usage"]))
    assert (listed.returncode, listed.stdout) == (2, "")
    assert listed.stderr.startswith("chinwag: cannot use the history database ") and listed.stderr.count("\n") == 1
    assert "\x1b" not in listed.stderr
    assert listed.stderr == usage.stderr


# -- titles --------------------------------------------------------------------

def test_a_conversation_started_with_an_attached_file_is_titled_from_the_users_words(
        scripted_server: ScriptedServer, tmp_path: Path) -> None:
    """`chinwag -a "my file.txt" "..."`, as a user runs it: the title is the question,
    not the `# file:` header the file is sent under, however long the file."""
    scripted_server.enqueue(Reply(chunks=["It lists fruit."]), Reply(chunks=["Long."]))
    env = anthropic_env(tmp_path, scripted_server.base_url)
    small = tmp_path / "my file.txt"
    small.write_text("apples\npears\n")
    assert run_chinwag(["-a", str(small), "What does this list?"], env).returncode == 0
    big = tmp_path / "big.txt"
    big.write_text("```\ncode\n```\n\n" + "line of text\n" * 2000)  # fences inside, and longer than the tail read
    assert run_chinwag(["-a", str(big), "Summarise the big one"], env).returncode == 0
    listed = run_chinwag(["history", "list"], env).stdout
    assert listed.splitlines()[1].endswith("Summarise the big one")
    assert listed.splitlines()[2].endswith("What does this list?")
    assert "# file" not in listed


def test_an_attachment_with_no_words_is_titled_by_its_file_name(environ: dict[str, str]) -> None:
    with closing(Store.open(Path(environ["CHINWAG_HOME"]) / "history.db")) as store:
        cid = store.start_conversation(model=MODEL)
        store.add_message(cid, "user", "# file: notes.txt\n```\nsome notes\n```\n\n")
    assert json_lines(run(["list", "--json"], environ)[1])[0]["title"] == "notes.txt"
