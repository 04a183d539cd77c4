"""What is wrong with the history database, in a few words, and `chinwag history check`.

Every storage failure is classified here, in one place, into a short reason a
user can act on (`reason_of`):

    "disk full"                   no room to grow (SQLITE_FULL, ENOSPC)
    "locked by another process"   SQLITE_BUSY / SQLITE_LOCKED after the busy timeout
    "damaged"                     not a database, a malformed page, a bad WAL header
    "read-only"                   the file or its directory cannot be written
    "disk I/O error"              the operating system failed a read or write

`StorageError` carries that reason. "disk full", "locked by another process"
and "disk I/O error" may clear by themselves (`transient`): the chat keeps what
it could not save in memory and tries again. The others stop saving for the
session. Nothing here ever writes to the database: the checks read raw bytes
or use a read-only connection; the only files made or removed are a new
database's own (`create_private`, and `remove_created` when it could not be
made: no 0-byte debris).
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import struct
from contextlib import suppress
from pathlib import Path
from typing import TextIO

from chinwag.errors import ConfigError

FULL, LOCKED, DAMAGED, READ_ONLY, IO_ERROR = (
    "disk full", "locked by another process", "damaged", "read-only", "disk I/O error")
TRANSIENT = frozenset({FULL, LOCKED, IO_ERROR})
SQLITE_HEADER = b"SQLite format 3\x00"
WAL_MAGIC = (0x377F0682, 0x377F0683)
MIN_FREE_BYTES = 256 * 1024  # less free space than this on the disk counts as full

_BY_CODE = {13: FULL, 5: LOCKED, 6: LOCKED, 15: LOCKED, 11: DAMAGED, 26: DAMAGED, 8: READ_ONLY,
            3: READ_ONLY, 10: IO_ERROR}  # primary SQLite result codes
_BY_ERRNO = {errno.ENOSPC: FULL, errno.EDQUOT: FULL, errno.EFBIG: FULL, errno.EACCES: READ_ONLY,
             errno.EPERM: READ_ONLY, errno.EROFS: READ_ONLY, errno.EIO: IO_ERROR}


class StorageError(ConfigError):
    """The history database cannot be used right now; `reason` says why in a few words."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason

    @property
    def transient(self) -> bool:
        return self.reason in TRANSIENT


def reason_of(exc: BaseException) -> str:
    """The short reason for a failure of sqlite3 or of the file system."""
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        if isinstance(code, int) and (code & 0xFF) in _BY_CODE:
            return _BY_CODE[code & 0xFF]
        text = str(exc)
        for words, reason in (("full", FULL), ("locked", LOCKED), ("busy", LOCKED),
                              ("malformed", DAMAGED), ("not a database", DAMAGED),
                              ("readonly", READ_ONLY), ("read-only", READ_ONLY)):
            if words in text:
                return reason
        return text
    if isinstance(exc, OSError):
        return _BY_ERRNO.get(exc.errno or 0, exc.strerror or str(exc))
    return str(exc)


def storage_error(path: Path, exc: BaseException, detail: str | None = None) -> StorageError:
    """The one-line error for `exc` at `path` (history commands show it as it is)."""
    reason = reason_of(exc)
    if reason == "unable to open database file" and not writable(path):
        reason = READ_ONLY
    detail = detail or (str(exc) if isinstance(exc, sqlite3.Error) else getattr(exc, "strerror", None)
                        or str(exc))
    if reason == LOCKED:
        return StorageError(f"the history database {path} is busy (locked by another process);"
                            " try again, or run with --no-save", reason)
    what = detail if reason in (detail, IO_ERROR) else f"{reason}: {detail}"
    hint = "run `chinwag history check`, move it aside," if reason == DAMAGED else "move it aside,"
    return StorageError(f"cannot use the history database {path} ({what}); it was left as it is:"
                        f" {hint} or run with --no-save to chat without saving", reason)


def damage_in_files(path: Path) -> str | None:
    """What is visibly wrong with the bytes of the database or its WAL, read
    without SQLite (which would rewrite a WAL it cannot use), or None.

    Call it only while this process has no SQLite connection to `path`: closing
    any file descriptor of a file drops every POSIX lock this process holds on
    it, the connection's included, and another process could then checkpoint
    and remove the WAL under it (`chinwag serve` checks once, at start)."""
    try:
        with path.open("rb") as file:
            header = file.read(100)
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        return "it is a directory"
    if header and not header.startswith(SQLITE_HEADER):
        return "file is not a database"
    wal = Path(f"{path}-wal")
    try:
        with wal.open("rb") as file:
            head = file.read(32)
    except OSError:
        return None
    if len(head) == 32 and not _valid_wal_header(head):
        return f"its write-ahead log {wal.name} is not a valid log"
    return None


def _valid_wal_header(head: bytes) -> bool:
    magic, version, _, _, _, _, sum1, sum2 = struct.unpack(">8I", head)
    if magic not in WAL_MAGIC or version != 3007000:
        return False
    order = ">" if magic & 1 else "<"
    s1 = s2 = 0
    words = struct.unpack(f"{order}6I", head[:24])
    for i in range(0, 6, 2):
        s1 = (s1 + words[i] + s2) & 0xFFFFFFFF
        s2 = (s2 + words[i + 1] + s1) & 0xFFFFFFFF
    return (s1, s2) == (sum1, sum2)


def refuse_if_damaged(path: Path) -> None:
    """StorageError("damaged") if the bytes are plainly wrong or SQLite's quick
    check finds damage: asked before anything is written to the file."""
    found = damage_in_files(path)
    if found is None and path.exists() and path.stat().st_size > 0:
        found = next(iter(problems(path, limit=1)), None)
    if found is not None:
        raise StorageError(f"cannot use the history database {path} ({DAMAGED}: {found}); it was left"
                           " as it is: run `chinwag history check`, or run with --no-save", DAMAGED)


def not_saved(reason: str, path: Path) -> str:
    """The chat's one line for a fault: the short reason, the file, what to do."""
    if str(path) in reason:  # a whole sentence already (e.g. a newer chinwag's database)
        return f"history is not being saved: {reason}"
    hint = "; see `chinwag history check`" if reason == DAMAGED else ""
    return f"history is not being saved: {reason} ({path}){hint}"


def problems(path: Path, limit: int = 10) -> list[str]:
    """SQLite's own integrity check, on a read-only connection (never written):
    [] when the database is sound, else up to `limit` lines saying what is wrong."""
    if (damage := damage_in_files(path)) is not None:
        return [damage]
    try:
        conn = _read_only(path)
        try:
            rows = conn.execute(f"PRAGMA quick_check({int(limit)})").fetchall()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        if reason_of(exc) != DAMAGED:
            raise storage_error(path, exc) from exc
        return [str(exc)]
    found = [str(row[0]) for row in rows]
    return [] if found == ["ok"] else found


def _read_only(path: Path) -> sqlite3.Connection:
    """A connection that cannot write (immutable where the directory is read-only,
    since SQLite could not make the WAL's shared-memory file there)."""
    uri = path.resolve().as_uri() + ("?mode=ro" if writable(path) else "?mode=ro&immutable=1")
    return sqlite3.connect(uri, uri=True, timeout=1.0)


def disk_is_full(path: Path) -> bool:
    """Whether the file system holding `path` has (almost) no room left."""
    try:
        fs = os.statvfs(path.parent if path.parent.exists() else Path.cwd())
    except OSError:
        return False
    return fs.f_bavail * fs.f_frsize < MIN_FREE_BYTES


def writable(path: Path) -> bool:
    """Whether this process may write the database (and its directory, for the WAL)."""
    folder = path.parent
    if path.exists():
        return os.access(path, os.W_OK) and os.access(folder, os.W_OK)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return os.access(folder, os.W_OK)


# -- a new database's files ----------------------------------------------------------

def create_private(path: Path) -> list[Path]:
    """Create the directory (0700) and an empty file (0600) if missing; what
    was created, the file last ([] when the file was there already)."""
    made = [folder for folder in reversed(path.parents) if not folder.exists()]
    try:
        if made:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(path.parent, 0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return []
    except OSError as exc:
        remove_created(made)
        raise storage_error(path, exc, f"cannot create it: {exc.strerror}") from exc
    os.close(fd)
    os.chmod(path, 0o600)
    return [*made, path]


def remove_created(made: list[Path]) -> None:
    """Take back what `create_private` made (with the file's WAL and shared
    memory) when it could not be made into a database: no 0-byte debris.
    A directory something else has put files in meanwhile stays."""
    for made_path in reversed(made):
        if made_path.is_dir():
            with suppress(OSError):
                os.rmdir(made_path)
            continue
        for name in (f"{made_path}-wal", f"{made_path}-shm", str(made_path)):
            with suppress(OSError):
                os.remove(name)


# -- chinwag history check ----------------------------------------------------------

def report(path: Path, out: TextIO) -> int:
    """Say whether the history database is usable and, if not, how to recover.
    Returns 0 when it is sound, 1 when a problem was found. Never writes to it."""
    if not path.exists():
        out.write(f"No history database yet ({path}); one is made when you first chat.\n")
        return 0
    found = problems(path)
    size = path.stat().st_size
    out.write(f"History database: {path} ({_size(size)})\n")
    if found:
        out.write("Damaged: " + found[0] + "\n" + "".join(f"  {line}\n" for line in found[1:]))
        out.write(_recovery(path))
        return 1
    out.write("Integrity: ok\n" + _counts(path))
    notes = []
    if not writable(path):
        notes.append("read-only: chinwag can show this history but not add to it")
    if disk_is_full(path):
        notes.append("disk full: new conversations cannot be saved until there is room")
    for note in notes:
        out.write(f"Note: {note}\n")
    return 1 if notes else 0


def _counts(path: Path) -> str:
    conn = _read_only(path)
    try:
        conversations = conn.execute("SELECT count(*) FROM conversations").fetchone()[0]
        messages = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
    except sqlite3.Error:
        return ""
    finally:
        conn.close()
    return f"Holds {conversations} conversations, {messages} messages.\n"


def _recovery(path: Path) -> str:
    aside = f"{path}.damaged"
    lines = ["chinwag has not changed it. To recover what SQLite can still read:"]
    if _cli_can_recover():
        lines += [f"  sqlite3 {path} .recover | sqlite3 recovered.db"]
    elif shutil.which("sqlite3"):  # a CLI built without .recover: a dump keeps every row it can read
        lines += [f"  sqlite3 {path} .dump | sed 's/^ROLLBACK; -- due to errors$/COMMIT;/'"
                  " | sqlite3 recovered.db"]
    else:
        lines += ["  install SQLite's command-line tool (e.g. `apt install sqlite3`), then",
                  f"  sqlite3 {path} .recover | sqlite3 recovered.db"]
    lines += [f"  mv {path} {aside} && mv recovered.db {path}",
              f"Or move it aside to start a new history: mv {path} {aside}",
              "Until then chinwag chats without saving, and says so."]
    return "\n".join(lines) + "\n"


def _cli_can_recover() -> bool:
    """Whether the sqlite3 command-line tool here has a working `.recover`
    (some builds lack the page reader it needs and fail even on sound files)."""
    import subprocess

    if not shutil.which("sqlite3"):
        return False
    try:
        done = subprocess.run(["sqlite3", ":memory:", ".recover"], capture_output=True, timeout=10,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    return f"{n / 1024:.1f} KB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.1f} MB"
