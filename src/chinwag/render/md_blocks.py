"""Split streamed markdown into top-level blocks and decide which are final.

Appending text to a markdown document can change only its last top-level
block, so every earlier block is final (Will McGugan, "Efficient streaming of
Markdown in the terminal", 2025). The parse here is block-level only (no
inline rules), over the uncommitted tail of the reply, with the same
markdown-it configuration rich uses, so block boundaries agree with rich's.

It also computes the blank line rich puts before a block. rich decides it
from the last element it closed, which can lie inside the previous block or
inside this one (an image or a rule ends with no blank line), so rendering
blocks one by one needs `lead_blank` and `trailing_flag` to match a one-shot
render line for line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Sequence

from markdown_it import MarkdownIt
from markdown_it.token import Token

# Block kinds that nothing after a blank line can extend. Lists and quotes
# are absent (a later item or `>` line continues them), as are indented code
# and raw HTML (both may contain blank lines).
_ENDED_BY_BLANK = {"paragraph_open", "heading_open", "table_open", "hr"}
# Kinds that are final as soon as their last line is complete.
_ENDED_BY_NEWLINE = {"heading_open", "hr"}

# rich.markdown.Markdown's token handling, reduced to what decides blank
# lines: these tokens never close an element.
_NOT_ELEMENTS = {"text", "hardbreak", "softbreak", "link_open", "link_close"}
_INLINE_STYLE_TAGS = {"em", "strong", "code", "s"}
# Elements whose `new_line` is False in rich (`HorizontalRule`, `ImageItem`).
_NO_NEW_LINE = {"hr", "image"}

_ORDERED_MARKER = re.compile(r"^(\s*)\d{1,9}([.)])")


@dataclass(frozen=True)
class Block:
    """One top-level block: its kind and the source lines [start, end)."""

    kind: str  # the opening token's type, e.g. "paragraph_open", "fence"
    start: int
    end: int
    info: str  # a fence's info string, else ""
    children: tuple[int, ...]  # start lines of list items / quote parts / table rows
    head_end: int  # a table's header and separator end here; else == start
    first_number: int  # an ordered list's first number; else 0


class BlockParser:
    """Block-level markdown-it parse into `Block`s."""

    def __init__(self) -> None:
        self._md = MarkdownIt().enable("strikethrough").enable("table")
        # Inline parsing is most of the cost and says nothing about blocks.
        self._md.core.ruler.enableOnly(["normalize", "block"])

    def split(self, source: str) -> list[Block]:
        tokens = self._md.parse(source)
        blocks: list[Block] = []
        for index, token in enumerate(tokens):
            if token.level == 0 and token.nesting >= 0 and token.map:
                blocks.append(_block(tokens, index))
        return blocks


def _block(tokens: Sequence[Token], index: int) -> Block:
    token = tokens[index]
    assert token.map is not None
    children: list[int] = []
    head_end = token.map[0]
    first_number = 0
    for inner in _inside(tokens, index):
        if inner.nesting != 1 or not inner.map:
            continue
        if inner.type == "tbody_open":
            head_end = inner.map[0]
        elif inner.type == "tr_open" and inner.level == 2 and inner.map[0] >= head_end > token.map[0]:
            children.append(inner.map[0])
        elif inner.level == 1 and inner.type not in ("thead_open", "tbody_open"):
            children.append(inner.map[0])
            if inner.type == "list_item_open" and not first_number and inner.info.isdigit():
                first_number = int(inner.info)
    return Block(
        kind=token.type,
        start=token.map[0],
        end=token.map[1],
        info=token.info,
        children=tuple(children),
        head_end=head_end,
        first_number=first_number,
    )


def _inside(tokens: Sequence[Token], index: int) -> Iterable[Token]:
    """The tokens nested inside the block that opens at `index`."""
    if tokens[index].nesting == 0:
        return
    for token in tokens[index + 1 :]:
        if token.level == 0:
            return
        yield token


def is_final(block: Block, lines: list[str], is_last: bool) -> bool:
    """Whether no text appended after `lines` can change `block`.

    `lines` are the source lines with their line endings; the last one may
    be incomplete. Only the last block can still change; it is final early
    when it is a heading or rule whose line is complete, a fence whose closing
    line is complete, or a paragraph or table followed by a blank line.
    """
    if not is_last:
        return True
    complete = block.end <= len(lines) and lines[block.end - 1].endswith("\n")
    if block.kind in _ENDED_BY_NEWLINE:
        return complete
    if block.kind == "fence":
        return complete and block.end - block.start >= 2 and closes_fence(
            lines[block.start], lines[block.end - 1]
        )
    if block.kind not in _ENDED_BY_BLANK:
        return False
    after = lines[block.end :]
    return bool(after) and after[-1].endswith("\n") and not after[-1].strip()


def closes_fence(opener: str, line: str) -> bool:
    """CommonMark: a closing fence is up to three spaces, the opening fence
    character at least as many times as it opened with, and only spaces."""
    stripped = opener.lstrip(" ")
    char = stripped[:1]
    run = len(stripped) - len(stripped.lstrip(char))
    candidate = line.rstrip("\n")
    body = candidate.lstrip(" ")
    if len(candidate) - len(body) > 3 or not body.startswith(char * run):
        return False
    return not body.lstrip(char).strip(" \t")


def fence_indent(opener: str) -> int:
    return len(opener) - len(opener.lstrip(" "))


def tail_source(block: Block, lines: list[str], keep: int) -> str | None:
    """Source for the block's last `keep` children only, or None when the
    block has no more than that. Used to show the bottom of a long list or
    table in the live region without rendering all of it on every repaint;
    the block is committed whole once it is final."""
    if len(block.children) <= keep:
        return None
    first = block.children[-keep]
    body = lines[first : block.end]
    if block.kind == "table_open":
        return "".join(lines[block.start : block.head_end] + body)
    if block.kind == "ordered_list_open" and body:
        # rich numbers items from the list's start, not from each marker.
        number = block.first_number + len(block.children) - keep
        body = [_ORDERED_MARKER.sub(rf"\g<1>{number}\g<2>", body[0], count=1)] + body[1:]
    return "".join(body)


def lead_blank(tokens: Sequence[Token], previous_flag: bool) -> bool:
    """Whether rich, rendering the whole reply, would put a blank line before
    the first block of `tokens` that a render of `tokens` alone lacks.

    rich emits the blank when its `new_line` flag is set as the block closes.
    If an element inside the block set the flag, the block rendered alone
    already has the blank (or, for an image, rightly has none); otherwise the
    flag comes from the previous block."""
    inner = _inner_flag(tokens)
    return inner is None and previous_flag


def trailing_flag(tokens: Sequence[Token], previous_flag: bool) -> bool:
    """rich's `new_line` flag after rendering `tokens`."""
    flag = previous_flag
    for token in _flatten(tokens):
        if _closes_element(token):
            flag = token.type not in _NO_NEW_LINE
    return flag


def _inner_flag(tokens: Sequence[Token]) -> bool | None:
    end = next(
        (i for i, t in enumerate(tokens) if t.level == 0 and t.nesting <= 0), None
    )
    if end is None:
        return None
    flag: bool | None = None
    for token in _flatten(tokens[:end]):
        if _closes_element(token):
            flag = token.type not in _NO_NEW_LINE
    return flag


def _flatten(tokens: Iterable[Token]) -> Iterable[Token]:
    """rich's `Markdown._flatten_tokens`: inline children are walked into,
    except an image's or a fence's."""
    for token in tokens:
        if token.children and token.type != "fence" and token.tag != "img":
            yield from _flatten(token.children)
        else:
            yield token


def _closes_element(token: Token) -> bool:
    if token.type in _NOT_ELEMENTS or token.type == "html_inline":
        return False
    if token.tag in _INLINE_STYLE_TAGS and token.type not in ("fence", "code_block"):
        return False
    return token.nesting <= 0
