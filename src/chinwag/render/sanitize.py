"""Make untrusted model text safe to write to a terminal.

Two layers (see shared/RENDERING.md):

1. Safety, per character: every C0 control except newline and tab, DEL, and
   the 8-bit C1 controls (U+0080-U+009F) are deleted with one `str.translate`
   table. Without ESC, CSI or OSC introducers no sequence can run, however the
   text was split into chunks.
2. Cosmetics: complete escape sequences are removed whole first
   (`wcwidth.strip_sequences`), so leftovers like "[2J" do not show.
   `StreamSanitizer` holds back an escape sequence cut off at the end of a
   chunk until the next chunk completes it, so layer 2 works on streams too.

Printable Unicode (emoji, CJK, right-to-left text) passes byte for byte.
"""

from __future__ import annotations

_KEEP = {"\n", "\t"}
_CONTROLS = [chr(c) for c in range(0x20) if chr(c) not in _KEEP] + ["\x7f"]
_CONTROLS += [chr(c) for c in range(0x80, 0xA0)]
_SAFETY_TABLE = str.maketrans({c: None for c in _CONTROLS})

# 8-bit introducers spelled as their 7-bit equivalents, so layer 2 sees them.
_C1_AS_ESC = str.maketrans({"\x9b": "\x1b[", "\x9d": "\x1b]", "\x90": "\x1bP",
                            "\x9e": "\x1b^", "\x9f": "\x1b_", "\x98": "\x1bX"})

# An escape sequence longer than this is not held back any more: layer 1 alone
# makes it harmless, and we never delay text the user should see for long.
_MAX_HELD = 1024
_STRING_INTRODUCERS = "]P^_X"  # OSC, DCS, PM, APC, SOS: end with BEL or ESC \


def sanitize(text: str) -> str:
    """Return `text` with every terminal control sequence and control byte removed."""
    text = text.translate(_C1_AS_ESC)
    if "\x1b" in text:  # only then is there a sequence to remove whole (wcwidth costs ~20 ms to import)
        from wcwidth import strip_sequences

        text = strip_sequences(text)
    return text.translate(_SAFETY_TABLE)


def _unfinished_sequence_start(text: str) -> int | None:
    """Index of the earliest escape sequence near the end of `text` that is not complete yet."""
    window_start = max(0, len(text) - _MAX_HELD)
    start = text.find("\x1b", window_start)
    while start != -1:
        if not _is_complete(text, start):
            return start
        start = text.find("\x1b", start + 1)
    return None


def _is_complete(text: str, start: int) -> bool:
    body = text[start + 1:]
    if not body:
        return False
    kind = body[0]
    if kind == "[":  # CSI: parameters, then one final byte in @..~
        return any("@" <= ch <= "~" for ch in body[1:])
    if kind in _STRING_INTRODUCERS:
        return "\x07" in body or "\x1b\\" in body
    return True  # ESC plus one character is complete


class StreamSanitizer:
    """Sanitize a reply that arrives in chunks; see the module docstring."""

    def __init__(self) -> None:
        self._held = ""

    def feed(self, chunk: str) -> str:
        text = self._held + chunk.translate(_C1_AS_ESC)
        cut = _unfinished_sequence_start(text)
        if cut is None:
            self._held = ""
        else:
            text, self._held = text[:cut], text[cut:]
        return sanitize(text) if text else ""

    def flush(self) -> str:
        """Whatever was held back, made safe: call at the end of the reply."""
        held, self._held = self._held, ""
        return sanitize(held)


def one_line(text: str) -> str:
    """`text` made safe and kept to one line: for messages that may carry what
    a user typed or a server sent (a file name, an error body)."""
    return " ".join(sanitize(text).split())
