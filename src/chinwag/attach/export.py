"""Attachments in a markdown export: each written once, as a file beside the
markdown (in a `NAME_files` folder), and linked from the message that sent it."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from chinwag.errors import UsageError
from chinwag.records import Document, Image, Message


def attachments(messages: Iterable[Message]) -> list[Image | Document]:
    return [b for m in messages for b in m.blocks if isinstance(b, (Image, Document))]


def write_beside(messages: list[Message], output: str | None, conversation_id: int, err: TextIO) -> dict[str, str]:
    """Write a markdown export's attachments beside `output` (FILE_files/), or,
    for stdout, into conversation-ID_files/ here, and say so on `err`."""
    found = attachments(messages)
    if not found:
        return {}
    path = Path(output).expanduser() if output else None
    folder = path.with_name(path.stem + "_files") if path else Path.cwd() / f"conversation-{conversation_id}_files"
    links = write_files(found, folder)
    if path is None:
        from chinwag.render.sanitize import sanitize

        err.write(f"chinwag: wrote {len(links)} attachment{'s' * (len(links) != 1)} to"
                  f" {sanitize(str(folder))}/ (the markdown links them from there)\n")
    return links


def write_files(blocks: list[Image | Document], folder: Path) -> dict[str, str]:
    """Write each attachment (once per content) into `folder`; sha256 -> link
    (the folder's name / the file's name) for the markdown."""
    links: dict[str, str] = {}
    if not blocks:
        return links
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for block in blocks:
            digest = hashlib.sha256(block.data).hexdigest()
            if digest in links:
                continue
            name = f"{len(links) + 1}-{safe_name(block.name, block.media_type)}"
            (folder / name).write_bytes(block.data)
            links[digest] = f"{folder.name}/{name}"
    except OSError as exc:
        raise UsageError(f"cannot write the attachments to {folder}: {exc.strerror or exc}.") from None
    return links


def markdown_links(message: Message, links: dict[str, str]) -> str:
    """`![name](folder/file)` for each image, `[name](folder/file)` for each PDF."""
    out = []
    for block in attachments([message]):
        link = links.get(hashlib.sha256(block.data).hexdigest())
        label = safe_name(block.name, block.media_type)
        if link is not None:
            out.append(f"{'!' if isinstance(block, Image) else ''}[📎 {label}]({link.replace(' ', '%20')})")
    return "\n\n".join(out)


def safe_name(name: str, media_type: str) -> str:
    """A file name that is safe anywhere: no folders, no control characters."""
    base = re.sub(r"[^\w.\- ]+", "_", name.replace("\\", "/").rsplit("/", 1)[-1]).strip(" .") or "attachment"
    extension = {"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif", "image/webp": ".webp",
                 "application/pdf": ".pdf"}.get(media_type, "")
    return base if base.lower().endswith(extension) else base + extension
