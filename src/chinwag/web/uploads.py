"""Files the page uploads, held on disk until a message takes them.

An upload never sits whole in memory: a body whose Content-Length is over the
cap is refused before a byte of it is read (`too_large`), and every body,
chunked ones included, is streamed to a file in a private folder (mkdtemp,
0700) and cut off at `cap + 1` bytes (`receive`). The file is then made into
an attachment block as `-a` makes one (`chinwag.attach.load`: the type from
the content, images within the provider's limits, their pixels decoded one
image at a time), at most `PREPARING` files at once (`prepare`: the others wait
in the event loop, not in the thread pool the rest of the page needs); the
block's bytes go back
to disk and only its 📎 line stays in memory (`hold`). A send takes the blocks
by id (`take`). Unsent uploads expire after `TTL` seconds, and beyond the
newest `KEEP` the oldest go, their files deleted with them; `close` (at
shutdown) deletes the folder. Buffers of 1 MB and more are given back to the
system when freed (see `_large_buffers_back_to_the_system`), so the server
returns to its idle size after a burst.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from chinwag.attach import MAX_BYTES
from chinwag.errors import UsageError
from chinwag.records import Block, Document, Image, Text

if TYPE_CHECKING:
    from chinwag.attach import Attachment

KEEP = 32  # uploads not sent yet; the oldest beyond are forgotten
TTL = 30 * 60  # seconds an unsent upload is kept
PREPARING = 2  # uploads read and made into blocks at once


@dataclass(frozen=True)
class _Held:
    folder: Path  # this upload's own folder: the block's bytes in `data`
    kind: type[Block]
    media: str
    name: str
    line: str
    expires: float


def too_large(content_length: str | None, cap: int = MAX_BYTES) -> bool:
    """Whether a declared Content-Length is over `cap` (refused before reading)."""
    return content_length is not None and content_length.strip().isdigit() and int(content_length) > cap


class Uploads:
    def __init__(self, *, keep: int = KEEP, ttl: float = TTL, clock: Callable[[], float] = time.monotonic) -> None:
        self.keep, self.ttl, self.clock = keep, ttl, clock
        _large_buffers_back_to_the_system()
        self._root: Path | None = None
        self._held: OrderedDict[str, _Held] = OrderedDict()
        self._lock = threading.Lock()
        self._gate = asyncio.Semaphore(PREPARING)

    def root(self) -> Path:
        with self._lock:
            if self._root is None:
                self._root = Path(tempfile.mkdtemp(prefix="chinwag-uploads-"))  # 0700: this user's alone
            return self._root

    async def receive(self, body: AsyncIterator[bytes], name: str, cap: int = MAX_BYTES) -> Path | None:
        """The body written to a new file named `name` (in a folder of its own);
        None, and nothing kept, once more than `cap` bytes arrived."""
        folder = Path(tempfile.mkdtemp(dir=self.root()))
        path, total = folder / name, 0
        try:
            with path.open("xb") as file:
                async for chunk in body:
                    total += len(chunk)
                    if total > cap:
                        break
                    file.write(chunk)
        except BaseException:  # the page went away mid-upload, the disk is full: nothing kept
            shutil.rmtree(folder, ignore_errors=True)
            raise
        if total > cap:
            shutil.rmtree(folder, ignore_errors=True)
            return None
        return path

    async def prepare(self, path: Path, make: Callable[[Path], tuple[str, str]]) -> tuple[str, str]:
        """`make(path)` (which calls `hold`) in a worker thread once fewer than
        `PREPARING` are running; a request gone while it waited leaves nothing."""
        from starlette.concurrency import run_in_threadpool

        try:
            await self._gate.acquire()
        except BaseException:
            shutil.rmtree(path.parent, ignore_errors=True)
            raise
        try:
            return await run_in_threadpool(make, path)  # not cancellable: it finishes, or refuses, whole
        finally:
            self._gate.release()

    def hold(self, path: Path, provider: str) -> tuple[str, str]:
        """The file at `path` (from `receive`) made into a block for `provider` and
        kept on disk; its id for the next send and its 📎 line. Refusals are
        UsageErrors, and leave nothing behind."""
        from chinwag.attach import load

        folder = path.parent
        try:
            attachment = load(str(path), provider)
            path.unlink()
            held = self._written(folder, attachment)
            del attachment
        except UsageError as exc:  # named by the file's name, not by where it was kept
            shutil.rmtree(folder, ignore_errors=True)
            raise UsageError(exc.message.replace(f"{folder}/", "")) from None
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return self._remember(held)

    def hold_attachment(self, attachment: Attachment) -> tuple[str, str]:
        """An attachment made elsewhere (an MCP server's resource) held as an upload is:
        its id for the next send and its 📎 line."""
        folder = Path(tempfile.mkdtemp(dir=self.root()))
        try:
            held = self._written(folder, attachment)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return self._remember(held)

    def _written(self, folder: Path, attachment: Attachment) -> _Held:
        """The attachment's block written to `folder`/data."""
        block = attachment.block
        if isinstance(block, (Image, Document)):
            (folder / "data").write_bytes(block.data)
            return _Held(folder, type(block), block.media_type, block.name, attachment.line, self.clock() + self.ttl)
        if isinstance(block, Text):
            (folder / "data").write_text(block.text, encoding="utf-8")
            return _Held(folder, Text, "text/plain", "", attachment.line, self.clock() + self.ttl)
        raise UsageError("that file cannot be attached.")  # attach/ makes nothing else

    def _remember(self, held: _Held) -> tuple[str, str]:
        key = secrets.token_urlsafe(12)
        with self._lock:
            self._held[key] = held
            dropped = self._expired() + [self._held.popitem(last=False)[1] for _ in range(len(self._held) - self.keep)]
        _delete(dropped)
        return key, held.line

    def take(self, keys: Sequence[str]) -> tuple[Block, ...]:
        """The blocks of uploads `keys`, in order, read back from disk; they are
        gone from here after. Refused whole if any has expired or is unknown."""
        with self._lock:
            dropped = self._expired()
            missing = [k for k in keys if k not in self._held]
            taken = [] if missing else [self._held.pop(k) for k in keys]
        _delete(dropped)
        if missing:
            raise UsageError("an attachment is no longer on the server; attach it again.")
        try:
            return tuple(_block(held) for held in taken)
        finally:
            _delete(taken)

    def __len__(self) -> int:
        with self._lock:
            return len(self._held)

    def close(self) -> None:
        """Forget every upload and delete their folder (at shutdown)."""
        with self._lock:
            self._held.clear()
            root, self._root = self._root, None
        if root is not None:
            shutil.rmtree(root, ignore_errors=True)

    def _expired(self) -> list[_Held]:
        now = self.clock()
        gone = [key for key, held in self._held.items() if held.expires <= now]
        return [self._held.pop(key) for key in gone]


def _large_buffers_back_to_the_system() -> None:
    """Have glibc's malloc map every buffer of 1 MB or more on its own (M_MMAP_THRESHOLD),
    so freeing it gives it back. By default the threshold rises to the largest
    buffer freed (up to 32 MB), after which a file read or a decoded image lands in
    the heap of whichever worker thread made it, and stays there: a server that
    took a few uploads kept hundreds of MB. Elsewhere (musl, macOS) nothing to do."""
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt  # this process's C library
    except (OSError, AttributeError):
        return
    mallopt(-3, 1024 * 1024)  # M_MMAP_THRESHOLD


def _block(held: _Held) -> Block:
    data = held.folder / "data"
    if held.kind is Text:
        return Text(data.read_text(encoding="utf-8"))
    if held.kind is Image:
        return Image(held.media, data.read_bytes(), held.name)
    return Document(held.media, data.read_bytes(), held.name)


def _delete(held: Sequence[_Held]) -> None:
    for item in held:
        shutil.rmtree(item.folder, ignore_errors=True)
