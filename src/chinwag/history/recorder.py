"""Saving one chat to the history: the session's only way to the store.

The history never stops the chat. What is to be saved goes into a queue of
operations in memory (a new conversation, a user message, a reply row, the
reply's latest text), keyed by local rows because a row's database id is only
known once it is written. The queue is written in order: at once on the
caller's thread when the database is open and no other process holds the
lock (busy timeout 0: it never waits; so the user's message is saved before
the request leaves), else by one writer thread, off the reply's path, waiting
at most BUSY_TIMEOUT_S for a lock and retrying at each later save point
(every SAVE_INTERVAL while a reply streams, else every RETRY_INTERVAL). A
reply's progressive saves coalesce to its latest text.

When saving fails the chat goes on: the reason ("disk full", "locked by
another process", "damaged", "read-only", see check.py) becomes one
notice line (`take_notices`), given once per fault, and one more when saving
works again. Faults that may clear keep the queue; the others (a damaged or
read-only database) stop saving for the session and leave the file untouched.
The queue itself is queue.py, owned by the Recorder; the writes are typed
operations (ops.py). This module is what the session calls.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, assert_never

from chinwag.errors import UsageError
from chinwag.history.branching import Branching
from chinwag.history.queue import SaveQueue
from chinwag.interrupts import held_back

# The operations, the blocks' JSON, the schema, the records and the events are
# imported where they are used, after the prompt is drawn: a chat opens its
# Recorder before `You:`.
if TYPE_CHECKING:
    from chinwag.events import Event
    from chinwag.history.ops import Row
    from chinwag.history.store import Store
    from chinwag.history.costs import UsageTotals
    from chinwag.records import Block, Document, Image, Message, Reply, ToolCall, ToolResult

__all__ = ["Recorder", "StoreSink"]


class Recorder(Branching):
    """The history database for one chat, opened on first use, never in the way.
    It keeps where the chat is (its conversation, the question and the reply
    being saved, tool calls running) and queues the writes that follow in its
    SaveQueue. `max_pages` caps the database at that many pages (SQLite's
    max_page_count, for this connection; None: no cap): how tests make it
    "full" without a full disk."""

    withdrawn: Message | None = None  # after `resume`: its last question, if cancelled before any reply

    def __init__(self, path: Path, *, max_pages: int | None = None) -> None:
        self.path = path
        self._queue = SaveQueue(path, max_pages)
        self._lock = threading.Lock()  # guards everything below; taken before the queue's own,
        # always as `with held_back, self._lock:` (interrupts.py): no signal splits a section
        self._conversation: Row | None = None
        self._reply: Row | None = None
        self._question: Row | None = None  # the last user question saved (not tool results)
        self._system: str | None = None  # the system prompt of the latest question on the path
        # The last question's system prompts: the path's before it, and its own (a cancel or /retry switches).
        self._asked_system: tuple[str | None, str | None] | None = None
        self._calls: dict[str, Row] = {}  # tool calls saved as running, by call id
        self._leaf: Row | None = None  # the end of the path the next message is saved under (None: a root)

    # -- the session's interface ---------------------------------------------

    @property
    def conversation_id(self) -> int | None:
        """The database id of the conversation being saved (None until written)."""
        return self._conversation.id if self._conversation is not None else None

    @conversation_id.setter
    def conversation_id(self, cid: int | None) -> None:
        from chinwag.history.ops import Row

        self._conversation = Row(cid) if cid is not None else None
        self._leaf = None

    @property
    def reply_id(self) -> int | None:
        """The database id of the reply being saved, once written."""
        with held_back, self._lock:
            return self._reply.id if self._reply is not None else None

    def open(self) -> Store | None:
        """Open the database now (the REPL's warm-up does, after the prompt is
        drawn). A fault becomes a notice, never an exception."""
        return self._queue.open()

    def spent(self, day: float, month: float) -> tuple[float, float, float]:
        """Dollars the history holds for this conversation, since `day` and since
        `month` (Unix times), for the budgets; what is still queued is not in it."""
        with self._queue.reading() as store:
            cid = self.conversation_id
            conversation = store.usage_totals(conversation=cid).cost if cid is not None else 0.0
            return conversation, store.usage_totals(since=day).cost, store.usage_totals(since=month).cost

    def conversation_usage(self) -> UsageTotals | None:
        """This conversation's tokens and cost, everything queued written first (None: nothing saved yet)."""
        with self._saved() as (store, cid):
            return store.usage_totals(conversation=cid) if cid is not None else None

    def close(self) -> None:
        """Write what is still queued (waiting at most CLOSE_TIMEOUT_S for a
        lock) and close. What could not be written is lost, and told."""
        with held_back, self._lock:
            self._queue.end_unended(self._reply)
        self._queue.close()

    def take_notices(self) -> list[str]:
        """One-line notices about saving since the last call (e.g. "disk full")."""
        return self._queue.take_notices()

    def settled(self) -> bool:
        """Everything queued is written, or saving has stopped."""
        return self._queue.settled()

    def resume(self, conversation_id: int | None, at: int | None = None) -> tuple[str | None, list[Message]]:
        """Continue a saved conversation (the latest when None) at its current
        leaf, or on the branch through message `at` (its deepest latest leaf
        becomes the conversation's leaf): the latest system
        prompt on that path and its messages. At start-up, so faults raise (ConfigError)."""
        from chinwag.history.branching import leaf_row
        from chinwag.history.ops import Row

        with self._queue.reading() as store:
            cid = conversation_id if conversation_id is not None else store.latest_conversation_id()
            summary = store.conversation(cid) if cid is not None else None
            if summary is None:
                raise UsageError("no such conversation to continue." if conversation_id is None
                                 else f"no conversation {conversation_id}; see chinwag history list.")
            if at is not None:  # the branch holding message `at` (a search hit), to its newest leaf
                tree = store.tree(summary.id)
                if at not in tree.nodes:
                    raise UsageError(f"there is no message {at} in conversation {summary.id}.")
                store.set_leaf(summary.id, tree.deepest_latest(at))
            leaf = leaf_row(store, store.leaf(summary.id))
            history = store.history_messages(summary.id)
            system = store.latest_system(summary.id)
            cancelled = store.cancelled_question(summary.id)
            own = store.message(cancelled[0]) if cancelled is not None else None
        self.conversation_id = summary.id
        with held_back, self._lock:
            self._leaf = leaf
            self._system = system
            if cancelled is not None:  # the row /retry marks as asked again
                self._question = Row(cancelled[0], parent=leaf, role="user")
                self._asked_system = (system, own.system if own is not None and own.system is not None else system)
        self.withdrawn = cancelled[1] if cancelled is not None else None
        return system, history

    def new_conversation(self) -> None:
        """The next message opens a new saved conversation."""
        with held_back, self._lock:
            self._queue.end_unended(self._reply)
            self._conversation = None
            self._reply = self._question = self._leaf = None

    def save_user(self, text: str, model: str, system: str | None, blocks: tuple[Block, ...] = ()) -> None:
        """Save the user's message (with its attachments, `blocks`) before the request leaves (or queue it)."""
        from chinwag.history.blocks import blocks_and_blobs
        from chinwag.history.ops import AddUserMessage, Row, StartConversation

        stored, blobs = blocks_and_blobs(blocks)
        with held_back, self._lock:
            self._queue.end_unended(self._reply)
            if self._conversation is None:
                self._conversation = Row()
                self._queue.put(StartConversation(self._conversation, model, system))
                self._system = system
            changed = system if system != self._system else None  # /system: saved with the question it goes with
            self._asked_system, self._system = (self._system, system), system
            self._question = self._leaf = Row(parent=self._leaf, role="user")
            self._queue.put(AddUserMessage(self._question, self._conversation, text, model, system=changed,
                                           blocks=stored, blobs=blobs))
        self._queue.save_soon()

    def question_cancelled(self) -> bool:
        """The question this chat saved last was cancelled before any reply: marked
        so, it is not brought back to be sent (`chinwag -c`), and a dead end: the
        next message follows its parent. False when this chat saved no question
        since it started or resumed (nothing to mark)."""
        from chinwag.history.schema import CANCELLED_QUESTION

        return self._set_question_status(CANCELLED_QUESTION)

    def question_asked_again(self) -> None:
        """/retry after a cancel: the question counts again, and the reply follows it."""
        self._set_question_status("complete")

    def question_system(self) -> str | None:
        """The system prompt the question saved last went with (after a resume or a
        move: the path's latest question's), for /retry to tell whether it changed."""
        with held_back, self._lock:
            return self._asked_system[1] if self._asked_system is not None else self._system

    def retrying(self) -> None:
        """/retry: the new reply is a sibling of the last one (which stays, in its branch)."""
        with held_back, self._lock:
            if self._leaf is not None and self._leaf.role == "assistant":
                self._queue.end_unended(self._reply)
                self._leaf, self._reply = self._leaf.parent, None

    def results_again(self, message: Message, model: str, system: str | None) -> None:
        """/retry, after a /system, of a reply that followed tool results (`message`): they
        are saved again beside themselves with the prompt the retry is sent with (the calls
        do not run again), so the path says what was sent."""
        from chinwag.history.blocks import blocks_and_blobs
        from chinwag.history.ops import AddUserMessage, Row

        stored, blobs = blocks_and_blobs(message.parts)
        with held_back, self._lock:
            if self._conversation is None or self._leaf is None or self._leaf.role != "user":
                return
            changed = system if system != self._system else None
            self._system, self._asked_system = system, None  # the question was answered: no cancel to undo
            self._leaf = Row(parent=self._leaf.parent, role="user")
            self._queue.put(AddUserMessage(self._leaf, self._conversation, message.content, model, system=changed,
                                           blocks=stored, blobs=blobs))
        self._queue.save_soon()

    def _set_question_status(self, status: str) -> bool:
        from chinwag.history.ops import SetQuestionStatus
        from chinwag.history.schema import CANCELLED_QUESTION

        with held_back, self._lock:
            if self._question is None or self._conversation is None:
                return False
            self._leaf = self._question.parent if status == CANCELLED_QUESTION else self._question
            if self._asked_system is not None:  # the path's system prompt, with the question or without
                self._system = self._asked_system[status != CANCELLED_QUESTION]
            self._queue.put(SetQuestionStatus(self._question, status))
        self._queue.save_soon()
        return True

    def save_results(self, results: tuple[ToolResult | Image | Document, ...], model: str) -> None:
        """Save the results of a reply's tool calls, the next user message (the images
        and PDFs they gave stored by hash, as attachments are)."""
        from chinwag.history.blocks import blocks_and_blobs
        from chinwag.history.ops import AddUserMessage, Row
        from chinwag.records import Message

        message = Message.of("user", results)
        stored, blobs = blocks_and_blobs(message.parts)
        with held_back, self._lock:
            if self._conversation is None:
                return
            self._leaf = Row(parent=self._leaf, role="user")
            self._queue.put(AddUserMessage(self._leaf, self._conversation, message.content, model,
                                           blocks=stored, blobs=blobs))
        self._queue.save_soon()

    def tool_started(self, call: ToolCall) -> None:
        """Save `call` as running, before it runs: after a crash it shows as
        interrupted and is never run again on its own."""
        import json

        from chinwag.history.ops import Row, StartToolCall

        with held_back, self._lock:
            if self._reply is None:
                return
            row = self._calls[call.id] = Row()
            self._queue.put(StartToolCall(row, self._reply, call.id, call.name,
                                          json.dumps(dict(call.input), ensure_ascii=False)))
        self._queue.save_soon()

    def tool_finished(self, call: ToolCall, result: ToolResult) -> None:
        from chinwag.history.ops import EndToolCall

        with held_back, self._lock:
            row = self._calls.pop(call.id, None)
            if row is None:
                return
            self._queue.put(EndToolCall(row, result.status, result.content))
        self._queue.save_soon()

    def begin_reply(self, model: str, prefill: str) -> None:
        """Make the row this turn's reply is saved in: a new one, or, for a
        /continue (`prefill` is the partial text), the row it extends."""
        from chinwag.history.ops import BeginReply, Row

        with held_back, self._lock:
            if self._conversation is None or (prefill and self._reply is not None):
                return
            self._queue.end_unended(self._reply)
            self._reply = self._leaf = Row(parent=self._leaf, role="assistant")
            self._queue.put(BeginReply(self._reply, self._conversation, model))
        self._queue.save_soon()

    def reply_sink(self, prefill: str) -> StoreSink | None:
        """A sink saving into the current reply row (one per attempt: an
        overflow retry of the same turn saves into the same row). A turn that
        ends without any attempt (Ctrl-C before the request) should still end
        its row: `reply_sink(prefill).on_end(reply)`; else the next save point
        (a message, a reply, a new conversation, close) marks it interrupted."""
        with held_back, self._lock:
            if self._reply is None or self._queue.stopped:
                return None
            return StoreSink(self, self._reply, prefill)

    # -- called by StoreSink -------------------------------------------------

    def _watch(self, sink: StoreSink) -> None:
        """`sink`'s reply is streaming: save its latest text every SAVE_INTERVAL."""
        self._queue.watch(sink)

    def _reply_ended(self, sink: StoreSink, reply: Reply) -> None:
        from chinwag.history.blocks import blocks_json

        self._queue.reply_ended(sink, sink.prefix + reply.text, status=reply.status,
                                input_tokens=reply.input_tokens, output_tokens=reply.output_tokens,
                                ttft=reply.ttft, duration=reply.duration, stop_reason=reply.stop_reason,
                                blocks=blocks_json(reply.blocks), schema=_schema_json(reply),
                                **({"usage": reply.usage} if reply.status != "streaming" else {}))
        self._queue.save_soon()


class StoreSink:
    """Saves the reply while it streams and at the end, so even `kill -9` leaves
    what was on screen in the history.

    On each text event it only keeps the latest snapshot (no copying, no
    lock, no database): the recorder's writer thread saves it every
    SAVE_INTERVAL, so text shown just before the stream stalls is saved too,
    and nothing about saving sits on the path from socket to screen. The end
    of the reply is queued, and written at once when that cannot wait."""

    def __init__(self, recorder: Recorder, row: Row, prefix: str = "") -> None:
        self.recorder, self.row, self.prefix = recorder, row, prefix
        self._latest: Reply | None = None  # a snapshot newer than the database has, if any
        self._watched = False

    def on_start(self) -> None:
        pass

    def on_event(self, event: Event, reply: Reply) -> None:
        from chinwag.events import (Notice, Retrying, Stop, TextDelta, ThinkingDelta, ToolCallReady, ToolCallStart,
                                    ToolInputDelta, ToolProgress, ToolResultReady, ToolRunning, Usage)

        match event:
            case TextDelta() | ThinkingDelta() | ToolCallReady():
                self._latest = reply  # the snapshot, not its text: no copying per chunk
                if not self._watched:  # from the first text, not before the request
                    self._watched = True
                    self.recorder._watch(self)
            case ToolCallStart() | ToolInputDelta() | Usage() | Stop():
                pass  # saved with the reply's end (the call whole, with ToolCallReady)
            case Retrying() | Notice() | ToolRunning() | ToolProgress() | ToolResultReady():
                pass  # not the reply's (a call's result is saved by the tool loop)
            case _:
                assert_never(event)

    def on_end(self, reply: Reply) -> None:
        self._latest = None
        self.recorder._reply_ended(self, reply)

    def take(self) -> Reply | None:
        latest, self._latest = self._latest, None
        return latest


def _schema_json(reply: Reply) -> str | None:
    """The JSON Schema the reply was asked to match (--schema), kept with it; None for a free reply."""
    import json

    if reply.schema is None:
        return None
    return json.dumps(reply.schema, ensure_ascii=False)
