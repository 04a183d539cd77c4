"""Keeping a long conversation inside the model's context window.

Before a request, the history is measured with the provider's counter (the
local model's own tokenizer; for remote APIs an estimate, see
`estimate_tokens`) and the oldest turns are left out until the prompt plus
room for the reply fits. The system prompt and the latest user message are
never left out. The store keeps everything; only the request is shortened.

Servers whose window we cannot know (an OpenAI-compatible server running
any model) tell us when a prompt is too long: the provider raises
`ContextOverflow`, and the session then retries with half the turns
(`drop_half`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # (imported where used: not before the prompt)
    from chinwag.records import Document, Image, Message, Window

PER_MESSAGE_OVERHEAD = 8  # role markers and separators each chat template adds
CHARS_PER_TOKEN = 3.0  # conservative for English and code (real: ~3.5-4); CJK is closer to 1.5
PDF_PAGE_TOKENS = 3000  # a page's text (~1,500-3,000 tokens) and its image (~1,600), high
PDF_BYTES_PER_PAGE = 20_000  # when the page objects cannot be counted (compressed object streams)
_PDF_PAGE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")


def estimate_tokens(text: str) -> int:
    """A deliberately high estimate for when no tokenizer is at hand."""
    wide = sum(1 for ch in text if ord(ch) > 0x2E80)  # CJK and friends: about a token each
    return int((len(text) - wide) / CHARS_PER_TOKEN) + wide + 1


def fit(messages: Sequence[Message], system: str | None, window: Window, reply_room: int,
        fill: float = 1.0) -> tuple[list[Message], int]:
    """The newest messages that fit in `fill` of the room left beside
    `reply_room` tokens for the reply, and how many were left out.

    Whole turns are dropped from the front, so the kept history still starts
    with a user message, as the APIs require."""
    # The reply's own header ("<|im_start|>assistant\n" and the like) needs room too.
    room = window.tokens - reply_room - PER_MESSAGE_OVERHEAD
    room -= window.count(system) + PER_MESSAGE_OVERHEAD if system else 0
    budget = room * fill
    sizes = [message_tokens(m, window) for m in messages]
    start, total = 0, sum(sizes)
    while total > budget and start < len(messages) - 1:
        total -= sizes[start]
        start += 1
        while start < len(messages) - 1 and messages[start].role != "user":
            total -= sizes[start]
            start += 1
    return list(messages[start:]), start


def message_tokens(message: Message, window: Window) -> int:
    """A message's size in tokens: its text by the window's counter, each attachment estimated."""
    from chinwag.records import Document, Image

    return window.count(message.content) + PER_MESSAGE_OVERHEAD + sum(
        attachment_tokens(b) for b in message.blocks if isinstance(b, (Image, Document)))


def attachment_tokens(block: Image | Document) -> int:
    """A conservative estimate: an image costs about width×height/750 tokens (the
    APIs scale it to at most ~1568 px a side first); a PDF page about
    PDF_PAGE_TOKENS (its text plus the page as an image), the pages counted from
    the file's page objects, or guessed from its size."""
    from chinwag.records import Image

    if isinstance(block, Image):
        from chinwag.attach import image_size

        width, height = image_size(block.data) or (1568, 1568)
        return max(1, min(width * height, 1568 * 1568) // 750)
    pages = len(_PDF_PAGE.findall(block.data)) or max(1, len(block.data) // PDF_BYTES_PER_PAGE)
    return pages * PDF_PAGE_TOKENS


def drop_half(messages: Sequence[Message]) -> tuple[list[Message], int]:
    """The newer half of the turns (at least the last message), after a server said "too long"."""
    start = len(messages) // 2
    while start < len(messages) - 1 and messages[start].role != "user":
        start += 1
    return list(messages[start:]), start
