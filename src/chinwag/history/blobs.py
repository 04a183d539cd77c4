"""Attachments in the history database: the `blobs` table (m004), one row per
content hash, and `message_blobs`, which message uses which.

Store calls these inside its own transactions; each takes the connection.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from chinwag.history.blocks import Blob, with_data


def save(conn: sqlite3.Connection, message_id: int, blobs: Sequence[Blob]) -> None:
    """Store each blob unless its hash is already there, and link it to the message."""
    for blob in blobs:
        conn.execute("INSERT OR IGNORE INTO blobs (sha256, media_type, size, data) VALUES (?, ?, ?, ?)",
                     (blob.sha256, blob.media_type, len(blob.data), blob.data))
        conn.execute("INSERT OR IGNORE INTO message_blobs (message_id, sha256) VALUES (?, ?)",
                     (message_id, blob.sha256))


def load(conn: sqlite3.Connection, sha256: str) -> bytes | None:
    row = conn.execute("SELECT data FROM blobs WHERE sha256 = ?", (sha256,)).fetchone()
    return bytes(row[0]) if row is not None else None


def resolved(conn: sqlite3.Connection, blocks: str | None) -> str | None:
    """A message's `blocks` with its attachments' bytes in them (base64)."""
    if not blocks or '"sha256"' not in blocks:
        return blocks
    return with_data(blocks, lambda sha256: load(conn, sha256))


def forget_conversation(conn: sqlite3.Connection, cid: int) -> None:
    """(Before its messages are deleted.) Unlink them, then delete the blobs nothing else uses."""
    conn.execute("DELETE FROM message_blobs WHERE message_id IN"
                 " (SELECT id FROM messages WHERE conversation_id = ?)", (cid,))
    conn.execute("DELETE FROM blobs WHERE NOT EXISTS"
                 " (SELECT 1 FROM message_blobs m WHERE m.sha256 = blobs.sha256)")
