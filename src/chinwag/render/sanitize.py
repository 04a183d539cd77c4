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

Bidi controls (the embeddings, overrides and isolates U+202A-U+202E and
U+2066-U+2069, and the marks U+200E, U+200F, U+061C) can make text read in
an order it is not in: "moc.elgoog.ly" after an U+202E shows as
"yl.google.com". For display they are shown as what they are, "<U+202E>",
so nothing reorders and the user sees that something tried to. History and
--json keep the text as it came. Other printable Unicode (emoji, CJK,
right-to-left letters) passes byte for byte.

`reveal` is stricter, for a question that asks for consent: every control
and invisible format character becomes visible (ESC as "␛", U+202E as
"<U+202E>"), nothing is removed.
"""

from __future__ import annotations


def codepoint(char: str) -> str:
    """`char` named by its code point, as less and vim show it: "<U+202E>"."""
    return f"<U+{ord(char):04X}>"


_KEEP = {"\n", "\t"}
_CONTROLS = [chr(c) for c in range(0x20) if chr(c) not in _KEEP] + ["\x7f"]
_CONTROLS += [chr(c) for c in range(0x80, 0xA0)]
BIDI_CONTROLS = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C))
_SAFETY_TABLE = str.maketrans({**{c: None for c in _CONTROLS}, **{c: codepoint(c) for c in BIDI_CONTROLS}})

# 8-bit introducers spelled as their 7-bit equivalents, so layer 2 sees them.
_C1_AS_ESC = str.maketrans({"\x9b": "\x1b[", "\x9d": "\x1b]", "\x90": "\x1bP",
                            "\x9e": "\x1b^", "\x9f": "\x1b_", "\x98": "\x1bX"})

# An escape sequence longer than this is not held back any more: layer 1 alone
# makes it harmless, and we never delay text the user should see for long.
_MAX_HELD = 1024
_STRING_INTRODUCERS = "]P^_X"  # OSC, DCS, PM, APC, SOS: end with BEL or ESC \


def sanitize(text: str) -> str:
    """Return `text` with every terminal control sequence and control byte
    removed, and bidi controls shown as "<U+202E>" (see the module docstring)."""
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


def neutralise_bidi(text: str) -> str:
    """`text` with its bidi controls shown as "<U+202E>", nothing else changed:
    for text the page escapes itself (control bytes do nothing in HTML)."""
    if not any(c in BIDI_CONTROLS for c in text):
        return text
    return "".join(codepoint(c) if c in BIDI_CONTROLS else c for c in text)


def reveal(text: str) -> str:
    """Every character of `text` visible, none removed: C0 controls as their
    control pictures ("␛" for ESC, "␉" for tab, "␍" for CR), DEL as "␡", and
    other controls, bidi controls, invisible format characters and line or
    paragraph separators by code point ("<U+202E>", "<U+200B>"). Newlines
    stay newlines: the caller lays lines out. For a question that asks for
    consent, where what is shown must be all there is."""
    import unicodedata

    out = []
    for char in text:
        if char == "\n":
            out.append(char)
        elif char < " ":
            out.append(chr(0x2400 + ord(char)))
        elif char == "\x7f":
            out.append("\u2421")
        elif unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp", "Co", "Cs", "Cn"):
            out.append(codepoint(char))
        else:
            out.append(char)
    return "".join(out)
