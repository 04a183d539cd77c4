"""Split streamed markdown into top-level blocks and decide which are final.

Appending text to a markdown document can change only its last top-level
block, so every earlier block is final (Will McGugan, "Efficient streaming of
Markdown in the terminal", 2025) - with one exception found by fuzzing: while
the last block's first line is unfinished it may still join the block before
(see `settled`). The parse here is block-level only (no
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

# Kinds that are final as soon as their last line is complete.
_ENDED_BY_NEWLINE = {"heading_open", "hr"}
# Kinds that nothing after a blank line can extend. Lists and quotes are
# absent (a later item or `>` line continues them), as are indented code and
# raw HTML (both may contain blank lines).
_ENDED_BY_BLANK = {"paragraph_open", "table_open"}

# rich.markdown.Markdown's token handling, reduced to what decides blank
# lines: these tokens never close an element.
_NOT_ELEMENTS = {"text", "hardbreak", "softbreak", "link_open", "link_close"}
_INLINE_STYLE_TAGS = {"em", "strong", "code", "s"}
# rich elements that keep their children to render themselves (their
# `on_child_close` returns False); any other parent lets a child render at once.
_KEEPS_CHILDREN = {
    "blockquote_open",
    "bullet_list_open",
    "ordered_list_open",
    "list_item_open",
    "table_open",
    "thead_open",
    "tbody_open",
    "tr_open",
}
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
    first_number: int  # an ordered list's first number; else 1


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
    start, end = token.map
    head_end = start
    children: list[int] = []
    for inner in _inside(tokens, index):
        if inner.nesting != 1 or not inner.map:
            continue
        if token.type == "table_open":
            if inner.type == "tbody_open":
                head_end = inner.map[0]
            elif inner.type == "tr_open" and head_end > start:  # a body row
                children.append(inner.map[0])
        elif inner.level == 1:
            children.append(inner.map[0])
    return Block(
        kind=token.type,
        start=start,
        end=end,
        info=token.info,
        children=tuple(children),
        head_end=head_end,
        first_number=int(str(token.attrs.get("start", 1))),
    )


def _inside(tokens: Sequence[Token], index: int) -> Iterable[Token]:
    """The tokens nested inside the block that opens at `index`."""
    if tokens[index].nesting == 0:
        return
    for token in tokens[index + 1 :]:
        if token.level == 0:
            return
        yield token


def settled(blocks: list[Block], lines: list[str]) -> int:
    """How many blocks (from the first) are followed by a block that has
    begun for certain: all but the last, or all but the last two when the
    last block's first line is unfinished. That line may still turn into a
    list item or quote line that joins the block before it ("2" becomes
    "2. Next" after a list item that ended in a code fence)."""
    if blocks and not lines[blocks[-1].start].endswith("\n"):
        return len(blocks) - 2
    return len(blocks) - 1


def is_final(block: Block, lines: list[str], is_last: bool) -> bool:
    """Whether no text appended after `lines` can change `block`.

    `lines` are the source lines with their line endings; the last one may
    be incomplete. A block that another settled block follows is final. The
    last one is final early when it is a heading or rule whose line is
    complete, a fence whose closing line is complete, or a paragraph or table
    followed by a blank line.
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
    after = lines[block.end] if block.end < len(lines) else ""
    return after.endswith("\n") and not after.strip()


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
        marker = rf"\g<1>{number}\g<2>"
        body = [_ORDERED_MARKER.sub(marker, body[0], count=1), *body[1:]]
    return "".join(body)


def lead_blank(tokens: Sequence[Token], previous_flag: bool) -> bool:
    """Whether rich, rendering the whole reply, would put a blank line before
    `tokens` that a render of `tokens` alone lacks.

    rich writes a blank line before each element it renders when its
    `new_line` flag is set, and each element that closes sets the flag. So
    only the first element to close inside `tokens` can see the flag left by
    the previous block: if rich renders it there and then (a top-level
    block, or an image inside a paragraph), the blank is `previous_flag`;
    if its parent keeps it (a list item, a quote's paragraph), the blank is
    decided inside the block and a render of it alone has it already."""
    stack: list[str] = []
    for token in _flatten(tokens):
        if not _is_element(token):
            continue
        if token.nesting == 1:
            stack.append(token.type)
            continue
        if token.nesting == -1 and stack:
            stack.pop()
        rendered = not stack or stack[-1] not in _KEEPS_CHILDREN
        return rendered and previous_flag and token.type != "inline"
    return False


def trailing_flag(tokens: Sequence[Token], previous_flag: bool) -> bool:
    """rich's `new_line` flag after rendering `tokens`."""
    flag = previous_flag
    for token in _flatten(tokens):
        if _is_element(token) and token.nesting <= 0:
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


def _is_element(token: Token) -> bool:
    if token.type in _NOT_ELEMENTS or token.type == "html_inline":
        return False
    return token.tag not in _INLINE_STYLE_TAGS or token.type in ("fence", "code_block")
