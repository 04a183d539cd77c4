"""Full-text search over the history (FTS5), bounded in words and in time. A base of `Store`."""

from __future__ import annotations

import time

from chinwag.errors import UsageError
from chinwag.history.check import StorageError
from chinwag.history.connection import Connection
from chinwag.history.schema import MARK_END, MARK_START, SearchHit, fts_query

# A search's cost grows much faster than its words (measured: 100 common words
# 0.4 s, 1,000 words 20 s), and it holds the reader others wait on.
MAX_SEARCH_WORDS = 32
SEARCH_SECONDS = 2.0


class Search(Connection):
    """Searching the history's messages."""

    def search(self, text: str, limit: int = 20, seconds: float = SEARCH_SECONDS) -> list[SearchHit]:
        """Messages containing every word of `text` (stemmed, case- and accent-
        insensitive), newest first. Replies still streaming are not indexed.

        At most MAX_SEARCH_WORDS words, and stopped after `seconds` (SQLite's
        progress handler), each a UsageError saying what to change."""
        if (words := len(text.split())) > MAX_SEARCH_WORDS:
            raise UsageError(f"a search can have at most {MAX_SEARCH_WORDS} words; this one has {words:,}.")
        if not (query := fts_query(text)):
            return []
        deadline = time.monotonic() + seconds
        stopped = False

        def too_long() -> bool:
            nonlocal stopped
            stopped = time.monotonic() > deadline
            return stopped

        self._conn.set_progress_handler(too_long, 1000)  # called every 1,000 SQLite VM steps
        try:
            rows = self._query(
                "SELECT m.conversation_id, m.id, m.role,"
                " snippet(messages_fts, 0, ?, ?, '…', 12), m.created_at"
                " FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid"
                " WHERE messages_fts MATCH ? ORDER BY messages_fts.rowid DESC LIMIT ?",
                (MARK_START, MARK_END, query, limit))
        except StorageError:
            if stopped:
                raise UsageError(f"the search took over {seconds:g} s and was stopped; "
                                 "search for fewer or rarer words.") from None
            raise
        finally:
            self._conn.set_progress_handler(None, 0)
        return [SearchHit(*row) for row in rows]

