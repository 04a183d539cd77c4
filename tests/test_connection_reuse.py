"""Turns share one kept-alive connection, as the official SDKs' clients do.

A reply that ends normally leaves its connection open for the next turn, so
turn two pays no new TCP + TLS handshake. A reply stopped early (the consumer
closes the event generator, as Ctrl-C does), dropped, or ended by an error
event closes its connection: the server sees the close, and the next turn
opens a new one. Ctrl-C landing inside the provider closes the whole client. A server that closes idle connections never makes a turn
fail, and `close()` (called at exit) closes what is kept. Real HTTP against
the scripted server on 127.0.0.1, which counts the connections it accepts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from chinwag.errors import StreamInterrupted
from chinwag.events import Event, Retrying, Stop, TextDelta, Usage
from chinwag.records import ChatRequest, Message
from tests.fakes.server import Reply, ScriptedServer
from tests.fakes.sleep import RecordingSleep
from tests.http_providers import APIS, HELLO, HttpProvider, collect, http_provider

Make = Callable[..., HttpProvider]


@pytest.fixture
def make(fake_sleep: RecordingSleep) -> Iterator[Make]:
    """Build providers for a test (retries recorded, not waited); closed afterwards."""
    made: list[HttpProvider] = []

    def build(api: str, server: ScriptedServer, **http: object) -> HttpProvider:
        http.setdefault("sleep", fake_sleep)  # unless the test brings its own
        provider = http_provider(api, server.base_url, **http)
        made.append(provider)
        return provider

    yield build
    for provider in made:
        provider.close()


def ask(provider: HttpProvider, stream: bool = True) -> Iterator[Event]:
    model = "claude-sonnet-4-20250514" if provider.name == "anthropic" else "gpt-4o-mini"
    return provider.stream(ChatRequest(model=model, messages=(Message("user", "Hi"),), max_tokens=50, stream=stream))


def turn(provider: HttpProvider, server: ScriptedServer, reply: Reply | None = None) -> list[Event]:
    server.enqueue(reply or Reply(chunks=["Hel", "lo"]))
    return list(ask(provider))


def settles(condition: Callable[[], bool], timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


# -- a normal end keeps the connection ------------------------------------------


@pytest.mark.parametrize("api", APIS)
def test_four_normal_turns_use_one_connection(scripted_server: ScriptedServer, make: Make, api: str) -> None:
    provider = make(api, scripted_server)
    for _ in range(4):
        assert turn(provider, scripted_server) == HELLO
    assert len(scripted_server.requests) == 4
    assert scripted_server.connections == 1
    assert not scripted_server.wait_closed(1, timeout=0.2)  # still open, for turn five


@pytest.mark.parametrize("api", APIS)
def test_whole_replies_without_streaming_use_one_connection(
    scripted_server: ScriptedServer, make: Make, api: str
) -> None:
    provider = make(api, scripted_server)
    for _ in range(3):
        scripted_server.enqueue(Reply(chunks=["Hel", "lo"]))
        assert list(ask(provider, stream=False)) == [TextDelta("Hello"), Usage(12, 2), Stop("end_turn")]
    assert scripted_server.connections == 1


@pytest.mark.parametrize("api", APIS)
def test_model_listing_and_turns_share_the_connection(scripted_server: ScriptedServer, make: Make, api: str) -> None:
    provider = make(api, scripted_server)
    assert provider.list_models() == scripted_server.models
    assert turn(provider, scripted_server) == HELLO
    assert provider.list_models() == scripted_server.models
    assert scripted_server.connections == 1


def test_openai_default_model_lookup_and_the_turn_share_the_connection(
    scripted_server: ScriptedServer, make: Make
) -> None:
    provider = make("openai", scripted_server)
    scripted_server.enqueue(Reply(chunks=["Hel", "lo"]))
    request = ChatRequest(model="", messages=(Message("user", "Hi"),), max_tokens=50)
    assert list(provider.stream(request)) == HELLO
    assert [r.method for r in scripted_server.requests] == ["GET", "POST"]
    assert scripted_server.connections == 1


@pytest.mark.parametrize("api", APIS)
def test_a_retry_after_an_error_status_reuses_the_connection(
    scripted_server: ScriptedServer, make: Make, fake_sleep: RecordingSleep, api: str
) -> None:
    # The error body is read whole, so the connection is clean for the next attempt.
    scripted_server.enqueue(Reply(status=529), Reply(chunks=["Hel", "lo"]))
    events = list(ask(make(api, scripted_server)))
    assert events[1:] == HELLO and isinstance(events[0], Retrying)
    assert scripted_server.connections == 1


# -- any other end closes it, and the next turn opens a new one -----------------


@pytest.mark.parametrize("api", APIS)
def test_turn_stopped_early_closes_its_connection_and_the_next_turn_opens_a_new_one(
    scripted_server: ScriptedServer, make: Make, api: str
) -> None:
    provider = make(api, scripted_server)
    assert turn(provider, scripted_server) == HELLO
    # The server holds the rest back, so the close can only come from the client.
    scripted_server.enqueue(Reply(chunks=["Hel", "lo", "!"], hold_after=1))
    events = ask(provider)
    assert next(events) == TextDelta("Hel")
    events.close()  # type: ignore[attr-defined]  # what run_turn does on Ctrl-C
    assert scripted_server.wait_closed(1, timeout=2)
    assert turn(provider, scripted_server) == HELLO
    assert scripted_server.connections == 2
    assert scripted_server.closed_connections == 1


@pytest.mark.parametrize("api", APIS)
def test_turn_stopped_by_an_exception_in_the_consumer_closes_its_connection(
    scripted_server: ScriptedServer, make: Make, api: str
) -> None:
    provider = make(api, scripted_server)
    scripted_server.enqueue(Reply(chunks=["Hel", "lo", "!"], hold_after=1))
    with pytest.raises(KeyboardInterrupt):
        for event in ask(provider):
            raise KeyboardInterrupt  # Ctrl-C while the first text is drawn
    assert scripted_server.wait_closed(1, timeout=2)
    assert turn(provider, scripted_server) == HELLO
    assert scripted_server.connections == 2


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize(
    "fault", [{"drop_after": 1}, {"error_after": 1}, {"malformed_after": 1}],
    ids=["dropped", "error-event", "malformed-json"],
)
def test_after_a_failed_turn_the_next_turn_works_on_a_new_connection(
    scripted_server: ScriptedServer, make: Make, api: str, fault: dict[str, object]
) -> None:
    provider = make(api, scripted_server)
    assert turn(provider, scripted_server) == HELLO
    scripted_server.enqueue(Reply(chunks=["Hel", "lo"], **fault))  # type: ignore[arg-type]
    events, error = collect(ask(provider))
    assert isinstance(error, StreamInterrupted)
    if "drop_after" not in fault:  # the server did not close it itself: the client must
        assert scripted_server.wait_closed(1, timeout=2)
    assert turn(provider, scripted_server) == HELLO
    assert scripted_server.connections == 2


@pytest.mark.parametrize("api", APIS)
def test_ctrl_c_inside_the_provider_closes_every_connection_and_the_next_turn_starts_afresh(
    scripted_server: ScriptedServer, make: Make, api: str
) -> None:
    # Ctrl-C can land anywhere, httpcore's bookkeeping included; here it lands
    # in the retry wait. Nothing the client holds is trusted afterwards.
    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    provider = make(api, scripted_server, sleep=interrupted)
    assert turn(provider, scripted_server) == HELLO
    with pytest.raises(KeyboardInterrupt):
        turn(provider, scripted_server, Reply(status=529))
    assert scripted_server.wait_closed(1, timeout=2)
    assert turn(provider, scripted_server) == HELLO
    assert scripted_server.connections == 2


# -- connections the server closed while idle ---------------------------------


@pytest.mark.parametrize("api", APIS)
def test_server_closing_idle_connections_does_not_fail_the_next_turn(
    make: Make, fake_sleep: RecordingSleep, api: str
) -> None:
    with ScriptedServer(idle_timeout=0.1) as server:
        provider = make(api, server)
        for n in range(1, 4):
            assert turn(provider, server) == HELLO  # no Retrying: nothing failed
            assert settles(lambda: server.idle_closes == n)
        assert fake_sleep.delays == []
        assert server.connections == 3


@pytest.mark.parametrize("api", APIS)
def test_kept_connection_closed_as_the_request_arrives_is_retried_silently_on_a_new_one(
    scripted_server: ScriptedServer, make: Make, fake_sleep: RecordingSleep, api: str
) -> None:
    # The race a keep-alive timer can win: the request goes out on a connection
    # the server closes without answering. Nothing was processed; send it again.
    provider = make(api, scripted_server)
    assert turn(provider, scripted_server) == HELLO
    scripted_server.enqueue(Reply(hang_up=True))
    assert turn(provider, scripted_server) == HELLO
    assert fake_sleep.delays == []
    assert len(scripted_server.requests) == 3
    assert scripted_server.connections == 2


@pytest.mark.parametrize("api", APIS)
def test_new_connection_closed_without_an_answer_follows_the_retry_policy(
    scripted_server: ScriptedServer, make: Make, fake_sleep: RecordingSleep, api: str
) -> None:
    # Only a reused connection is retried silently: a fresh one that fails is the server's fault.
    scripted_server.enqueue(Reply(hang_up=True))
    events = turn(make(api, scripted_server), scripted_server)
    assert [(e.attempt, e.delay) for e in events if isinstance(e, Retrying)] == [(2, 0.5)]
    assert isinstance(events[0], Retrying) and events[0].reason.startswith("connection closed")
    assert events[1:] == HELLO
    assert fake_sleep.delays == [0.5]


# -- close() and threads ---------------------------------------------------------


@pytest.mark.parametrize("api", APIS)
def test_close_closes_the_kept_connection(scripted_server: ScriptedServer, make: Make, api: str) -> None:
    provider = make(api, scripted_server)
    assert turn(provider, scripted_server) == HELLO
    assert not scripted_server.wait_closed(1, timeout=0.1)
    provider.close()
    assert scripted_server.wait_closed(1, timeout=2)
    provider.close()  # twice is harmless


@pytest.mark.parametrize("api", APIS)
def test_close_before_any_request_opens_nothing(scripted_server: ScriptedServer, make: Make, api: str) -> None:
    make(api, scripted_server).close()
    assert scripted_server.connections == 0


@pytest.mark.parametrize("api", APIS)
def test_warm_up_in_other_threads_then_turns_in_this_one_share_one_client(
    scripted_server: ScriptedServer, make: Make, api: str
) -> None:
    provider = make(api, scripted_server)
    start = threading.Barrier(5)

    def warm_up() -> None:
        start.wait()
        provider.warm_up()

    threads = [threading.Thread(target=warm_up) for _ in range(4)]
    for thread in threads:
        thread.start()
    start.wait()
    assert turn(provider, scripted_server) == HELLO  # races the warm-ups for the client
    for thread in threads:
        thread.join()
    assert turn(provider, scripted_server) == HELLO
    assert scripted_server.connections == 1
    url = provider.base_url
    assert provider.http.client(url) is provider.http.client(url)
