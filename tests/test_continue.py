"""/continue wherever the model side can do it: the bundled model (we render
the whole prompt), Anthropic (prefill), llama.cpp's server and vLLM (each in
its own way), and the honest refusal everywhere else. A reply cut by
max_tokens is continued like an interrupted one."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chinwag import Chat
from chinwag.errors import UsageError
from tests.cli_helpers import chinwag_env, leave_chat, start_chat
from tests.fakes.server import Reply, ScriptedServer


def _openai(server: ScriptedServer, tmp_path: Path, prefill: str | None = None) -> Chat:
    env = {"CHINWAG_HOME": str(tmp_path)}
    if prefill is not None:
        env["OPENAI_PREFILL"] = prefill
    return Chat("served-model", base_url=server.base_url + "/v1", save=False, environ=env)


CONTINUATION = """
import json, sys
from llama_cpp import Llama
from chinwag.providers.local import bundled_model_path
from chinwag.providers.runner import continuation
llama = Llama(model_path=str(bundled_model_path()), vocab_only=True, verbose=False)
messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Tell a story."},
            {"role": "assistant", "content": "Once upon a time, a keeper"}]
print(json.dumps(continuation(llama, messages)))
"""


def test_the_continuation_prompt_ends_with_the_partial_text_and_no_end_of_turn() -> None:
    # In a child, as the runner does: this process never loads llama.cpp (test_local_model checks).
    out = subprocess.run([sys.executable, "-c", CONTINUATION], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    prompt, stop = json.loads(out.stdout)
    assert prompt.endswith("<|im_start|>assistant\nOnce upon a time, a keeper")  # the assistant's opening, then the text
    assert prompt.count("<|im_end|>") == 2  # system and user turns closed; the assistant's left open
    assert "<|im_end|>" in stop


def test_the_bundled_model_continues_a_reply_cut_by_max_tokens(tmp_path: Path) -> None:
    with Chat("local", save=False, max_tokens=12, temperature=0, environ={"CHINWAG_HOME": str(tmp_path)}) as chat:
        first = chat.ask("Write a long story about a lighthouse keeper.")
        assert first.stop_reason == "max_tokens" and first.text
        started = time.monotonic()
        whole = chat.continue_reply()
        took = time.monotonic() - started
        assert whole.text.startswith(first.text) and len(whole.text) > len(first.text)
        assert [m.role for m in chat.messages] == ["user", "assistant"]  # one message, partial + continuation
        assert chat.messages[-1].content == whole.text
    # llama.cpp reused the evaluated prefix: continuing costs about the new tokens, not the prompt again
    assert took < 10, took


def test_ctrl_c_then_continue_on_the_bundled_model_in_the_chat(tmp_path: Path) -> None:
    child = start_chat(chinwag_env(tmp_path), ["--max-tokens", "200", "--temperature", "0"])
    child.sendline("Write a long story about a lighthouse keeper.")
    child.expect("Assistant: ")
    child.expect(r"\w+ \w+ \w+")  # a few words in
    child.sendintr()
    child.expect("stopped")
    child.sendline("/continue")
    child.expect("first token", timeout=60)  # the continued reply ended normally (stats line)
    leave_chat(child)


@pytest.mark.parametrize(("owned_by", "setting", "extra"), [
    ("llamacpp", None, {}),  # detected: llama-server prefills a trailing assistant message
    ("vllm", None, {"continue_final_message": True, "add_generation_prompt": False}),
    ("scripted", "trailing-assistant", {}),  # said so in the settings
    ("scripted", "vllm", {"continue_final_message": True, "add_generation_prompt": False}),
])
def test_servers_that_can_prefill_get_the_partial_as_the_last_message(
        scripted_server: ScriptedServer, tmp_path: Path, owned_by: str, setting: str | None,
        extra: dict[str, bool]) -> None:
    scripted_server.owned_by = owned_by
    scripted_server.enqueue(Reply(chunks=["Once upon ", "a time"], stop_reason="max_tokens"),
                            Reply(chunks=[", there was a keeper."]))
    with _openai(scripted_server, tmp_path, setting) as chat:
        chat.ask("Tell a story.")
        whole = chat.continue_reply()
    assert whole.text == "Once upon a time, there was a keeper."
    sent = scripted_server.requests[-1].json
    assert sent["messages"][-1] == {"role": "assistant", "content": "Once upon a time"}
    assert {k: sent[k] for k in extra} == extra
    assert "continue_final_message" in sent if extra else "continue_final_message" not in sent


@pytest.mark.parametrize("setting", [None, "none"])
def test_a_server_not_known_to_prefill_is_refused_before_anything_is_sent(
        scripted_server: ScriptedServer, tmp_path: Path, setting: str | None) -> None:
    scripted_server.enqueue(Reply(chunks=["Half"], stop_reason="max_tokens"))
    with _openai(scripted_server, tmp_path, setting) as chat:
        chat.ask("Tell a story.")
        posts = len([r for r in scripted_server.requests if r.method == "POST"])
        with pytest.raises(UsageError, match="cannot resume a reply"):
            chat.continue_reply()
    assert len([r for r in scripted_server.requests if r.method == "POST"]) == posts


def test_anthropic_continues_a_reply_cut_by_max_tokens(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=["The sea was ", "grey "], stop_reason="max_tokens"),
                            Reply(chunks=[" and cold."]))
    env = {"CHINWAG_HOME": str(tmp_path), "ANTHROPIC_API_KEY": "k", "ANTHROPIC_BASE_URL": scripted_server.base_url}
    with Chat(environ=env, save=False) as chat:
        chat.ask("Describe the sea.")
        whole = chat.continue_reply()
    assert whole.text == "The sea was grey and cold."
    assert scripted_server.requests[-1].json["messages"][-1] == {"role": "assistant", "content": "The sea was grey"}


def test_a_complete_reply_is_not_continued(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    env = {"CHINWAG_HOME": str(tmp_path), "ANTHROPIC_API_KEY": "k", "ANTHROPIC_BASE_URL": scripted_server.base_url}
    with Chat(environ=env, save=False) as chat:
        chat.ask("hi")
        with pytest.raises(UsageError, match="no interrupted reply"):
            chat.continue_reply()
