"""Uploads to `chinwag serve` are bounded: a body declared over 32 MB is refused
(413) before a byte of it is read; every body is streamed to a private folder
on disk and cut off past the cap (chunked ones too); what is not sent expires
and its files go with it, and shutdown deletes the folder. The memory figures
(serve's RSS under the worst case) are in bench/bench_serve_memory.py.

The HTTP tests run the real `chinwag serve`; the expiry tests drive `Uploads`
directly with a clock passed in (no sleeping), as the server's own requests do.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from chinwag.errors import UsageError
from chinwag.records import Document, Text
from chinwag.web.uploads import Uploads
from tests.cli_helpers import anthropic_env
from tests.fakes.server import ScriptedServer
from tests.test_web_support import Served, serve

MB = 1024 * 1024


@pytest.fixture()
def served(tmp_path: Path, fake: ScriptedServer) -> Iterator[Served]:
    with serve(anthropic_env(tmp_path / "home", fake.base_url), cwd=tmp_path) as served:
        yield served


def test_an_upload_declared_over_32_mb_is_refused_before_its_body_is_read(served: Served) -> None:
    # Only the headers are sent: a server that waited for the 33 MB body would time out here.
    status, _, data = served.request("POST", "/api/attach?name=big.pdf", headers={"Content-Length": str(33 * MB)})
    assert status == 413
    assert json.loads(data) == {"error": "that file is over 32 MB, the most chinwag attaches."}


def test_an_upload_is_held_on_disk_and_sent_by_its_id(served: Served, fake: ScriptedServer) -> None:
    pdf = b"%PDF-1.4\n" + os.urandom(200_000) + b"\n%%EOF\n"
    status, _, data = served.request("POST", "/api/attach?name=report.pdf&model=anthropic:claude-test", body=pdf)
    assert status == 200, data
    upload = json.loads(data)
    assert upload["line"].startswith("📎 report.pdf · application/pdf · ")
    from tests.fakes.server import Reply

    fake.enqueue(Reply(chunks=["Read it."]))
    body = json.dumps({"text": "summarise", "model": "anthropic:claude-test", "attachments": [upload["id"]]})
    status, _, stream = served.request("POST", "/api/chat", body=body.encode())
    assert status == 200 and b"Read it." in stream
    content = fake.requests[0].json["messages"][-1]["content"]
    import base64

    documents = [b for b in content if b.get("type") == "document"]
    assert len(documents) == 1 and base64.b64decode(documents[0]["source"]["data"]) == pdf
    again = served.request("POST", "/api/chat", body=body.encode())  # taken once: gone after
    assert b"no longer on the server" in again[2]


async def _chunks(total: int, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        chunk = b"x" * min(size, total - sent)
        sent += len(chunk)
        yield chunk


def test_a_body_past_the_cap_is_cut_off_and_nothing_is_kept(tmp_path: Path) -> None:
    uploads = Uploads()
    try:
        assert asyncio.run(uploads.receive(_chunks(33 * MB), "big.txt", cap=32 * MB)) is None
        assert list(uploads.root().iterdir()) == []
        path = asyncio.run(uploads.receive(_chunks(1000), "small.txt", cap=32 * MB))
        assert path is not None and path.stat().st_size == 1000 and path.name == "small.txt"
        assert stat.S_IMODE(uploads.root().stat().st_mode) == 0o700  # this user's alone
    finally:
        uploads.close()


async def _cut_short() -> AsyncIterator[bytes]:
    yield b"x" * 1000
    raise ConnectionResetError("the page went away")


def test_an_upload_cut_short_leaves_nothing_behind() -> None:
    uploads = Uploads()
    try:
        with pytest.raises(ConnectionResetError):
            asyncio.run(uploads.receive(_cut_short(), "half.txt"))
        assert list(uploads.root().iterdir()) == []
    finally:
        uploads.close()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _held(uploads: Uploads, name: str, data: bytes) -> str:
    path = asyncio.run(uploads.receive(_chunks_of(data), name))
    assert path is not None
    return uploads.hold(path, "anthropic")[0]


async def _chunks_of(data: bytes) -> AsyncIterator[bytes]:
    yield data


def test_unsent_uploads_expire_and_their_files_are_deleted() -> None:
    clock = Clock()
    uploads = Uploads(ttl=60, clock=clock)
    try:
        old = _held(uploads, "old.txt", b"old notes\n")
        clock.now += 30
        fresh = _held(uploads, "fresh.pdf", b"%PDF-1.4\nfresh\n%%EOF\n")
        assert len(list(uploads.root().iterdir())) == 2  # each on disk, in a folder of its own
        clock.now += 31  # old is 61 s old: expired; fresh 31 s
        with pytest.raises(UsageError, match="no longer on the server"):
            uploads.take([old])
        assert len(list(uploads.root().iterdir())) == 1
        (block,) = uploads.take([fresh])
        assert block == Document("application/pdf", b"%PDF-1.4\nfresh\n%%EOF\n", "fresh.pdf")
        assert list(uploads.root().iterdir()) == []
    finally:
        uploads.close()


def test_beyond_the_newest_32_the_oldest_upload_goes_and_shutdown_deletes_the_folder() -> None:
    uploads = Uploads(keep=3)
    keys = [_held(uploads, f"n{i}.txt", f"note {i}\n".encode()) for i in range(5)]
    root = uploads.root()
    assert len(uploads) == 3 and len(list(root.iterdir())) == 3
    with pytest.raises(UsageError):
        uploads.take(keys[:1])
    assert uploads.take(keys[4:])[0] == Text("# file: n4.txt\n```\nnote 4\n```\n\n")
    uploads.close()
    assert not root.exists()


def test_a_refused_upload_leaves_nothing_behind() -> None:
    uploads = Uploads()
    try:
        path = asyncio.run(uploads.receive(_chunks_of(b"\x89PNG\r\n\x1a\n" + b"\0" * 40), "broken.png"))
        assert path is not None
        with pytest.raises(UsageError, match="not a readable image"):
            uploads.hold(path, "anthropic")
        assert list(uploads.root().iterdir()) == [] and len(uploads) == 0
        empty = asyncio.run(uploads.receive(_chunks_of(b""), "empty.txt"))
        assert empty is not None
        with pytest.raises(UsageError) as refused:
            uploads.hold(empty, "anthropic")
        assert refused.value.message == "empty.txt is empty; nothing attached."  # not where it was kept
    finally:
        uploads.close()
