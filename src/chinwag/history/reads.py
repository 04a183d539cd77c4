"""Reading conversations back from the history database: their messages, the
history sent to a model, summaries for lists. A base of `Store` (store.py).
"""

from __future__ import annotations

from dataclasses import replace

from chinwag.records import Message
from chinwag.history import blobs as store_blobs
from chinwag.history.blocks import answered, joined
from chinwag.history.branches import UP, Branches
from chinwag.history.schema import (
    CANCELLED_QUESTION,
    MESSAGE_COLUMNS,
    SUMMARY_SELECT,
    ConversationSummary,
    StoredMessage,
    summary_of,
    title_of,
)


class Reads(Branches):
    """The reads of the history database (the tree's own: branches.py)."""

    def messages(self, cid: int) -> list[StoredMessage]:
        """Every message of the conversation, every branch, in order of creation (see `path`)."""
        rows = self._query(f"SELECT {MESSAGE_COLUMNS} FROM messages"
                           " WHERE conversation_id = ? ORDER BY id", (cid,))
        with self._translated():  # attachments come back with their bytes
            return [replace(m, blocks=store_blobs.resolved(self._conn, m.blocks))
                    for m in (StoredMessage(*row) for row in rows)]

    def reply_schemas(self, cid: int) -> dict[int, str]:
        """The replies of `cid` that were asked for JSON (--schema): message id -> the schema, as JSON."""
        return dict(self._query("SELECT id, schema FROM messages WHERE conversation_id = ? AND schema IS NOT NULL",
                                (cid,)))

    def history_for_model(self, cid: int, leaf: int | None = None) -> list[tuple[str, str]]:
        """The conversation's text as (role, content) pairs; see `history_messages`."""
        return [(m.role, m.content) for m in self._history(cid, leaf)]

    def _history(self, cid: int, leaf: int | None = None) -> list[Message]:
        """The path to `leaf` (default: the conversation's leaf) to send to a
        model, as the chat that saved it sends it; never another branch.

        A question cancelled before any reply is left out, with the empty
        reply row its turn left. A reply followed by another reply (a /retry)
        is replaced by it, as in the chat; then messages with nothing in them (e.g. a reply interrupted
        before its first token) are left out, since APIs reject them.
        Consecutive user messages that leaves behind are merged into one,
        joined by a blank line, so roles alternate and no text is lost.
        Interrupted or failed replies with text are kept exactly as shown.
        """
        turns: list[Message] = []
        cancelled = False  # inside a question cancelled before any reply
        for msg in self.path_messages(cid, leaf):
            if msg.role == "user":
                cancelled = msg.status == CANCELLED_QUESTION
            if cancelled:
                continue
            if turns and msg.role == "assistant" and turns[-1].role == "assistant":
                turns[-1] = msg.message
            else:
                turns.append(msg.message)
        merged: list[Message] = []
        for message in (m for m in turns if m.content.strip() or m.blocks):
            if merged and merged[-1].role == message.role:
                merged[-1] = joined(merged[-1], message)
            else:
                merged.append(message)
        return merged

    def history_messages(self, cid: int, leaf: int | None = None) -> list[Message]:
        """The path to `leaf` as messages (blocks and all) to send to a model; see
        `history_for_model`. A tool call with no result (chinwag stopped while it
        ran) gets one saying so: it is never run again on its own."""
        return answered(self._history(cid, leaf))

    def tool_calls(self, cid: int) -> dict[str, str]:
        """The status of each tool call saved in conversation `cid`, by call id."""
        rows = self._query("SELECT t.call_id, t.status FROM tool_calls t JOIN messages m ON m.id = t.message_id"
                           " WHERE m.conversation_id = ? ORDER BY t.id", (cid,))
        return {call_id: status for call_id, status in rows}

    def cancelled_question(self, cid: int) -> tuple[int, Message] | None:
        """The last question asked at the conversation's leaf, with its id, if it was
        cancelled before any reply (cancelling one moves the leaf back to its parent)."""
        rows = self._query(f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? AND role = 'user'"
                           " AND parent_id IS (SELECT leaf_id FROM conversations WHERE id = ?)"
                           " ORDER BY id DESC LIMIT 1", (cid, cid))
        if not rows or StoredMessage(*rows[0]).status != CANCELLED_QUESTION:
            return None
        with self._translated():  # its attachments come back with their bytes
            last = StoredMessage(*rows[0])
            last = replace(last, blocks=store_blobs.resolved(self._conn, last.blocks))
        return last.id, last.message

    def latest_system(self, cid: int, leaf: int | None = None) -> str | None:
        """The system prompt the latest question on the path to `leaf` went with."""
        at = self.leaf(cid) if leaf is None else leaf
        rows = self._query(f"{UP} SELECT system FROM messages WHERE id IN (SELECT id FROM up)"
                           " AND system IS NOT NULL ORDER BY id DESC LIMIT 1", (at, cid)) if at is not None else []
        if rows:
            return str(rows[0][0])
        summary = self.conversation(cid)
        return summary.system if summary is not None else None

    def latest_conversation_id(self) -> int | None:
        rows = self._query("SELECT id FROM conversations ORDER BY updated_at DESC, id DESC LIMIT 1")
        return int(rows[0][0]) if rows else None

    def conversation(self, cid: int) -> ConversationSummary | None:
        rows = self._query(SUMMARY_SELECT + " WHERE c.id = ?", (cid,))
        return self._titled([summary_of(rows[0])])[0] if rows else None

    def list_conversations(self, limit: int = 20) -> list[ConversationSummary]:
        """The most recently active conversations first."""
        rows = self._query(SUMMARY_SELECT + " ORDER BY c.updated_at DESC, c.id DESC LIMIT ?",
                           (limit,))
        return self._titled([summary_of(row) for row in rows])

    def _titled(self, summaries: list[ConversationSummary]) -> list[ConversationSummary]:
        """`summaries` with the titles the user gave (`rename_conversation`), where there are some."""
        if not summaries:
            return summaries
        ids = [s.id for s in summaries]
        named = dict(self._query("SELECT id, title FROM conversations WHERE title IS NOT NULL"
                                 f" AND id IN ({', '.join('?' * len(ids))})", ids))
        return [replace(s, title=title_of(named[s.id])) if s.id in named else s for s in summaries]

