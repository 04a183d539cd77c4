"""Budgets that act before the money is spent: the installed `chinwag` against
the scripted servers (both wires), with prices set in config.toml so the sums
are exact. A refused request never reaches the server (its request count
says so); the refusal is one line naming the budget, what was spent and the
request's worst case.

Days and months are local time (the process's TZ): the day-boundary test sets
TZ for the chinwag it runs and stores replies either side of that zone's midnight.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from contextlib import closing
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.cli_helpers import anthropic_env, chinwag_env, finish, run_chinwag, spawn_chinwag
from tests.fakes.reply import Reply
from tests.fakes.server import ScriptedServer
from tests.fakes.tool_wire import anthropic_calls, openai_calls

# $1 per million input tokens, $1,000 per million output: a scripted tool round
# (50 tokens in, 30 out) costs $0.03005; with --max-tokens 40 its worst case is
# $0.04 of output plus its input at two characters a token (well under $0.001).
PRICED = '[prices."budget-model"]\ninput = 1\noutput = 1000\n'


def _env(wire: str, home: Path, server: ScriptedServer) -> dict[str, str]:
    if wire == "anthropic":
        return anthropic_env(home, server.base_url, CHINWAG_MODEL="anthropic:budget-model")
    return chinwag_env(home, OPENAI_API_KEY="k", OPENAI_BASE_URL=server.base_url + "/v1",
                       CHINWAG_MODEL="openai:budget-model")


def _calls(wire: str, n: int) -> Reply:
    call = [(f"call_{n}", "list_files", {})]
    return anthropic_calls(call) if wire == "anthropic" else openai_calls(call)


@pytest.mark.parametrize("wire", ["anthropic", "openai"])
def test_a_tool_loop_is_stopped_before_its_third_round_is_sent(
        wire: str, scripted_server: ScriptedServer, tmp_path: Path) -> None:
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir(), work.mkdir()
    (home / "config.toml").write_text(PRICED)
    for n in range(1, 5):
        scripted_server.enqueue(_calls(wire, n))
    out = run_chinwag(["-T", "list_files", "--max-tokens", "40", "--budget", "0.09", "look around"],
                      _env(wire, home, scripted_server), cwd=work)
    assert len(scripted_server.requests) == 2  # rounds one and two; the third was never sent
    assert out.returncode == 1
    refusal = [line for line in out.stderr.splitlines() if "budget" in line]
    assert len(refusal) == 1, out.stderr
    assert "this run's budget $0.09: $0.0601 spent, and this request could cost up to $0.04" in refusal[0]
    assert "not sent" in refusal[0] and "Traceback" not in out.stderr


def test_the_chat_refuses_in_one_line_and_asks_again(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(PRICED)
    scripted_server.enqueue(Reply(chunks=["One."], input_tokens=50, output_tokens=30))
    child = spawn_chinwag(["--max-tokens", "40", "--budget", "0.05"], _env("anthropic", tmp_path, scripted_server))
    child.expect("You: ")
    child.sendline("first")
    child.expect_exact("One.")
    child.expect_exact("$0.0301")  # the stats line's cost
    child.expect("You: ")
    child.sendline("second")
    child.expect_exact("this run's budget $0.05: $0.0301 spent, and this request could cost up to $0.04")
    child.expect("You: ")
    assert len(scripted_server.requests) == 1
    child.sendline("quit")
    assert finish(child) == 0


def test_eighty_percent_of_a_budget_warns_once(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("budget_per_conversation = 1.0\n" + PRICED)
    # each reply: 50 in, 300 out: $0.30005
    for _ in range(3):
        scripted_server.enqueue(Reply(chunks=["ok"], input_tokens=50, output_tokens=300))
    child = spawn_chinwag(["--max-tokens", "40"], _env("anthropic", tmp_path, scripted_server))
    seen = []
    for question in ("a", "b", "c"):
        child.expect("You: ")
        child.sendline(question)
        child.expect_exact("ok")
        seen.append(child.before)
    child.expect("You: ")
    seen.append(child.before)
    child.sendline("quit")
    assert finish(child) == 0
    text = "".join(seen)
    # spent $0.60 before the third request: under 80 %; the fourth would have been warned of
    assert "the conversation's budget" not in text
    child = spawn_chinwag(["--max-tokens", "40", "-c"], _env("anthropic", tmp_path, scripted_server))
    scripted_server.enqueue(Reply(chunks=["fine"], input_tokens=50, output_tokens=10),
                            Reply(chunks=["still"], input_tokens=50, output_tokens=10))
    child.expect("You: ")
    child.sendline("d")
    child.expect_exact("the conversation's budget: $0.9002 of $1 spent (90%)")
    child.expect_exact("fine")
    child.expect("You: ")
    child.sendline("e")
    child.expect_exact("still")
    child.expect("You: ")
    assert "the conversation's budget:" not in child.before
    child.sendline("quit")
    assert finish(child) == 0


def test_an_unknown_price_goes_on_with_one_line_or_is_refused(scripted_server: ScriptedServer,
                                                                tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("budget_per_day = 5\n")
    env = chinwag_env(tmp_path, OPENAI_API_KEY="k", OPENAI_BASE_URL=scripted_server.base_url + "/v1",
                      CHINWAG_MODEL="openai:mystery-model")
    scripted_server.enqueue(Reply(chunks=["Hi."]))
    out = run_chinwag(["hi"], env)
    assert out.returncode == 0 and out.stdout == "Hi.\n"
    assert out.stderr.count("the budget cannot see mystery-model's cost: its price is unknown") == 1
    (tmp_path / "config.toml").write_text('budget_per_day = 5\nbudget_unknown = "refuse"\n')
    out = run_chinwag(["hi"], env)
    assert out.returncode == 1 and out.stdout == ""
    assert "mystery-model has no known price, and budget_unknown = \"refuse\": not sent" in out.stderr
    assert len(scripted_server.requests) == 1


def _store_reply(home: Path, when: float, cost: float) -> None:
    db = next(home.rglob("history.db"))
    with closing(sqlite3.connect(db)) as conn, conn:
        cid = conn.execute("INSERT INTO conversations (created_at, updated_at, model) VALUES (?, ?, 'x')",
                           (when, when)).lastrowid
        conn.execute("INSERT INTO messages (conversation_id, role, content, status, model, input_tokens,"
                     " output_tokens, cost, price_source, created_at, updated_at)"
                     " VALUES (?, 'assistant', 'old', 'complete', 'budget-model', 1, 1, ?, 'config', ?, ?)",
                     (cid, cost, when, when))


def test_the_day_budget_counts_from_local_midnight(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    zone = "Pacific/Auckland"  # far from UTC, so local and UTC midnights differ
    (tmp_path / "config.toml").write_text("budget_per_day = 1.2\n" + PRICED)
    env = _env("anthropic", tmp_path, scripted_server) | {"TZ": zone}
    scripted_server.enqueue(Reply(chunks=["made"]))
    assert run_chinwag(["--max-tokens", "1", "make the history"], env).returncode == 0
    midnight = dt.datetime.now(ZoneInfo(zone)).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    _store_reply(tmp_path, midnight - 60, 1.0)  # yesterday, 23:59 local: not today's
    _store_reply(tmp_path, midnight + 1, 0.5)  # today, 00:00:01 local
    out = run_chinwag(["--max-tokens", "800", "hi"], env)  # worst case: $0.80 of output
    assert out.returncode == 1 and len(scripted_server.requests) == 1
    assert "today's budget $1.2: $0.5" in out.stderr
    scripted_server.enqueue(Reply(chunks=["cheap"]))
    out = run_chinwag(["--max-tokens", "600", "hi"], env)  # $0.50 + $0.60 < $1.20
    assert out.returncode == 0, out.stderr
    assert out.stdout == "cheap\n"


@pytest.mark.parametrize(("args", "config", "wanted"), [
    (["--budget", "-1", "hi"], "", "--budget must be a number of dollars of at least 0, got '-1'."),
    (["--budget", "lots", "hi"], "", "--budget must be a number of dollars of at least 0, got 'lots'."),
    (["hi"], "budget_per_day = -2\n", "budget_per_day must be a number from 0 to 1e+09, got -2."),
    (["hi"], 'budget_per_month = "ten"\n', "budget_per_month must be a number from 0 to 1e+09"),
    (["hi"], 'budget_unknown = "maybe"\n', "budget_unknown must be one of allow, refuse"),
    (["hi"], '[prices."my-model"]\ninput = "cheap"\noutput = 1\n',
     'line 2: [prices."my-model"] input must be a number of at least 0 (dollars per million tokens), got \'cheap\''),
    (["hi"], '[prices."my-model"]\noutput = 1\ninput = -1\n',
     'line 3: [prices."my-model"] input must be a number of at least 0 (dollars per million tokens), got -1'),
    (["hi"], '[prices."my-model"]\ninput = 1\n', 'line 1: [prices."my-model"] needs output'),
    (["hi"], '[prices.other]\ninput = 1\noutput = 1\ncahce_read = 1\n',
     'line 4: [prices."other"] cahce_read is not one of input, output, cache_read, cache_write'),
])
def test_bad_budgets_and_prices_are_one_line_and_exit_2(scripted_server: ScriptedServer, tmp_path: Path,
                                                        args: list[str], config: str, wanted: str) -> None:
    (tmp_path / "config.toml").write_text(config)
    out = run_chinwag(args, anthropic_env(tmp_path, scripted_server.base_url))
    assert out.returncode == 2
    assert wanted in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert not scripted_server.requests


def test_the_api_raises_a_typed_error_and_sends_nothing(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    from chinwag import BudgetExceeded, Chat

    (tmp_path / "config.toml").write_text(PRICED)
    env = _env("anthropic", tmp_path, scripted_server)
    chat = Chat(environ=env, max_tokens=100, budget=0.05, save=False)  # worst case $0.10 of output
    reply = chat.ask("hi")
    assert reply.status == "error" and isinstance(reply.failure, BudgetExceeded)
    with pytest.raises(BudgetExceeded, match="this run's budget"):
        reply.raise_for_status()
    assert not scripted_server.requests
