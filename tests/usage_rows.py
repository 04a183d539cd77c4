"""Replies with usage and cost, saved through the Store and then given the figures
a turn would have stored (m009's columns, and a chosen time), for the `chinwag usage`
and Usage view tests. Simulated: no model is asked; the rows are what a turn leaves."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from chinwag.history.store import Store


def utc(text: str) -> float:
    """'2026-03-10 23:30' in UTC, as Unix seconds."""
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()


def add_reply(home: Path, when: float, *, model: str = "claude-sonnet-4-20250514", provider: str | None = "anthropic",
              input_tokens: int = 1000, output_tokens: int = 200, cost: float | None = 0.006,
              cache_read: int = 0, cid: int | None = None, title: str | None = None, text: str = "an answer") -> tuple[int, int]:
    """A question and its reply at `when`; (conversation id, reply id). provider=None and
    cost=None: a reply saved before costs were stored."""
    home.mkdir(parents=True, exist_ok=True)
    store = Store.open(home / "history.db")
    try:
        if cid is None:
            cid = store.start_conversation(model)
            if title:
                store.rename_conversation(cid, title)
        store.add_message(cid, "user", "a question", model=model)
        rid = store.begin_reply(cid, model=model)
        store.update_reply(rid, text, "complete", input_tokens=input_tokens, output_tokens=output_tokens)
        with store._transaction() as conn:  # the figures a turn stores (m009), at the chosen time
            conn.execute("UPDATE messages SET provider = ?, cost = ?, cache_read_tokens = ?, created_at = ?,"
                         " price_source = ? WHERE id = ?",
                         (provider, cost, cache_read, when, None if cost is None else "test", rid))
        return cid, rid
    finally:
        store.close()
