"""The writes a chat queues for the history: one frozen dataclass per kind.

Operations name local rows (`Row`) rather than database ids because a row's
id is only known once it is written: a reply queued before its conversation
is written still finds it. `write` applies one operation to the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, assert_never

from chinwag.history.blocks import Blob

if TYPE_CHECKING:
    from chinwag.history.store import Store


@dataclass(eq=False)
class Row:
    """A conversation, a message or a tool call, before and after the database gives it an id."""

    id: int | None = None  # None until written, and again once its conversation is deleted
    values: dict[str, Any] | None = None  # a reply's text to write next (coalesced)
    queued: bool = False  # an UpdateReply for this reply is in the queue
    ended: bool = False  # a reply's end has been queued
    # A message's place in its conversation's tree: the row it follows (None: a
    # root) and its role. One level is enough: the recorder only steps up one.
    parent: Row | None = None
    role: str | None = None


@dataclass(frozen=True)
class StartConversation:
    row: Row
    model: str | None
    system: str | None


@dataclass(frozen=True)
class AddUserMessage:
    """A user's question, or the results of a reply's tool calls."""

    row: Row
    conversation: Row
    text: str
    model: str | None
    system: str | None = None  # a /system changed since the last question: saved with this one
    blocks: str | None = None  # tool results, attachments, as JSON
    blobs: tuple[Blob, ...] = ()  # the attachments' bytes, stored by hash beside the blocks
    # (The message's parent is `row.parent`: None, a new root.)


@dataclass(frozen=True)
class SetQuestionStatus:
    question: Row
    status: str  # CANCELLED_QUESTION, or "complete" when asked again


@dataclass(frozen=True)
class BeginReply:
    row: Row  # its parent: `row.parent`
    conversation: Row
    model: str | None


@dataclass(frozen=True)
class UpdateReply:
    """A reply's latest text and status. Queued once per reply with `values`
    None; the values are taken from the row when it is written, so updates
    queued meanwhile coalesce into one write."""

    reply: Row
    values: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class StartToolCall:
    row: Row
    reply: Row
    call_id: str
    name: str
    input_json: str


@dataclass(frozen=True)
class EndToolCall:
    call: Row
    status: str
    result: str


Op = StartConversation | AddUserMessage | SetQuestionStatus | BeginReply | UpdateReply | StartToolCall | EndToolCall


def target(op: Op) -> Row:
    """The row `op` is written to or under: the one whose id it needs."""
    match op:
        case StartConversation():
            return op.row
        case AddUserMessage() | BeginReply():
            return op.conversation
        case SetQuestionStatus():
            return op.question
        case UpdateReply():
            return op.reply
        case StartToolCall():
            return op.reply
        case EndToolCall():
            return op.call
        case _:
            assert_never(op)


def write(store: Store, op: Op) -> None:
    """Write `op`. One whose conversation was deleted meanwhile (its target
    has no id) has nothing to attach to, and is dropped."""
    if isinstance(op, StartConversation):
        op.row.id = store.start_conversation(op.model, op.system)
        return
    parent = target(op).id
    if parent is None:
        return
    match op:
        case AddUserMessage():
            op.row.id = store.add_message(parent, "user", op.text, model=op.model, blocks=op.blocks,
                                          blobs=op.blobs, system=op.system, parent=_parent_id(op.row))
        case SetQuestionStatus():
            store.set_question_status(parent, op.status)
        case BeginReply():
            op.row.id = store.begin_reply(parent, model=op.model, parent=_parent_id(op.row))
        case StartToolCall():
            op.row.id = store.start_tool_call(parent, op.call_id, op.name, op.input_json)
        case EndToolCall():
            store.end_tool_call(parent, op.status, op.result)
        case UpdateReply():
            values = dict(op.values or {})
            store.update_reply(parent, values.pop("text"), **values)
        case _:
            assert_never(op)


def _parent_id(row: Row) -> int | None | Literal["leaf"]:
    """The database id of the message `row` follows. Its parent was queued
    before it, so it is written; one never written (saving had stopped, and
    started again) leaves the message under the conversation's leaf."""
    if row.parent is None:
        return None
    return row.parent.id if row.parent.id is not None else "leaf"
