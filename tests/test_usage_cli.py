"""`chinwag usage` (issue 23): spend and tokens by day, through the installed command.

Piped it prints a plain table (no bars, no colour); on a terminal (a real
pty, pexpect) each day ends in a bar; `--json` is one document. Days are
LOCAL days unless `--utc`: tested with TZ set to a zone far from UTC, with a
reply either side of local and of UTC midnight. The replies are stored
through the Store with the figures a turn leaves (tests/usage_rows.py:
simulated turns, no model asked).
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from tests.cli_helpers import anthropic_env, chinwag_env, finish, run_chinwag, spawn_chinwag
from tests.fakes.server import Reply, ScriptedServer
from tests.usage_rows import add_reply, utc


def _today_at(hour: int) -> float:
    now = datetime.now()
    return datetime(now.year, now.month, now.day, hour).timestamp()


def test_an_empty_history_prints_an_empty_chart_not_an_error(tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = run_chinwag(["usage"], chinwag_env(home))
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    assert "(30 days, local time)" in lines[0]
    days = [line for line in lines if line[:3] in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")]
    assert len(days) == 30 and all(line.split()[3:] == ["0", "0", "0", "$0"] for line in days)
    assert "No replies in this period." in lines
    assert not (home / "history.db").exists()  # counting creates nothing

    shown = json.loads(run_chinwag(["usage", "--json", "--days", "7"], chinwag_env(home)).stdout)
    assert len(shown["days"]) == 7 and shown["total"]["replies"] == 0


def test_piped_a_plain_table_of_each_day_with_totals_and_no_bars(tmp_path: Path) -> None:
    home = tmp_path / "home"
    add_reply(home, _today_at(10), cost=0.0125, input_tokens=1500, output_tokens=300)
    add_reply(home, _today_at(11), model="gpt-4o-mini", provider="openai", cost=0.0005, input_tokens=800,
              output_tokens=100)
    add_reply(home, _today_at(9) - 86400, model="my-vllm-model", provider="openai", cost=None, input_tokens=50,
              output_tokens=5)
    done = run_chinwag(["usage", "--days", "3"], chinwag_env(home))
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout and "█" not in done.stdout
    rows = {line.split()[0] + " " + " ".join(line.split()[1:3]): line.split()[3:] for line in done.stdout.splitlines()
            if line[:3] in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")}
    today, yesterday = date.today(), date.today() - timedelta(days=1)
    assert rows[f"{today:%a %b} {today.day}"] == ["2", "2,300", "400", "$0.0130"]
    assert rows[f"{yesterday:%a %b} {yesterday.day}"] == ["1", "50", "5", "-*"]  # no known price: no guess
    total = next(line for line in done.stdout.splitlines() if line.startswith("total"))
    assert total.split() == ["total", "3", "2,350", "405", "$0.0130*"]
    assert "* 1 reply with no known price" in done.stdout


def test_on_a_terminal_each_day_ends_in_a_bar(tmp_path: Path) -> None:
    home = tmp_path / "home"
    add_reply(home, _today_at(10), cost=0.02)
    add_reply(home, _today_at(10) - 86400, cost=0.01)
    child = spawn_chinwag(["usage", "--days", "3"], chinwag_env(home), size=(24, 100))
    assert finish(child) == 0
    screen = child.before
    lines = [line for line in screen.splitlines() if "$0." in line and not line.startswith("total")]
    assert len(lines) == 2
    yesterday, today = sorted(lines, key=lambda line: line.count("█"))
    assert today.count("█") == 2 * yesterday.count("█") > 0  # bars in proportion to the day's cost
    assert "bars: cost" in screen
    assert "\x1b[36m" in screen  # coloured: a terminal that takes colour


def test_by_model_provider_and_conversation_split_each_day_and_total_the_range(tmp_path: Path) -> None:
    home = tmp_path / "home"
    cid, _ = add_reply(home, _today_at(9), cost=0.01, title="Plans for the trip")
    add_reply(home, _today_at(10), cost=0.02, cid=cid)
    add_reply(home, _today_at(11), model="gpt-4o-mini", provider="openai", cost=0.001)
    env = chinwag_env(home)
    by_model = json.loads(run_chinwag(["usage", "--json", "--by", "model", "--days", "2"], env).stdout)
    assert [(t["model"], t["replies"], round(t["cost"], 6)) for t in by_model["totals"]] == [
        ("claude-sonnet-4-20250514", 2, 0.03), ("gpt-4o-mini", 1, 0.001)]
    assert by_model["days"][-1]["replies"] == 3 and len(by_model["days"][-1]["by"]) == 2
    by_provider = json.loads(run_chinwag(["usage", "--json", "--by", "provider"], env).stdout)
    assert [t["provider"] for t in by_provider["totals"]] == ["anthropic", "openai"]
    by_conversation = run_chinwag(["usage", "--by", "conversation", "--days", "1"], env).stdout
    assert f"#{cid} Plans for the trip" in by_conversation
    assert "by conversation" in by_conversation


def test_replies_saved_before_costs_count_their_tokens_and_their_cost_where_the_price_is_known(tmp_path: Path) -> None:
    """Rows as m009 leaves old replies: no provider, no cost."""
    home = tmp_path / "home"
    add_reply(home, _today_at(10), provider=None, cost=None, input_tokens=1_000_000, output_tokens=0)
    add_reply(home, _today_at(10), model="my-own-model", provider=None, cost=None, input_tokens=10, output_tokens=1)
    shown = json.loads(run_chinwag(["usage", "--json", "--days", "1"], chinwag_env(home)).stdout)
    total = shown["total"]
    assert total["replies"] == 2 and total["input_tokens"] == 1_000_010
    assert total["cost"] == pytest.approx(3.0)  # claude-sonnet-4: $3 per million input tokens (genai-prices)
    assert total["unpriced"] == 1  # the model nobody prices


@pytest.mark.parametrize("since", ["2026-03-09", "2024-12-01"])  # a query per day; beyond 400 days, one query
@pytest.mark.parametrize("zone", ["Asia/Tokyo", "America/Los_Angeles"])
def test_days_are_local_days_unless_utc(tmp_path: Path, zone: str, since: str) -> None:
    """A reply at 23:30 UTC on March 10: in Tokyo (UTC+9) it is the 11th at 08:30, in
    Los Angeles (UTC-7 after the DST change on the 8th) the 10th at 16:30. Another
    at 07:30 UTC on the 11th: Tokyo's 11th, Los Angeles' 11th at 00:30 (just after
    its midnight), and UTC's 11th."""
    home = tmp_path / "home"
    add_reply(home, utc("2026-03-10 23:30"), cost=0.01)
    add_reply(home, utc("2026-03-11 07:30"), cost=0.02)
    env = chinwag_env(home, TZ=zone)

    def days(*flags: str) -> dict[str, float]:
        done = run_chinwag(["usage", "--json", "--since", since, *flags], env)
        assert done.returncode == 0, done.stderr
        document = json.loads(done.stdout)
        return {d["day"]: round(d["cost"], 6) for d in document["days"] if d["replies"]}

    local = {"Asia/Tokyo": {"2026-03-11": 0.03}, "America/Los_Angeles": {"2026-03-10": 0.01, "2026-03-11": 0.02}}
    assert days() == local[zone]
    assert days("--utc") == {"2026-03-10": 0.01, "2026-03-11": 0.02}
    shown = run_chinwag(["usage", "--since", "2026-03-09", "--utc"], env).stdout
    assert "UTC)" in shown.splitlines()[0]


def test_the_first_day_starts_at_local_midnight(tmp_path: Path) -> None:
    """--days 2 covers yesterday from 00:00 local time: a reply one second before is left out."""
    home = tmp_path / "home"
    midnight = _today_at(0) - 86400
    add_reply(home, midnight, cost=0.01)
    add_reply(home, midnight - 1, cost=0.02)
    shown = json.loads(run_chinwag(["usage", "--json", "--days", "2"], chinwag_env(home)).stdout)
    assert shown["total"]["replies"] == 1 and shown["total"]["cost"] == pytest.approx(0.01)
    shown = json.loads(run_chinwag(["usage", "--json", "--days", "3"], chinwag_env(home)).stdout)
    assert shown["days"][0]["cost"] == pytest.approx(0.02) and shown["days"][1]["cost"] == pytest.approx(0.01)


@pytest.mark.parametrize("args, says", [
    (["--days", "0"], "argument --days: a whole number of days from 1"),
    (["--days", "many"], "argument --days: a whole number of days from 1"),
    (["--since", "2026-13-01"], "argument --since: a date as YYYY-MM-DD, not '2026-13-01'"),
    (["--since", "2999-01-01"], "--since 2999-01-01 is after today"),
    (["--by", "colour"], "argument --by: invalid choice: 'colour'"),
    (["--days", "3", "--since", "2026-01-01"], "not allowed with argument"),
    (["extra"], "unrecognized arguments: extra"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], says: str) -> None:
    done = run_chinwag(["usage", *args], chinwag_env(tmp_path / "home"))
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1 and says in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_help_names_the_options(tmp_path: Path) -> None:
    done = run_chinwag(["usage", "--help"], chinwag_env(tmp_path / "home"))
    assert done.returncode == 0
    for option in ("--days", "--since", "--by", "--utc", "--json"):
        assert option in done.stdout


def test_replies_from_real_turns_on_both_wires_are_counted_with_their_cost(
        scripted_server: ScriptedServer, tmp_path: Path) -> None:
    """Two one-shot chats against the scripted server (Anthropic's wire with cache tokens,
    OpenAI's), then `chinwag usage`: the figures the turns stored, the cost their `done` said."""
    home = tmp_path / "home"
    scripted_server.enqueue(Reply(chunks=["Hi."], input_tokens=1000, output_tokens=200, cache_read_tokens=4000))
    first = run_chinwag(["--json", "-m", "anthropic:claude-sonnet-4-5", "hi"],
                        anthropic_env(home, scripted_server.base_url))
    scripted_server.enqueue(Reply(chunks=["Hello."], input_tokens=500, output_tokens=100))
    second = run_chinwag(["--json", "-m", "openai:gpt-4o", "hello"],
                         chinwag_env(home, OPENAI_API_KEY="k", OPENAI_BASE_URL=scripted_server.base_url + "/v1"))
    costs = [json.loads(done.stdout.splitlines()[-1])["cost"] for done in (first, second)]
    assert all(cost > 0 for cost in costs), (first.stderr, second.stderr)
    shown = json.loads(run_chinwag(["usage", "--json", "--days", "1", "--by", "provider"], chinwag_env(home)).stdout)
    assert shown["total"]["replies"] == 2 and shown["total"]["cost"] == pytest.approx(sum(costs))
    assert shown["total"]["input_tokens"] == 5500 and shown["total"]["cache_read_tokens"] == 4000
    assert {t["provider"]: t["cost"] for t in shown["totals"]} == pytest.approx(
        {"anthropic": costs[0], "openai": costs[1]})


def test_a_config_price_prices_replies_saved_before_costs(tmp_path: Path) -> None:
    home = tmp_path / "home"
    add_reply(home, _today_at(10), model="my-own-model", provider=None, cost=None, input_tokens=1_000_000,
              output_tokens=1_000_000)
    (home / "config.toml").write_text('[prices."my-own-model"]\ninput = 0.2\noutput = 0.6\n')
    shown = json.loads(run_chinwag(["usage", "--json", "--days", "1"], chinwag_env(home)).stdout)
    assert shown["total"]["cost"] == pytest.approx(0.8) and shown["total"]["unpriced"] == 0


def test_a_damaged_history_is_one_line_and_is_left_as_it_is(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    damaged = b"not a database, only text " * 40
    (home / "history.db").write_bytes(damaged)
    done = run_chinwag(["usage"], chinwag_env(home))
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.splitlines()) == 1 and "damaged" in done.stderr and "Traceback" not in done.stderr
    assert (home / "history.db").read_bytes() == damaged
