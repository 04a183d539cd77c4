"""Model output is untrusted: no escape sequence in a reply reaches the terminal.

A catalogue of payloads seen in advisories (clipboard write, window title,
disguised links, screen clears, cursor moves, full reset, status queries,
multiplexer passthrough, unterminated strings, 8-bit C1 forms) is sent
through the real `chinwag`, each payload split at every position across two
chunks. Ordinary multilingual text must come through byte for byte.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chinwag.render.sanitize import StreamSanitizer, sanitize
from tests.cli_helpers import anthropic_env, finish, run_chinwag, spawn_chinwag
from tests.fakes.reply import Reply
from tests.fakes.server import ScriptedServer

PAYLOADS = {
    "clipboard write (OSC 52)": "\x1b]52;c;ZWNobyBwd25lZA==\x07",
    "window title (OSC 0)": "\x1b]0;you have been pwned\x1b\\",
    "disguised link (OSC 8)": "\x1b]8;;https://evil.example/\x07safe.example\x1b]8;;\x07",
    "clear screen + home": "\x1b[2J\x1b[H",
    "cursor up and erase": "\x1b[5A\x1b[2K",
    "full reset (RIS)": "\x1bc",
    "device status query": "\x1b[6n\x1b[c",
    "hidden text (SGR 8)": "\x1b[8msecret\x1b[28m",
    "tmux passthrough": "\x1bPtmux;\x1b\x1b]52;c;aGk=\x07\x1b\\",
    "unterminated OSC": "\x1b]2;never ends",
    "8-bit CSI (C1)": "\x9b2J\x9b31m",
    "8-bit OSC (C1)": "\x9d0;title\x9c",
    "bell, backspace, carriage return": "\x07\x08\x08\rover",
    "alternate screen": "\x1b[?1049h",
}
MULTILINGUAL = "Héllo wörld — 日本語のテキスト, עברית, العربية, emoji 🙂👍🏽, math ∑∫, tab\tend"
# What chinwag itself may write around a reply on a terminal: spinner, dim stats, erase to end of line.
OWN_SEQUENCES = re.compile(r"\x1b\[(?:2m|0m|K)")
# ...and, rendering markdown, colours (never SGR 8, hidden), cursor up, erase line/below, synchronized output.
RENDERER_SEQUENCES = re.compile(r"\x1b\[(?![0-9;]*\b8\b)[0-9;]*m|\x1b\[\d*A|\x1b\[[0-2]?[JK]|\x1b\[\?2026[hl]|\r")


def _split_everywhere(payload: str) -> list[str]:
    chunks = []
    for cut in range(len(payload) + 1):
        chunks += [f"<{cut}>" + payload[:cut], payload[cut:] + "|"]
    return chunks


@pytest.mark.parametrize("render", ["plain", "markdown"])
@pytest.mark.parametrize("name", list(PAYLOADS))
def test_no_payload_reaches_the_terminal_whatever_the_chunking(name: str, render: str, scripted_server: ScriptedServer,
                                                              tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=_split_everywhere(PAYLOADS[name]) + ["END"]))
    child = spawn_chinwag(["--render", render], anthropic_env(tmp_path, scripted_server.base_url))
    child.expect("You: ")
    child.sendline("hi")
    child.expect("END")
    shown = child.before.rsplit("\rClaude: ", 1)[-1]  # after the spinner's last frame
    child.expect("You: ")
    child.sendline("quit")
    assert finish(child) == 0
    allowed = OWN_SEQUENCES if render == "plain" else RENDERER_SEQUENCES
    leftover = allowed.sub("", shown)
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", leftover.replace("\r\n", "\n")), repr(leftover)
    unwrapped = leftover.replace("\r", "").replace("\n", "")  # markdown wraps long lines
    for cut in range(len(PAYLOADS[name]) + 1):
        assert f"<{cut}>" in unwrapped  # the text around each payload still shows


@pytest.mark.parametrize("name", list(PAYLOADS))
def test_piped_output_carries_no_control_bytes(name: str, scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=_split_everywhere(PAYLOADS[name])))
    result = run_chinwag(["hi"], anthropic_env(tmp_path, scripted_server.base_url))
    assert result.returncode == 0
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", result.stdout)


def test_multilingual_text_passes_byte_for_byte(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    chunks = [MULTILINGUAL[i:i + 3] for i in range(0, len(MULTILINGUAL), 3)]
    scripted_server.enqueue(Reply(chunks=chunks, fragment=5))  # UTF-8 split across HTTP chunks too
    result = run_chinwag(["hi"], anthropic_env(tmp_path, scripted_server.base_url))
    assert result.stdout == MULTILINGUAL + "\n"


def test_history_keeps_the_raw_text_and_shows_it_sanitized(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=["a\x1b]0;title\x07b"]))
    env = anthropic_env(tmp_path, scripted_server.base_url)
    assert run_chinwag(["hi"], env).returncode == 0
    shown = run_chinwag(["history", "show", "last"], env).stdout
    assert "ab" in shown and "\x1b" not in shown
    exported = run_chinwag(["history", "export", "last", "--format", "json"], env).stdout
    assert "\\u001b]0;title\\u0007b" in exported


@pytest.mark.parametrize("payload", list(PAYLOADS.values()))
def test_stream_sanitizer_agrees_with_whole_text_sanitizing(payload: str) -> None:
    whole = sanitize("x" + payload + "y")
    for cut in range(len(payload) + 2):
        text = "x" + payload + "y"
        stream = StreamSanitizer()
        assert stream.feed(text[:cut]) + stream.feed(text[cut:]) + stream.flush() == whole
