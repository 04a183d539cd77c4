"""Provider errors carry what a notice needs, set where they are made.

`reason` is the short phrase of the "retrying in N s" line (`Retrying.reason`
is the failure's reason, never a cut-down message); `retryable` and
`retry_delay` drive the retry policy; `message` stays one sentence the user
can act on, and names the server as the user set it.
"""

from __future__ import annotations

import pytest

from chinwag.errors import (
    AuthError,
    ConnectionFailed,
    LocalModelError,
    Overloaded,
    ProviderError,
    RateLimited,
    StreamInterrupted,
)
from chinwag.events import Retrying
from chinwag.providers.anthropic import AnthropicProvider
from chinwag.providers.openai import OpenAIProvider
from chinwag.records import ChatRequest, Message
from tests.fakes.server import Reply, ScriptedServer
from tests.fakes.sleep import RecordingSleep

APIS = ["anthropic", "openai"]


def test_fields_are_set_at_construction() -> None:
    error = Overloaded("overloaded: api answered 529 (Overloaded); try again shortly.",
                       reason="overloaded (529)", retryable=False, retry_delay=2.5)
    assert (error.reason, error.retryable, error.retry_delay) == ("overloaded (529)", False, 2.5)
    assert str(error) == error.message


@pytest.mark.parametrize(
    ("kind", "retryable"),
    [(ProviderError, False), (AuthError, False), (RateLimited, True), (Overloaded, True),
     (ConnectionFailed, True), (StreamInterrupted, False), (LocalModelError, False)],
)
def test_each_class_has_a_default_reason_and_retryability(kind: type[ProviderError], retryable: bool) -> None:
    error = kind("something went wrong.")
    assert error.reason and len(error.reason) < 30
    assert error.retryable is retryable
    assert error.retry_delay is None


def provider(api: str, base_url: str, sleep: RecordingSleep, **http: object) -> AnthropicProvider | OpenAIProvider:
    if api == "anthropic":
        return AnthropicProvider(api_key="test-key", base_url=base_url, sleep=sleep, **http)
    return OpenAIProvider(api_key="test-key", base_url=base_url + "/v1", sleep=sleep, **http)


def run(api: str, base_url: str, sleep: RecordingSleep, **http: object) -> tuple[list[Retrying], ProviderError]:
    model = "claude-sonnet-4-20250514" if api == "anthropic" else "gpt-4o-mini"
    request = ChatRequest(model=model, messages=(Message("user", "Hi"),), max_tokens=50)
    chat = provider(api, base_url, sleep, **http)
    notices: list[Retrying] = []
    try:
        for event in chat.stream(request):
            assert isinstance(event, Retrying), event
            notices.append(event)
    except ProviderError as failure:
        return notices, failure
    finally:
        chat.close()
    raise AssertionError("no error")


@pytest.mark.parametrize("api", APIS)
def test_refused_base_url_is_named_in_full_in_the_notices_and_the_error(
    refused_url: str, fake_sleep: RecordingSleep, api: str
) -> None:
    notices, failure = run(api, refused_url, fake_sleep)
    assert [n.reason for n in notices] == [f"connection refused ({refused_url})"] * 2
    assert isinstance(failure, ConnectionFailed)
    assert failure.message == f"could not connect to {refused_url}: connection refused."
    assert failure.reason == f"connection refused ({refused_url})"


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply(status=529), "overloaded (529)"),
        (Reply(status=500), "server error (500)"),
        (Reply(status=503), "server error (503)"),
        (Reply(status=429), "rate limited (429)"),
        (Reply(drop_after=0), "connection dropped"),
    ],
    ids=["529", "500", "503", "429", "dropped"],
)
def test_retry_notices_name_the_failure_in_a_short_phrase(
    scripted_server: ScriptedServer, fake_sleep: RecordingSleep, api: str, reply: Reply, reason: str
) -> None:
    scripted_server.enqueue(reply, Reply(chunks=["ok"]))
    chat = provider(api, scripted_server.base_url, fake_sleep)
    model = "claude-sonnet-4-20250514" if api == "anthropic" else "gpt-4o-mini"
    events = list(chat.stream(ChatRequest(model=model, messages=(Message("user", "Hi"),), max_tokens=50)))
    chat.close()
    assert isinstance(events[0], Retrying) and events[0].reason == reason


@pytest.mark.parametrize("api", APIS)
def test_an_error_event_before_any_text_is_retried_and_named(
    scripted_server: ScriptedServer, fake_sleep: RecordingSleep, api: str
) -> None:
    scripted_server.enqueue(Reply(error_after=0), Reply(error_after=0), Reply(error_after=0))
    notices, failure = run(api, scripted_server.base_url, fake_sleep)
    expected = "overloaded" if api == "anthropic" else "stopped by the server"
    assert [n.reason for n in notices] == [expected] * 2
    assert isinstance(failure, StreamInterrupted) and failure.reason == expected


@pytest.mark.parametrize("api", APIS)
def test_status_errors_carry_the_servers_retry_after(
    scripted_server: ScriptedServer, fake_sleep: RecordingSleep, api: str
) -> None:
    scripted_server.enqueue(Reply(status=429, headers={"retry-after": "120"}))
    notices, failure = run(api, scripted_server.base_url, fake_sleep)
    assert notices == []  # longer than max_wait (60 s): not waited for
    assert isinstance(failure, RateLimited)
    assert (failure.reason, failure.retryable, failure.retry_delay) == ("rate limited (429)", True, 120.0)
    assert failure.message.endswith("The server asked to wait 120 s.")
    assert str(failure) == failure.message


@pytest.mark.parametrize("api", APIS)
def test_x_should_retry_false_is_honoured(
    scripted_server: ScriptedServer, fake_sleep: RecordingSleep, api: str
) -> None:
    scripted_server.enqueue(Reply(status=529, headers={"x-should-retry": "false"}))
    notices, failure = run(api, scripted_server.base_url, fake_sleep)
    assert notices == []
    assert isinstance(failure, Overloaded) and failure.retryable is False


@pytest.mark.parametrize("api", APIS)
def test_no_answer_within_the_read_timeout_is_timed_out(
    scripted_server: ScriptedServer, fake_sleep: RecordingSleep, api: str
) -> None:
    scripted_server.enqueue(Reply(delay_first_byte=1.0))
    notices, failure = run(api, scripted_server.base_url, fake_sleep, max_retries=0, read_timeout=0.2)
    assert isinstance(failure, ConnectionFailed)
    assert failure.reason == f"timed out ({scripted_server.base_url})"
    assert "did not answer within 0.2 s" in failure.message
