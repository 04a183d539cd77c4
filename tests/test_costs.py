"""What a reply costs: priced from the scripted servers' usage fields on both
wire formats (Anthropic's and OpenAI's), shown on the stats line, carried by
--json's done event, and stored in the history with the price's source.

Runs the installed `chinwag` against tests/fakes' servers on 127.0.0.1; the
prices are genai-prices' shipped data (0.2.3: claude-sonnet-4-5 $3/$15 per
million tokens, cache reads $0.30, cache writes $3.75; gpt-4o $2.50/$10,
cache reads $1.25), or the config's.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.cli_helpers import anthropic_env, chinwag_env, run_chinwag
from tests.fakes.reply import Reply
from tests.fakes.server import ScriptedServer


def _stored(home: Path) -> list[tuple]:
    db = next(home.rglob("history.db"))
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT model, provider, input_tokens, output_tokens, cache_read_tokens,"
                            " cache_write_tokens, reasoning_tokens, cost, price_source FROM messages"
                            " WHERE role = 'assistant' ORDER BY id").fetchall()


def _done(stdout: str) -> dict:
    return [json.loads(line) for line in stdout.splitlines()][-1]


def test_anthropic_known_model_with_cache_tokens(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=["Hi."], input_tokens=1000, output_tokens=200,
                                  cache_read_tokens=4000, cache_write_tokens=2000))
    result = run_chinwag(["--json", "-m", "anthropic:claude-sonnet-4-5", "hi"],
                         anthropic_env(tmp_path, scripted_server.base_url))
    assert result.returncode == 0, result.stderr
    done = _done(result.stdout)
    # 1000 x $3 + 4000 x $0.30 + 2000 x $3.75 + 200 x $15, per million
    expected = (1000 * 3 + 4000 * 0.3 + 2000 * 3.75 + 200 * 15) / 1e6
    assert done["cost"] == pytest.approx(expected)
    assert done["usage"]["input_tokens"] == 7000  # all input: the cache's parts included
    assert (done["usage"]["cache_read_tokens"], done["usage"]["cache_write_tokens"]) == (4000, 2000)
    assert done["price_source"] == "genai-prices 0.2.3"
    [row] = _stored(tmp_path)
    assert row[:7] == ("claude-sonnet-4-5", "anthropic", 7000, 200, 4000, 2000, None)
    assert row[7] == pytest.approx(expected) and row[8] == "genai-prices 0.2.3"


def test_openai_known_model_with_cached_and_reasoning_tokens(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=["Hi."], input_tokens=1000, output_tokens=300,
                                  cache_read_tokens=3000, reasoning_tokens=120))
    env = chinwag_env(tmp_path, OPENAI_API_KEY="k", OPENAI_BASE_URL=scripted_server.base_url + "/v1")
    result = run_chinwag(["--json", "-m", "openai:gpt-4o", "hi"], env)
    assert result.returncode == 0, result.stderr
    done = _done(result.stdout)
    expected = (1000 * 2.5 + 3000 * 1.25 + 300 * 10) / 1e6
    assert done["cost"] == pytest.approx(expected)
    assert done["usage"]["reasoning_tokens"] == 120 and done["usage"]["cache_read_tokens"] == 3000
    [row] = _stored(tmp_path)
    assert row[:7] == ("gpt-4o", "openai", 4000, 300, 3000, None, 120)
    assert row[7] == pytest.approx(expected)


@pytest.mark.parametrize("wire", ["anthropic", "openai"])
def test_an_unknown_model_has_no_price_never_a_guess(scripted_server: ScriptedServer, tmp_path: Path,
                                                     wire: str) -> None:
    scripted_server.enqueue(Reply(chunks=["Hi."], output_tokens=5))
    env = (anthropic_env(tmp_path, scripted_server.base_url) if wire == "anthropic" else
           chinwag_env(tmp_path, OPENAI_API_KEY="k", OPENAI_BASE_URL=scripted_server.base_url + "/v1"))
    result = run_chinwag(["--json", "-m", f"{wire}:my-vllm-model", "hi"], env)
    assert result.returncode == 0, result.stderr
    done = _done(result.stdout)
    assert done["cost"] is None and done["price_source"] is None
    [row] = _stored(tmp_path)
    assert row[1] == wire and row[7] is None and row[8] is None


def test_a_config_price_wins_and_is_named_config(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[prices."my-vllm-model"]\ninput = 0.2\noutput = 0.6\n')
    scripted_server.enqueue(Reply(chunks=["Hi."], input_tokens=10_000, output_tokens=5_000))
    env = chinwag_env(tmp_path, OPENAI_API_KEY="k", OPENAI_BASE_URL=scripted_server.base_url + "/v1")
    result = run_chinwag(["--json", "-m", "openai:my-vllm-model", "hi"], env)
    assert result.returncode == 0, result.stderr
    done = _done(result.stdout)
    assert done["cost"] == pytest.approx((10_000 * 0.2 + 5_000 * 0.6) / 1e6)
    assert done["price_source"] == "config"


def test_a_tool_loops_stats_line_shows_the_whole_turns_cost_and_stats_the_totals(
        scripted_server: ScriptedServer, tmp_path: Path) -> None:
    """On a terminal (pexpect): the tool round (50 in, 30 out) and the answer (50 in,
    20 out) at $1 / $1,000 per million cost $0.03005 + $0.02005 = $0.0501."""
    from tests.cli_helpers import spawn_chinwag, finish
    from tests.fakes.tool_wire import anthropic_calls

    (tmp_path / "config.toml").write_text('[prices."budget-model"]\ninput = 1\noutput = 1000\n')
    (tmp_path / "work").mkdir()
    scripted_server.enqueue(anthropic_calls([("toolu_1", "list_files", {})]),
                            Reply(chunks=["Done."], input_tokens=50, output_tokens=20))
    env = anthropic_env(tmp_path, scripted_server.base_url, CHINWAG_MODEL="anthropic:budget-model")
    child = spawn_chinwag(["-T", "list_files"], env, cwd=tmp_path / "work")
    child.expect("You: ")
    child.sendline("look")
    child.expect_exact("Done.")
    child.expect_exact("20 tok")
    child.expect_exact("$0.0501")
    child.expect("You: ")
    child.sendline("/stats")
    child.expect_exact("conversation: 2 replies · 100 in / 50 out tok · $0.0501")
    child.expect_exact("context window: 70 of 200,000 tokens (0%)")
    child.expect("You: ")
    child.sendline("quit")
    assert finish(child) == 0


def test_the_bundled_model_is_free_and_genai_prices_is_not_imported_before_the_prompt(tmp_path: Path) -> None:
    """The prompt is drawn with Python's import log on (PYTHONPROFILEIMPORTTIME, on
    stderr, which the pty shows): nothing of genai_prices appears before `You: `.
    A local model's price is "local", free: checked on the price table itself
    (the bundled model's reply needs llama.cpp, which this test does not load)."""
    from tests.cli_helpers import spawn_chinwag, finish
    from chinwag.prices import Prices

    child = spawn_chinwag(["-m", "local"], chinwag_env(tmp_path, PYTHONPROFILEIMPORTTIME="1"))
    child.expect("You: ")
    assert "import time:" in child.before and "genai_prices" not in child.before
    child.sendline("quit")
    assert finish(child) == 0
    price = Prices().price("smollm2", "local")
    assert price is not None and price.source == "local" and price.cost(10_000, 5_000) == 0


def test_prices_are_kept_between_runs_and_a_damaged_file_is_looked_up_again(
        scripted_server: ScriptedServer, tmp_path: Path) -> None:
    """The first run looks the price up in genai-prices and keeps it in
    prices.json; the next reads it from there (shown by changing the kept
    price: the cost follows it); a damaged file is looked up again."""
    env = anthropic_env(tmp_path, scripted_server.base_url)
    args = ["--json", "-m", "anthropic:claude-sonnet-4-5", "hi"]
    expected = (1000 * 3 + 100 * 15) / 1e6
    scripted_server.enqueue(*[Reply(chunks=["Hi."], input_tokens=1000, output_tokens=100) for _ in range(3)])
    assert _done(run_chinwag(args, env).stdout)["cost"] == pytest.approx(expected)
    kept = json.loads((tmp_path / "prices.json").read_text())
    assert kept["prices"]["anthropic:claude-sonnet-4-5"]["input"] == [3.0, [[200000, 6.0]]]
    kept["prices"]["anthropic:claude-sonnet-4-5"]["input"] = [30.0, []]
    (tmp_path / "prices.json").write_text(json.dumps(kept))
    assert _done(run_chinwag(args, env).stdout)["cost"] == pytest.approx((1000 * 30 + 100 * 15) / 1e6)
    (tmp_path / "prices.json").write_text('{"stamp": ')
    assert _done(run_chinwag(args, env).stdout)["cost"] == pytest.approx(expected)
