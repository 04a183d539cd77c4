"""Conversations longer than the model's context window never fail for it.

The oldest turns are left out of the request (never the system prompt or the
latest message), the user is told once, and the store keeps everything.
"""

from __future__ import annotations

from pathlib import Path

from chinwag.conversation import Conversation
from chinwag.config import Settings
from chinwag.context import drop_half, estimate_tokens, fit
from chinwag.providers import anthropic, openai
from chinwag.records import Window
from chinwag.events import Event, Notice
from chinwag.providers.anthropic import AnthropicProvider
from chinwag.records import Message
from chinwag.providers.local import LocalProvider
from chinwag.providers.openai import OpenAIProvider
from chinwag.session import Session
from tests.cli_helpers import chinwag_env, run_chinwag
from tests.fakes.reply import Reply
from tests.fakes.server import ScriptedServer


def _turns(n: int, size: int = 100) -> list[Message]:
    messages = []
    for i in range(n):
        messages += [Message("user", f"question {i} " + "x" * size), Message("assistant", f"answer {i} " + "y" * size)]
    return messages + [Message("user", "the latest question")]


def test_fit_keeps_the_newest_turns_and_starts_with_a_user_message() -> None:
    window = Window(1000, lambda text: len(text) // 4)
    kept, dropped = fit(_turns(50), "system prompt", window, reply_room=200)
    assert dropped > 0 and kept[-1] == Message("user", "the latest question")
    assert kept[0].role == "user"
    assert kept == _turns(50)[dropped:]
    assert sum(len(m.content) // 4 + 8 for m in kept) <= 1000 - 200


def test_fit_leaves_a_short_conversation_alone() -> None:
    assert fit(_turns(2), None, Window(100_000, estimate_tokens), 4096) == (_turns(2), 0)


def test_fit_never_drops_the_latest_message_even_if_it_alone_is_too_long() -> None:
    kept, dropped = fit([Message("user", "z" * 10_000)], None, Window(100, len), 10)
    assert kept == [Message("user", "z" * 10_000)] and dropped == 0


def test_drop_half_and_overflow_messages_from_real_servers() -> None:
    kept, dropped = drop_half(_turns(10))
    assert kept[0].role == "user" and dropped == 10 and kept[-1].content == "the latest question"
    # Each provider reads its servers' error bodies (the session then tests the error's type).
    for body in [
        {"error": {"message": "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens",
                   "type": "invalid_request_error", "code": "context_length_exceeded"}},  # OpenAI
        {"object": "error", "message": "This model's maximum context length is 4096 tokens. However, you "
                                       "requested 5000 tokens", "type": "BadRequestError", "code": 400},  # vLLM
        {"error": {"message": "the request exceeds the available context size, try increasing it",
                   "type": "exceed_context_size_error", "code": 400}},  # llama.cpp server
        {"error": "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096",
         "error_type": "validation"},  # TGI
    ]:
        assert openai.is_overflow(body), body
    assert anthropic.is_overflow({"type": "error", "error": {
        "type": "invalid_request_error", "message": "prompt is too long: 215000 tokens > 200000 maximum"}})
    assert not anthropic.is_overflow({"type": "error", "error": {"type": "authentication_error",
                                                                 "message": "invalid x-api-key"}})
    assert not openai.is_overflow({"error": {"message": "invalid x-api-key", "type": "invalid_request_error"}})


class Notices(list[str]):
    """A sink that keeps the text of every Notice event."""

    def on_start(self) -> None:
        pass

    def on_event(self, event: Event, reply: object) -> None:
        if isinstance(event, Notice):
            self.append(event.text)

    def on_end(self, reply: object) -> None:
        pass


def test_two_hundred_turns_on_the_local_model_never_overflow(tmp_path: Path) -> None:
    # A 128-token window fills in a few turns; 200 short turns slide it along.
    provider = LocalProvider(context_size=128)
    window = provider.context_window("")
    settings = Settings(provider="local", model="", system="You are brief.", max_tokens=2, temperature=0)
    notices = Notices()
    session = Session(settings, provider, Conversation("You are brief."))
    for turn in range(200):
        reply = session.ask(f"Turn {turn}, a number.", [notices])
        assert reply.status == "complete", (turn, reply.error)
        assert reply.input_tokens is not None and reply.input_tokens + 2 <= window.tokens
    assert len(session.conversation.messages) == 400  # all kept
    assert len(notices) == 1 and "left out the oldest" in notices[0]


def test_anthropic_requests_are_trimmed_to_fit_200k_tokens(scripted_server: ScriptedServer) -> None:
    provider = AnthropicProvider("test-key", scripted_server.base_url)
    settings = Settings(provider="anthropic", model="claude-x", system="s", max_tokens=4096, temperature=None)
    session = Session(settings, provider, Conversation("s"))
    session.conversation.messages = _turns(200, size=3000)  # ~400k tokens by our estimate
    session.conversation.messages.pop()
    reply = session.ask("and now?", [])
    assert reply.status == "complete"
    sent = scripted_server.requests[0].json["messages"]
    assert sent[-1] == {"role": "user", "content": "and now?"} and sent[0]["role"] == "user"
    assert 10 < len(sent) < 401
    assert sum(estimate_tokens(m["content"]) + 8 for m in sent) <= 200_000 - 4096


def test_server_that_says_too_long_gets_half_the_history(scripted_server: ScriptedServer) -> None:
    scripted_server.enqueue(
        Reply(status=400, error_message="This model's maximum context length is 4096 tokens. However, your messages resulted in 9000 tokens."),
        Reply(chunks=["Fits now."]),
    )
    provider = OpenAIProvider(None, scripted_server.base_url + "/v1")
    settings = Settings(provider="openai", model="m", system="s", max_tokens=100, temperature=None)
    notices = Notices()
    session = Session(settings, provider, Conversation("s"))
    session.conversation.messages = _turns(20)[:-1]
    reply = session.ask("latest", [notices])
    assert reply.status == "complete" and reply.text == "Fits now."
    first, second = (r.json["messages"] for r in scripted_server.requests)
    assert len(second) < len(first) and second[-1] == {"role": "user", "content": "latest"}
    assert notices and "left out" in notices[0]


def test_one_shot_says_it_left_turns_out(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=["q"]), Reply(status=400, error_message="prompt is too long: 300000 tokens > 200000 maximum"),
                            Reply(chunks=["Answered."]))
    env = chinwag_env(tmp_path, ANTHROPIC_API_KEY="k", ANTHROPIC_BASE_URL=scripted_server.base_url)
    assert run_chinwag(["first"], env).returncode == 0
    result = run_chinwag(["-c", "second"], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Answered.\n"
    assert "left out the oldest 2 messages" in result.stderr
