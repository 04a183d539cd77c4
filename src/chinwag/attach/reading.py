"""Reading what the user names, bounded by the bytes actually read.

A size reported by the file system proves nothing: a device (`/dev/zero`)
says 0 and never ends, a FIFO with no writer blocks the open itself. So a
path (`-a PATH`, `-f PATH`) must be a regular file, checked before anything
is read (the open is non-blocking, so a FIFO swapped in after the check
cannot hang it either); and every read, stdin included, takes at most
`cap + 1` bytes, a chunk at a time, so a Ctrl-C lands between two chunks
and nothing grows past the cap. Refusals are one `UsageError` line.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from chinwag.errors import UsageError

CHUNK = 1024 * 1024
_KINDS = {stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device", stat.S_IFIFO: "a FIFO (named pipe)",
          stat.S_IFSOCK: "a socket"}


def size_text(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n / 1024 / 1024:.1f} MB"


def read_path(spec: str, cap: int, action: str, verb: str = "reads") -> tuple[Path, bytes]:
    """The bytes of the regular file `spec` names, at most `cap`. `action` starts
    each refusal ("cannot attach", "cannot read the prompt file"); `verb` says
    what chinwag does with files up to the cap ("attaches")."""
    try:
        path = Path(spec).expanduser()
        _check_regular(spec, os.stat(path), cap, action, verb)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with open(fd, "rb", buffering=0) as file:
            _check_regular(spec, os.fstat(fd), cap, action, verb)  # the same file we checked by name
            data = read_capped(file, cap)
    except FileNotFoundError:
        raise UsageError(f"{action} {spec}: no such file.") from None
    except (OSError, RuntimeError, ValueError) as exc:  # permission, a NUL in the name, ~nobody
        raise UsageError(f"{action} {spec}: {str(getattr(exc, 'strerror', None) or exc).rstrip('.')}.") from None
    if data is None:
        raise UsageError(f"{action} {spec}: it is over {size_text(cap)}, the most chinwag {verb}.")
    return path, data


def read_stream(stream: BinaryIO, cap: int, name: str = "standard input") -> bytes:
    """All of `stream` (stdin), refused once it passes `cap` bytes."""
    data = read_capped(stream, cap)
    if data is None:
        raise UsageError(f"{name} is over {size_text(cap)}, the most chinwag reads.")
    return data


def read_capped(stream: BinaryIO, cap: int) -> bytes | None:
    """The stream's bytes, or None as soon as more than `cap` arrived (the rest unread).
    One chunk per call (`read1` where there is one), so a slow source is interruptible."""
    read = getattr(stream, "read1", stream.read)
    chunks: list[bytes] = []
    total = 0
    while total <= cap:
        chunk = read(min(CHUNK, cap + 1 - total))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
    return None


def _check_regular(spec: str, info: os.stat_result, cap: int, action: str, verb: str) -> None:
    if stat.S_ISDIR(info.st_mode):
        raise UsageError(f"{action} {spec}: it is a directory; attach the files in it one by one"
                         f" (e.g. -a {spec.rstrip('/')}/FILE), or pack it with zip or tar first.")
    if not stat.S_ISREG(info.st_mode):
        kind = _KINDS.get(stat.S_IFMT(info.st_mode), "not a regular file")
        raise UsageError(f"{action} {spec}: it is {kind}, not a regular file; to send a stream,"
                         " pipe it to chinwag's standard input.")
    if info.st_size > cap:
        raise UsageError(f"{action} {spec}: it is {size_text(info.st_size)}; chinwag {verb} files up to"
                         f" {size_text(cap)}.")
