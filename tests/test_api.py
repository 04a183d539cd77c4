"""The public Python API: `from chinwag import Chat`, over real HTTP to the scripted
servers and the real bundled model, saving to a real history database."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import chinwag
from chinwag import Chat, ChinwagError, Stop, TextDelta, Usage
from chinwag.history.store import Store
from tests.fakes.server import Reply, ScriptedServer


def _env(home: Path, server: ScriptedServer, **extra: str) -> dict[str, str]:
    return {"CHINWAG_HOME": str(home), "ANTHROPIC_API_KEY": "test-key",
            "ANTHROPIC_BASE_URL": server.base_url, **extra}


def test_stream_yields_text_as_it_arrives_then_usage_and_stop(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=["A CPU ", "fetches, ", "decodes, executes."]))
    with Chat(environ=_env(tmp_path, scripted_server)) as chat:
        events = list(chat.stream("Explain how a CPU works"))
    texts = [e.text for e in events if isinstance(e, TextDelta)]
    assert texts == ["A CPU ", "fetches, ", "decodes, executes."]
    assert isinstance(events[-2], Usage) and events[-1] == Stop("end_turn")
    assert [e.type for e in events][:1] == ["text"]


def test_ask_keeps_the_conversation_and_sends_it_back(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=["Paris."]), Reply(chunks=["Lyon."]))
    with Chat("claude-sonnet-4-20250514", system="Be terse.", environ=_env(tmp_path, scripted_server)) as chat:
        first = chat.ask("Capital of France?")
        second = chat.ask("And another city?")
        assert (first.text, first.status, second.text) == ("Paris.", "complete", "Lyon.")
        assert [m.content for m in chat.messages] == ["Capital of France?", "Paris.", "And another city?", "Lyon."]
    sent = scripted_server.requests[1].json
    assert sent["system"] == "Be terse." and sent["model"] == "claude-sonnet-4-20250514"
    assert [m["content"] for m in sent["messages"]] == ["Capital of France?", "Paris.", "And another city?"]


def test_replies_are_saved_to_the_same_history_as_the_cli(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=["Saved."]))
    with Chat(environ=_env(tmp_path, scripted_server)) as chat:
        chat.ask("Keep this")
    cid = chat.conversation_id  # saving is write-behind: known for sure once closed
    assert cid is not None
    store = Store.open(tmp_path / "history.db")
    try:
        assert store.history_for_model(cid) == [("user", "Keep this"), ("assistant", "Saved.")]
    finally:
        store.close()


def test_save_false_leaves_no_history(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    with Chat(save=False, environ=_env(tmp_path, scripted_server)) as chat:
        assert chat.ask("Forget this").status == "complete"
        assert chat.conversation_id is None
    assert not (tmp_path / "history.db").exists()


def test_retries_before_the_first_token_like_the_cli(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(status=529, headers={"retry-after-ms": "10"}), Reply(chunks=["Made it."]))
    with Chat(environ=_env(tmp_path, scripted_server)) as chat:
        events = list(chat.stream("hi"))
    assert [e.type for e in events][0] == "retrying"
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Made it."


def test_stopping_a_stream_early_closes_the_connection_and_keeps_the_partial_reply(
        scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=["First ", "second ", "third"], hold_after=1))
    with Chat(environ=_env(tmp_path, scripted_server)) as chat:
        stream = chat.stream("Tell me three things")
        first = next(e for e in stream if isinstance(e, TextDelta))
        stream.close()  # type: ignore[attr-defined]
        assert first.text == "First "
        assert scripted_server.wait_closed(1, timeout=5)
        assert chat.messages[-1].content == "First "
        reply = chat.ask("go on")
    assert reply.status == "complete"
    assert scripted_server.requests[1].json["messages"][1] == {"role": "assistant", "content": "First "}


def test_a_failed_reply_comes_back_with_its_error_not_an_exception(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(status=401))
    with Chat(environ=_env(tmp_path, scripted_server)) as chat:
        reply = chat.ask("hi")
    assert reply.status == "error" and "ANTHROPIC_API_KEY" in (reply.error or "")


def test_base_url_means_an_openai_compatible_server(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=["From vLLM."]))
    env = {"CHINWAG_HOME": str(tmp_path)}
    with Chat("my-model", base_url=scripted_server.base_url + "/v1", save=False, environ=env) as chat:
        assert chat.ask("hi").text == "From vLLM."
    assert scripted_server.requests[0].path == "/v1/chat/completions"
    assert scripted_server.requests[0].json["model"] == "my-model"


def test_bad_settings_raise_at_construction(tmp_path: Path) -> None:
    with pytest.raises(ChinwagError, match="unknown model"):
        Chat("no-such-thing", environ={"CHINWAG_HOME": str(tmp_path)})
    with pytest.raises(ChinwagError, match="ANTHROPIC_API_KEY"):
        Chat("claude-x", environ={"CHINWAG_HOME": str(tmp_path)})


def test_a_bad_argument_is_named_as_the_caller_passed_it(tmp_path: Path) -> None:
    """Not as the command line's flag: the caller never typed --model."""
    env = {"CHINWAG_HOME": str(tmp_path)}
    with pytest.raises(ChinwagError, match=r"unknown model 'nope:x' \(from Chat\(model=\.\.\.\)\)"):
        Chat("nope:x", environ=env)
    with pytest.raises(ChinwagError, match=r"^Chat\(max_tokens=\.\.\.\) must be a whole number"):
        Chat("local", max_tokens=-3, environ=env)
    with pytest.raises(ChinwagError, match=r"got 'ftp://x' \(from Chat\(base_url=\.\.\.\)\)"):
        Chat("openai:x", base_url="ftp://x", environ=env)


def test_retry_with_nothing_to_retry_is_a_usage_error(tmp_path: Path) -> None:
    with Chat("local", save=False, environ={"CHINWAG_HOME": str(tmp_path)}) as chat:
        with pytest.raises(ChinwagError, match="nothing to retry"):
            chat.retry()


def test_the_bundled_model_answers_with_no_api_key(tmp_path: Path) -> None:
    with Chat(save=False, max_tokens=12, temperature=0, environ={"CHINWAG_HOME": str(tmp_path)}) as chat:
        assert chat.model.startswith("SmolLM2")
        reply = chat.ask("What is the capital of France?")
    assert reply.status == "complete" and reply.text and reply.output_tokens


def test_importing_chinwag_loads_nothing_until_a_name_is_used() -> None:
    code = ("import sys, chinwag; print(sorted(m for m in sys.modules if m.startswith('chinwag')));"
            "chinwag.Chat; print('chinwag.api' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "['chinwag']" and out[1] == "True"
    assert set(chinwag.__all__) >= {"Chat", "Reply", "TextDelta", "Usage", "Stop", "Event"}
