"""Turns over the page's API, without a browser: the terminal's turn logic and
its refusals, one turn at a time per conversation, Stop closing the upstream
connection, and an OpenAI-compatible server (which cannot resume a reply)."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_helpers import chinwag_env
from tests.fakes.server import Reply, ScriptedServer
from tests.test_web_support import Served, serve


@pytest.fixture()
def fake() -> Iterator[ScriptedServer]:
    with ScriptedServer(models=["llama3.2"]) as server:
        yield server


@pytest.fixture()
def served(tmp_path: Path, fake: ScriptedServer) -> Iterator[Served]:
    env = chinwag_env(tmp_path, OPENAI_BASE_URL=f"{fake.base_url}/v1", OPENAI_API_KEY="sk-openai-test-key")
    with serve(env) as served:
        yield served


def events(body: bytes) -> list[dict[str, object]]:
    return [json.loads(line[6:]) for line in body.decode().splitlines() if line.startswith("data: ")]


def posts(fake: ScriptedServer) -> list[object]:
    return [r for r in fake.requests if r.method == "POST"]


def post(served: Served, path: str, **fields: object) -> tuple[int, list[dict[str, object]], bytes]:
    status, _, body = served.request("POST", path, body=json.dumps(fields).encode())
    return status, events(body) if status == 200 else [], body


def test_a_new_chat_streams_and_is_saved_with_an_openai_compatible_server(served: Served, fake: ScriptedServer) -> None:
    fake.enqueue(Reply(chunks=["Hello ", "from ", "llama."]))
    status, evs, _ = post(served, "/api/chat", text="hi")
    assert status == 200
    assert evs[0] == {"t": "conversation", "id": 1}
    assert evs[-1]["t"] == "end" and evs[-1]["status"] == "complete"
    assert "<p>Hello from llama.</p>" in "".join(str(e.get("html", "")) for e in evs)
    assert fake.requests[-1].path.endswith("/chat/completions")
    _, _, listing = served.request("GET", "/api/conversations")
    assert json.loads(listing)["conversations"][0]["title"] == "hi"


def test_continue_is_refused_as_in_the_terminal_and_retry_asks_again(served: Served, fake: ScriptedServer) -> None:
    fake.enqueue(Reply(chunks=["Cut ", "off"], drop_after=1))
    status, evs, _ = post(served, "/api/chat", text="tell me")
    assert evs[-1]["status"] == "interrupted"
    status, _, body = post(served, "/api/conversations/1/continue")
    assert status == 400
    assert json.loads(body)["error"].startswith("openai cannot resume a reply (")
    fake.enqueue(Reply(chunks=["Whole answer."]))
    status, evs, _ = post(served, "/api/conversations/1/retry")
    assert status == 200 and evs[-1]["status"] == "complete"
    assert fake.requests[-1].json["messages"][-1] == {"role": "user", "content": "tell me"}


def test_one_turn_at_a_time_per_conversation_and_stop_closes_the_upstream_connection(
        served: Served, fake: ScriptedServer) -> None:
    fake.enqueue(Reply(chunks=["First."]))
    post(served, "/api/chat", text="one")
    held = Reply(chunks=["Partial", " rest"], hold_after=1)
    fake.enqueue(held)
    result: dict[str, object] = {}
    thread = threading.Thread(target=lambda: result.update(
        zip(("status", "events", "body"), post(served, "/api/conversations/1/send", text="two"))))
    thread.start()
    deadline = time.monotonic() + 5
    while len(posts(fake)) < 2 or not fake.requests[-1].text_sent_at:
        assert time.monotonic() < deadline, "the second turn never reached the server"
        time.sleep(0.01)
    status, _, body = post(served, "/api/conversations/1/send", text="three")
    assert status == 409 and "streaming" in json.loads(body)["error"]
    status, _, following = served.request("GET", "/api/conversations/1")
    assert json.loads(following)["live"] is True
    started = time.monotonic()
    status, _, body = post(served, "/api/conversations/1/stop")
    assert status == 200 and json.loads(body) == {"stopped": True}
    assert fake.wait_closed(1, timeout=2)
    assert time.monotonic() - started < 1.0  # at once, not after ORPHAN_GRACE; bench_web measures it
    thread.join(5)
    end = result["events"][-1]  # type: ignore[index]
    assert end["status"] == "stopped"
    assert len(posts(fake)) == 2  # nothing was sent for the refused turn


def test_refusals_are_one_line(served: Served) -> None:
    status, _, body = post(served, "/api/conversations/7/send", text="hi")
    assert status == 400 and json.loads(body)["error"] == "no conversation 7; it may have been deleted."
    status, _, body = post(served, "/api/chat", text="   ")
    assert status == 400 and json.loads(body)["error"] == "type a message first."
    status, _, body = served.request("POST", "/api/chat", body=b"not json")
    assert status == 400
    assert post(served, "/api/conversations/1/stop")[0] == 200


def test_ctrl_c_stops_streaming_replies_and_exits_cleanly(served: Served, fake: ScriptedServer) -> None:
    fake.enqueue(Reply(chunks=["Half", " never"], hold_after=1))
    result: dict[str, object] = {}
    thread = threading.Thread(target=lambda: result.update(
        zip(("status", "events", "body"), post(served, "/api/chat", text="long"))))
    thread.start()
    deadline = time.monotonic() + 5
    while not (posts(fake) and fake.requests[-1].text_sent_at):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    started = time.monotonic()
    served.process.send_signal(signal.SIGINT)
    assert served.process.wait(5) == 130
    assert time.monotonic() - started < 3
    thread.join(5)
    assert result["events"][-1]["status"] == "stopped"  # type: ignore[index]
    assert fake.wait_closed(1, timeout=1)
    assert served.process.stderr is not None
    assert "Traceback" not in served.process.stderr.read().decode()


def test_the_bundled_model_chats_offline(tmp_path: Path) -> None:
    with serve(chinwag_env(tmp_path)) as served:  # no key, no base URL: the bundled model
        _, _, body = served.request("GET", "/api/models")
        assert json.loads(body)["models"] == [{"spec": "local", "label": "bundled model (SmolLM2-135M, offline)",
                                               "group": "On this machine"}]
        assert json.loads(body)["default"] == "local"
        status, evs, _ = post(served, "/api/chat", text="Say hello in five words.", model="local")
        assert status == 200
        assert evs[-1]["t"] == "end" and evs[-1]["status"] == "complete", evs[-1]
        assert any(e["t"] in ("live", "commit") and e["html"] for e in evs)


def test_stop_during_a_retry_back_off_sends_nothing_more(served: Served, fake: ScriptedServer) -> None:
    fake.enqueue(Reply(status=529, headers={"retry-after": "1"}), Reply(chunks=["never asked for"]))
    result: dict[str, object] = {}
    thread = threading.Thread(target=lambda: result.update(
        zip(("status", "events", "body"), post(served, "/api/chat", text="busy server"))))
    thread.start()
    deadline = time.monotonic() + 5
    while not posts(fake):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(0.3)  # the turn is waiting out the server's retry-after
    deadline = time.monotonic() + 5
    while post(served, "/api/conversations/1/stop")[2] != b'{"stopped":true}':
        assert time.monotonic() < deadline
        time.sleep(0.05)
    thread.join(5)
    evs = result["events"]
    assert evs[-1]["status"] == "stopped"  # type: ignore[index]
    assert any(e["t"] == "notice" and "retrying in 1 s" in e["text"] for e in evs)  # type: ignore[attr-defined]
    time.sleep(1.2)
    assert len(posts(fake)) == 1


def test_rename_and_delete_over_the_api(served: Served, fake: ScriptedServer) -> None:
    fake.enqueue(Reply(chunks=["Hi."]))
    post(served, "/api/chat", text="first words")
    status, _, body = post(served, "/api/conversations/1/rename", title="  A  new\n name ")
    assert status == 200 and json.loads(body) == {"renamed": True}
    _, _, listing = served.request("GET", "/api/conversations")
    assert json.loads(listing)["conversations"][0]["title"] == "A new name"  # one line
    assert post(served, "/api/conversations/1/rename", title=5)[0] == 400
    assert post(served, "/api/conversations/99/rename", title="x")[0] == 404
    assert post(served, "/api/conversations/99/delete")[0] == 404

    held = Reply(chunks=["Streaming", " on"], hold_after=1)
    fake.enqueue(held)
    thread = threading.Thread(target=post, args=(served, "/api/conversations/1/send"), kwargs={"text": "more"})
    thread.start()
    deadline = time.monotonic() + 5
    while len(posts(fake)) < 2 or not fake.requests[-1].text_sent_at:
        assert time.monotonic() < deadline, "the second turn never reached the server"
        time.sleep(0.01)
    status, _, body = post(served, "/api/conversations/1/delete")
    assert status == 409 and "stop it first" in json.loads(body)["error"]
    post(served, "/api/conversations/1/stop")
    thread.join(5)
    status, _, body = post(served, "/api/conversations/1/delete")
    assert status == 200 and json.loads(body) == {"deleted": True}
    assert served.request("GET", "/api/conversations/1")[0] == 404


def test_the_model_list_asks_no_server_until_the_picker_is_reached_for(served: Served, fake: ScriptedServer) -> None:
    _, _, body = served.request("GET", "/api/models")
    first = json.loads(body)
    assert first["complete"] is False and "openai:llama3.2" not in [m["spec"] for m in first["models"]]
    assert not [r for r in fake.requests if r.path.endswith("/models")]
    _, _, body = served.request("GET", "/api/models?wait=1")
    listed = json.loads(body)
    assert listed["complete"] is True
    assert {"spec": "openai:llama3.2", "label": "llama3.2 · OpenAI-compatible", "group": "OpenAI-compatible"} \
        in listed["models"]
    served.request("GET", "/api/models?wait=1")
    assert len([r for r in fake.requests if r.path.endswith("/models")]) == 1  # kept, not asked again
