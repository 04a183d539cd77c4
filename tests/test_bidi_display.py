"""Bidi controls (U+202A-U+202E, U+2066-U+2069, U+200E, U+200F, U+061C) in
what chinwag displays in a terminal are shown as what they are ("<U+202E>"),
so none can reorder the text after it: model text, tool output, file names
and titles. History and --json keep the text as it came. The installed
`chinwag` in a pseudo-terminal against the scripted server, its output
replayed through pyte.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli_helpers import anthropic_env, run_chinwag
from tests.fakes.server import Reply, ScriptedServer
from tests.fakes.tool_wire import anthropic_calls
from tests.test_consent_question import Terminal

RLO = "\u202e"
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"


def test_bidi_controls_are_shown_in_the_chat_and_kept_in_history(tmp_path: Path, server: ScriptedServer) -> None:
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    (work / f"report{RLO}fdp.exe").write_text("quarterly figures\n")
    server.enqueue(anthropic_calls([("toolu_1", "read_file", {"path": f"missing{RLO}txt.exe"})]),
                   Reply(chunks=[f"[Sign in to your account{RLO}](https://moc.elgoog.ly/login) all ", BIDI, " end"]))
    env = anthropic_env(home, server.base_url)
    term = Terminal(env, work, ["-T", "read_file"], columns=120)
    term.expect("You: ")
    term.say(f"sign me in {RLO}moc.elgoog")
    term.expect("tok")  # the stats line: the reply is whole
    term.settle(0.2)
    screen = " ".join(term.text().split())  # the markdown renderer wraps at word boundaries
    assert not any(c in screen for c in BIDI), screen
    assert "Sign in to your account<U+202E>" in screen
    assert "all <U+202A><U+202B><U+202C><U+202D><U+202E><U+2066><U+2067><U+2068><U+2069><U+200E><U+200F><U+061C> end" in screen
    assert "missing<U+202E>txt.exe" in screen  # the call line and the error's summary
    term.quit()

    listed = run_chinwag(["history", "list"], env)
    assert "sign me in <U+202E>moc.elgoog" in listed.stdout and RLO not in listed.stdout
    raw = run_chinwag(["history", "show", "last", "--json"], env)
    assert f"[Sign in to your account{RLO}](https://moc.elgoog.ly/login)" in raw.stdout.encode().decode("unicode_escape")


def test_json_output_keeps_bidi_controls_as_they_came(tmp_path: Path, server: ScriptedServer) -> None:
    server.enqueue(Reply(chunks=[f"a{RLO}b"]))
    out = run_chinwag(["--json", "hi"], anthropic_env(tmp_path / "home", server.base_url))
    texts = [json.loads(line).get("text") for line in out.stdout.splitlines()]
    assert f"a{RLO}b" in "".join(t for t in texts if t)


def test_plain_output_to_a_file_shows_them(tmp_path: Path, server: ScriptedServer) -> None:
    server.enqueue(Reply(chunks=[f"a{RLO}b"]))
    out = run_chinwag(["hi"], anthropic_env(tmp_path / "home", server.base_url))
    assert out.stdout == "a<U+202E>b\n"


def test_every_bidi_control_is_shown_by_code_point_however_the_stream_is_split() -> None:
    from chinwag.render.sanitize import StreamSanitizer, neutralise_bidi, sanitize

    text = "a" + "b".join(BIDI) + "c"
    expected = "a" + "b".join(f"<U+{ord(c):04X}>" for c in BIDI) + "c"
    assert sanitize(text) == neutralise_bidi(text) == expected
    stream = StreamSanitizer()
    assert "".join(stream.feed(c) for c in text) + stream.flush() == expected
    assert sanitize("שלום עולם مرحبا") == "שלום עולם مرحبا"  # right-to-left letters pass as they are
