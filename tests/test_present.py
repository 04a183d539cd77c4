"""The transcript model (chinwag/present.py) that history show/export, /save
and the page's conversation view all render: built from saved messages in
memory, no store or server (those surfaces have their own tests)."""

from __future__ import annotations

from chinwag import present
from chinwag.present import AttachmentPart, TextPart, ThinkingPart, ToolCallPart, ToolResultPart
from chinwag.records import Image, Message, Text, Thinking, ToolCall, ToolResult

LS = ToolCall("c1", "shell", {"command": "ls"})
RM = ToolCall("c2", "shell", {"command": "rm x"})
REPLY = Message("assistant", "Looking.", (Thinking("hmm"), Text("Looking."), Text(""), LS, RM))
RESULTS = Message("user", "", (ToolResult("c1", "a.txt\nb.txt", "ok"),))


def test_a_reply_becomes_parts_in_order_with_each_calls_saved_result_or_lost() -> None:
    results = present.saved_results([REPLY, RESULTS])
    parts = present.transcript(REPLY, results)
    assert parts == (ThinkingPart("hmm"), TextPart("Looking."),
                     ToolCallPart(LS, ToolResult("c1", "a.txt\nb.txt", "ok")), ToolCallPart(RM, None, lost=True))
    assert parts[3].answer == present.lost_result(RM)
    assert present.transcript(RESULTS) == (ToolResultPart(ToolResult("c1", "a.txt\nb.txt", "ok")),)


def test_without_results_no_call_is_called_lost() -> None:
    """/save has the live conversation, not the saved results: it claims nothing."""
    assert [p for p in present.transcript(REPLY) if isinstance(p, ToolCallPart)] == [ToolCallPart(LS), ToolCallPart(RM)]


def test_markdown_names_calls_and_results_as_the_terminal_does() -> None:
    results = present.saved_results([REPLY, RESULTS])
    text = present.markdown(REPLY, results)
    assert text.startswith("> *thinking: hmm*\n\nLooking.\n\n")
    assert '`⚙ shell(command="ls")`' in text
    assert '`⚙ shell(command="rm x")`\n\n`↳ interrupted · interrupted: chinwag stopped' in text
    assert present.markdown(RESULTS) == "`↳ ok · a.txt`"


def test_lines_are_sanitized_where_they_are_shown() -> None:
    """Parts keep the saved text; the one-line forms strip what a terminal would obey."""
    evil = ToolCall("c3", "sh\x1b]0;pwned\x07ell", {"x": "\x1b[2J"})
    image = Image("image/png", b"", name="a\x1b[31m.png")
    [call] = present.transcript(Message("assistant", "", (evil,)))
    [attachment] = present.transcript(Message("user", "", (image,)))
    assert isinstance(call, ToolCallPart) and isinstance(attachment, AttachmentPart)
    for line in present.one_liners(call) + present.one_liners(attachment):
        assert "\x1b" not in line and "\x07" not in line
    assert present.one_liners(call)[0].startswith("⚙ sh")
