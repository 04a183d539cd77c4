"""History databases as earlier versions of chinwag left them, for migration tests."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from chinwag.history.schema import MIGRATIONS


@contextmanager
def database_as_of(path: Path, migrations: int) -> Iterator[sqlite3.Connection]:
    """A database with only the first `migrations` migrations applied and
    recorded, as the chinwag of that schema made it; add rows, it commits."""
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
        for name, statements in MIGRATIONS[:migrations]:
            for statement in statements:
                if isinstance(statement, str):
                    conn.execute(statement)
                else:
                    statement(conn)
            conn.execute("INSERT INTO migrations VALUES (?, ?)", (name, time.time()))
        conn.execute(f"PRAGMA user_version = {migrations}")
        yield conn
        conn.commit()
