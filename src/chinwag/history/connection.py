"""The history database's connection: opening (and creating, migrating,
recovering) it, and the transactions every read and write goes through.

`Connection` is the base of `Store` (store.py); the reads (reads.py) and the
search (search.py) are built on it. See store.py for the whole story.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

from chinwag.errors import ConfigError
from chinwag.history.schema import MIGRATIONS
from chinwag.history.check import LOCKED, StorageError, create_private, remove_created, storage_error, writable
from chinwag.history.writers import writer_alive

BUSY_TIMEOUT_S = 10.0


class Connection:
    """One open connection to the history database; one per thread."""


    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        self._busy_timeout = float(conn.execute("PRAGMA busy_timeout").fetchone()[0]) / 1000

    @classmethod
    def open(cls, path: Path | str, *, busy_timeout: float = BUSY_TIMEOUT_S, read_only: bool = False,
             max_pages: int | None = None) -> Self:
        """Open (creating if needed) the database at `path`, migrate it and
        mark abandoned "streaming" replies as "interrupted".

        `read_only` creates, migrates and marks nothing (for reading history
        from a read-only directory). `max_pages` caps the file's size in pages
        (SQLite's max_page_count, for this connection): tests use it to make
        the database "full"."""
        path = Path(path)
        created = [] if read_only else create_private(path)
        # A read-only directory cannot hold the WAL's shared memory: read the file as immutable.
        uri = path.resolve().as_uri() + ("?mode=rw" if not read_only else
                                         "?mode=ro&immutable=1" if not writable(path) else "?mode=ro")
        try:
            try:
                # Not only this thread: the recorder saves from its writer thread, under its lock.
                conn = sqlite3.connect(uri, uri=True, timeout=busy_timeout, isolation_level=None,
                                       check_same_thread=False)
            except sqlite3.Error as exc:
                raise storage_error(path, exc) from exc
            store = cls(conn, path)
            try:
                if max_pages is not None:
                    conn.execute(f"PRAGMA max_page_count = {int(max_pages)}")
                with store._translated():  # fails here if the file is not a database
                    _set_up(conn, busy_timeout, read_only)
                store._migrate(read_only)
                if not read_only:
                    store._recover_abandoned_replies()
            except BaseException:
                conn.close()
                raise
        except StorageError as exc:
            if created and exc.reason != LOCKED:
                remove_created(created)
            raise
        return store

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def waiting(self, seconds: float) -> Iterator[None]:
        """Wait at most `seconds` for another process's lock inside this block."""
        self._conn.execute(f"PRAGMA busy_timeout = {int(seconds * 1000)}")
        try:
            yield
        finally:
            self._conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")

    def room_to_grow(self) -> bool:
        """False when the database has reached its page limit with no free page left."""
        (count,), (limit,), (free,) = (self._query(f"PRAGMA {name}")[0]
                                       for name in ("page_count", "max_page_count", "freelist_count"))
        return bool(count < limit or free > 0)

    def _migrate(self, read_only: bool = False) -> None:
        """Apply the migrations not yet recorded, in order, in one transaction."""
        version = self._query("PRAGMA user_version")[0][0]
        if version == len(MIGRATIONS) or (read_only and version > len(MIGRATIONS)):
            return
        if read_only:
            raise StorageError(f"the history database {self.path} needs upgrading, and it is"
                               " read-only here", "read-only")
        with self._transaction() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS migrations"
                         " (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
            done = {name for (name,) in conn.execute("SELECT name FROM migrations")}
            if done - {name for name, _ in MIGRATIONS}:
                raise ConfigError(f"the history database {self.path} was written by a newer"
                                  " chinwag; upgrade chinwag or run with --no-save")
            for name, statements in MIGRATIONS:
                if name not in done:
                    for statement in statements:
                        if isinstance(statement, str):
                            conn.execute(statement)
                        else:
                            statement(conn)
                    conn.execute("INSERT INTO migrations VALUES (?, ?)", (name, time.time()))
            conn.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")

    def _recover_abandoned_replies(self) -> None:
        """Best effort: a database locked or full now is marked at a later open.
        A tool call left running by a process that is gone is interrupted too:
        it is never run again on its own."""
        rows = self._query("SELECT id, writer_pid FROM messages WHERE status = 'streaming'")
        abandoned = [(time.time(), rid) for rid, pid in rows if not writer_alive(pid)]
        calls = self._query("SELECT id, writer_pid FROM tool_calls WHERE status = 'running'")
        stopped = [(time.time(), cid) for cid, pid in calls if not writer_alive(pid)]
        if abandoned or stopped:
            try:
                with self._transaction() as conn:
                    conn.executemany("UPDATE messages SET status = 'interrupted', updated_at = ?"
                                     " WHERE id = ? AND status = 'streaming'", abandoned)
                    conn.executemany("UPDATE tool_calls SET status = 'interrupted', ended_at = ?"
                                     " WHERE id = ? AND status = 'running'", stopped)
            except StorageError as exc:
                if not exc.transient:
                    raise

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._translated():
            return self._conn.execute(sql, params).fetchall()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE takes the write lock up front, so a busy database
        is waited for rather than failing half-way."""
        with self._translated():
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except (sqlite3.ProgrammingError, sqlite3.InterfaceError):
            raise  # our own misuse (e.g. a closed store): a bug, not the user's
        except sqlite3.Error as exc:
            raise storage_error(self.path, exc) from exc




def _set_up(conn: sqlite3.Connection, busy_timeout: float, read_only: bool) -> None:
    """WAL and friends. Switching a new file to WAL needs it alone, and SQLite
    answers "locked" at once rather than waiting: two chinwags started together
    on a new database (the two-writer test caught it) retry for a while."""
    if read_only:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # is it a database at all?
        return
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            conn.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
