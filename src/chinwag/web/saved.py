"""Saved conversations as the page reads them: the list, search, and one conversation rendered.

Reading (the list, search, a saved conversation) goes through one read
connection to the same SQLite file the sessions write; renaming and the
last step of deleting go through it too (one statement each). Tool output is
redacted (`redact`) before it is rendered, as everything the page shows is.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import Any, assert_never

from chinwag import present
from chinwag.errors import UsageError
from chinwag.history.schema import StoredMessage
from chinwag.history.usage import ConversationCost, conversation_cost
from chinwag.session_tree import words_and_attachments
from chinwag.tree import Tree
from chinwag.web.html import Renderer, thinking_html, tool_html, user_html


class SavedConversations:
    def __init__(self, database: Path, redact: Callable[[str], str]) -> None:
        self.database, self.redact = database, redact
        self._store: Any = None
        self._store_lock = threading.Lock()
        self._renderer = Renderer()
        self._render_lock = threading.Lock()

    def read(self, fn: Any) -> Any:
        from chinwag.history.store import Store

        with self._store_lock:
            if self._store is None:
                self._store = Store.open(self.database)
            return fn(self._store)

    def conversations(self, live: set[int], query: str = "", limit: int = 50) -> list[dict[str, Any]]:
        """Newest first; with `query`, those with a matching message (full-text)."""
        def run(store: Any) -> list[dict[str, Any]]:
            if not query.strip():
                return [_summary_json(s, live) for s in store.list_conversations(limit)]
            found: dict[int, dict[str, Any]] = {}
            for hit in store.search(query, limit * 4):
                if hit.conversation_id in found or len(found) >= limit:
                    continue
                summary = store.conversation(hit.conversation_id)
                if summary is not None:
                    item = _summary_json(summary, live)
                    item["snippet"] = "".join(f"<mark>{escape(t)}</mark>" if match else escape(t)
                                              for t, match in hit.parts())
                    found[hit.conversation_id] = item
            return list(found.values())
        result: list[dict[str, Any]] = self.read(run)
        return result

    def conversation(self, cid: int, leaf: int | None = None, at: int | None = None) -> dict[str, Any] | None:
        """One branch of `cid`, root to leaf, rendered: the one ending at
        `leaf`, or the newest through `at` (its deepest latest leaf), or the
        conversation's current one. Each message with its id and its siblings'
        ids (itself among them, oldest first): the page's `◀ 2/3 ▶`. None if
        there is no such conversation; UsageError if the message is not in it."""
        def run(store: Any) -> tuple[Any, Tree | None, int | None, list[StoredMessage], dict[int, str],
                                     ConversationCost | None]:
            summary = store.conversation(cid)
            if summary is None:
                return None, None, None, [], {}, None
            tree = store.tree(cid)
            asked = at if at is not None else leaf
            if asked is not None and asked not in tree.nodes:
                raise UsageError(f"there is no message {asked} in conversation {cid}.")
            end = tree.deepest_latest(at) if at is not None else leaf if leaf is not None else tree.leaf
            return (summary, tree, end, store.path_messages(cid, end) if end is not None else [],
                    store.reply_schemas(cid), conversation_cost(store, cid))

        summary, tree, end, path, structured, costs = self.read(run)
        if summary is None or tree is None:
            return None
        saved = [m.message for m in path]  # blocks stored as JSON; attachments with their bytes
        results = present.saved_results(saved)
        with self._render_lock:
            rendered = [{"id": m.id, "siblings": list(tree.siblings(m.id)), "role": m.role, "status": m.status,
                         "model": m.model, "markdown": m.content,
                         "html": self._message_html(m.role, m.content, present.transcript(message, results),
                                                    json_reply=m.id in structured),
                         **({"words": words_and_attachments(message)[0]} if m.role == "user" else {}),
                         **({"cost": costs.replies.get(m.id)} if m.role == "assistant" and costs else {})}
                        for m, message in zip(path, saved) if not present.is_results_only(message)]
        # The conversation's cost is every branch's: each reply was paid for.
        cost = {"total": costs.total, "unpriced": costs.unpriced} if costs else None
        return {**_summary_json(summary, set()), "messages": rendered, "leaf": end, "current": tree.leaf, "cost": cost,
                "path": [m.id for m in path]}  # tool results' messages too, which are not shown

    def _message_html(self, role: str, content: str, parts: tuple[present.Part, ...], json_reply: bool = False) -> str:
        """A saved message as the page shows it: the user's text after its
        attachments' 📎 lines; a reply's text, thinking and tool calls in order
        (each call with its result: a result's own message is not shown); a
        reply asked for JSON (`--schema`, `json_reply`) as a JSON code block."""
        if role == "user":
            return user_html(content, [p.line for p in parts if isinstance(p, present.AttachmentPart)])
        if json_reply and not any(isinstance(p, present.ToolCallPart) for p in parts):
            return self._renderer.html(present.json_block(content))
        if not parts:
            return self._renderer.html(content)
        out = []
        for part in parts:
            match part:
                case present.TextPart(text):
                    out.append(self._renderer.html(text))
                case present.ThinkingPart(text):
                    out.append(thinking_html(text))
                case present.ToolCallPart():
                    result = part.answer or present.lost_result(part.call)
                    out.append(tool_html(part.line, result.status, self.redact(result.content)))
                case present.ToolResultPart() | present.AttachmentPart():
                    pass  # a reply carries neither; results show on their call
                case _:
                    assert_never(part)
        return "".join(out)

    def close(self) -> None:
        with self._store_lock:
            if self._store is not None:
                self._store.close()
                self._store = None


def _summary_json(summary: Any, live: set[int]) -> dict[str, Any]:
    return {"id": summary.id, "title": summary.title or "(empty)", "model": summary.model,
            "updated_at": summary.updated_at, "turns": summary.turns, "live": summary.id in live}
