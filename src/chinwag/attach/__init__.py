"""Attachments: a file, a URL or standard input made into a content block.

`load(spec, provider)` reads what `spec` names and gives an `Attachment`: the
block to send (an Image, a Document, or a Text block under a header naming
the file) and the one dim line the user sees (`📎 diagram.png · image/png ·
1280×720 · 212 KB`). The type comes from the content (magic bytes), never from
the name: a `.png` that is not an image is refused, and `-` (stdin) works.

Each provider's limits, as its registry row declares them (`Attachments` in
providers/spec.py), are honoured here, before anything is sent: an image over
them is downscaled with Pillow to the provider's recommended size, and the
line says so; nothing is dropped silently. A provider declared text only (the
bundled model) refuses images and PDFs, one declared without PDFs refuses
those, and each takes its declared image types (`check`). Reading is bounded by the
bytes read and takes regular files only (`reading.py`). Everything refused is
one `UsageError` line, and nothing is sent; a URL the network failed to fetch is
a `FetchFailed` (exit 1); an empty source is `NothingToAttach`. Pillow and pypdf are imported only when
an image or a PDF's text needs them; nothing here is imported before `You:`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO

from chinwag.attach.reading import read_path, read_stream, size_text
from chinwag.errors import UsageError
from chinwag.providers.spec import IMAGE_TYPES, MAX_ATTACHMENT_BYTES, Attachments
from chinwag.records import Block, Document, Image, Text

MAX_BYTES = MAX_ATTACHMENT_BYTES  # refused above this, before it is read whole (a provider may take less)
URL_TIMEOUT = 20.0  # seconds for a URL's whole body
PDF = "application/pdf"
_IMAGE_NAMES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff", ".heic", ".avif", ".ico")


class NothingToAttach(UsageError):
    """The source was empty: nothing is attached (the one-shot says so and goes on)."""


@dataclass(frozen=True)
class Attachment:
    block: Block
    line: str  # what the user sees, without styling


def load(spec: str, provider: str, *, as_text: bool = False, stdin: BinaryIO | None = None) -> Attachment:
    """Read `spec` (a path, an http(s) URL, or `-` for stdin) as a block for `provider`
    (a registry name; "" for a model name no provider claims, sent to a base URL)."""
    takes = accepted(provider)
    name, data, declared = _read(spec, stdin, min(MAX_BYTES, takes.max_bytes))
    return from_bytes(name, data, provider, as_text=as_text, declared=declared)


def from_bytes(name: str, data: bytes, provider: str, *, as_text: bool = False, declared: str = "") -> Attachment:
    """`data`, read already (within the provider's limit) from what `name` names, as a
    block for `provider`: the type from the content, as `load` does (an MCP resource)."""
    takes = accepted(provider)
    media = sniff(data)
    if media in IMAGE_TYPES:
        return _image(name, data, media, provider, takes)
    if media == PDF:
        return _pdf_text(name, data) if as_text else _checked(Attachment(
            Document(PDF, data, name), _line(name, PDF, size=len(data))), provider)
    if media is not None:
        raise UsageError(f"{name} is {media}, which chat APIs do not take; convert it to PNG or JPEG.")
    if declared.startswith("image/") or name.lower().endswith(_IMAGE_NAMES):
        raise UsageError(f"{name} is not an image: its contents are not PNG, JPEG, GIF or WebP.")
    if declared == PDF or name.lower().endswith(".pdf"):
        raise UsageError(f"{name} is not a PDF: its contents do not start with %PDF.")
    return _text(name, data)


def accepted(provider: str) -> Attachments:
    """What `provider` declares it takes; "" (a bare model name at a base URL)
    is the OpenAI-compatible provider's. An unknown name is a UsageError."""
    from chinwag.providers.registry import at_base_url, entry

    return (entry(provider) if provider else at_base_url()).attachments


def check(blocks: Iterable[Block], provider: str) -> None:
    """Refuse, before any request, an image or a PDF the provider declares it cannot take.
    A provider outside the registry (a test double) is left to its server."""
    from chinwag.providers.registry import at_base_url, find

    spec = find(provider) if provider else at_base_url()
    if spec is None:
        return
    for block in blocks:
        if isinstance(block, (Image, Document)):
            why = (spec.attachments.refusal("image", block.media_type) if isinstance(block, Image)
                   else spec.attachments.refusal("document"))
            if why is not None:
                what = "an image" if isinstance(block, Image) else "a PDF (try --as-text)"
                if spec.attachments.text_only:
                    raise UsageError(f"{why} and cannot take {block.name or what} ({what});"
                                     " use a model that sees images, e.g. -m anthropic:NAME.")
                raise UsageError(f"{spec.name} cannot take {block.name or what} ({what}): {why}.")


def refusal_hint(blocks: Iterable[Block], error: str | None) -> str | None:
    """After a server refused a request that carried a PDF: how to send its text instead."""
    names = [b.name or "FILE.pdf" for b in blocks if isinstance(b, Document)]
    if not names or not error:
        return None
    return (f"if this server does not take PDFs, send the text instead: chinwag -a {names[0]} --as-text"
            f" (in the chat: /attach --as-text {names[0]}).")


def sniff(data: bytes) -> str | None:
    """The media type the content says it is (images, PDF, other binary images), or None."""
    head = data[:16]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if data[:1024].lstrip().startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"BM") and len(data) > 26 and data[14] in (12, 40, 56, 108, 124):
        return "image/bmp"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "image/tiff"
    return None


def describe(block: Block) -> str:
    """The 📎 line for a saved attachment (history show)."""
    if isinstance(block, Image):
        size = image_size(block.data)
        return _line(block.name or "image", block.media_type, size=len(block.data), pixels=size)
    if isinstance(block, Document):
        return _line(block.name or "document", block.media_type, size=len(block.data))
    return _line("text", "text/plain", size=len(block.text.encode()) if isinstance(block, Text) else 0)


def b64_size(n: int) -> int:
    return (n + 2) // 3 * 4


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from an image's header, without Pillow (PNG, GIF, WebP, JPEG)."""
    import struct

    try:
        if data.startswith(b"\x89PNG"):
            w, h = struct.unpack(">II", data[16:24])
            return int(w), int(h)
        if data.startswith(b"GIF8"):
            w, h = struct.unpack("<HH", data[6:10])
            return int(w), int(h)
        if data[:4] == b"RIFF" and data[12:16] == b"VP8X":
            return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
        if data[:4] == b"RIFF" and data[12:16] == b"VP8 ":
            w, h = struct.unpack("<HH", data[26:30])
            return int(w) & 0x3FFF, int(h) & 0x3FFF
        if data[:4] == b"RIFF" and data[12:16] == b"VP8L":
            bits = int.from_bytes(data[21:25], "little")
            return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        if data.startswith(b"\xff\xd8"):
            return _jpeg_size(data)
    except struct.error:
        return None
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    import struct

    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
            h, w = struct.unpack(">HH", data[i + 5:i + 9])
            return int(w), int(h)
        i += 2 + length
    return None


# -- reading -----------------------------------------------------------------

def _read(spec: str, stdin: BinaryIO | None, cap: int = MAX_BYTES) -> tuple[str, bytes, str]:
    """(name to show, the bytes, the media type a server declared or "")."""
    if not spec.strip():
        raise UsageError("say what to attach: a file's path, an http(s) URL, or - for stdin.")
    if spec == "-":
        import sys

        data = read_stream(stdin if stdin is not None else sys.stdin.buffer, cap)
        return "stdin", _not_empty("standard input", data), ""
    if re.match(r"https?://", spec, re.IGNORECASE):
        from chinwag.attach.url import fetch

        name, data, declared = fetch(spec, cap, URL_TIMEOUT)
        return name, _not_empty(spec, data), declared
    path, data = read_path(spec, cap, "cannot attach", "attaches")
    return path.name, _not_empty(spec, data), ""


def _not_empty(what: str, data: bytes) -> bytes:
    if not data:
        raise NothingToAttach(f"{what} is empty; nothing attached.")
    return data


# -- making blocks -----------------------------------------------------------

def _checked(attachment: Attachment, provider: str) -> Attachment:
    check((attachment.block,), provider)
    return attachment


def _image(name: str, data: bytes, media: str, provider: str, takes: Attachments) -> Attachment:
    check((Image(media, b"", name),), provider)
    from chinwag.attach.image import fit_image

    fitted = fit_image(name, data, media, takes.images)
    notes = ["turned upright (EXIF)"] if fitted.turned else []
    if fitted.before != fitted.after:
        notes.append(f"downscaled from {fitted.before[0]}×{fitted.before[1]} for {provider}")
    return Attachment(Image(fitted.media, fitted.data, name),
                      _line(name, fitted.media, size=len(fitted.data), pixels=fitted.after, note=" · ".join(notes)))


def _pdf_text(name: str, data: bytes) -> Attachment:
    import io

    import pypdf
    from pypdf.errors import PyPdfError

    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PyPdfError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"cannot read the text of {name}: {exc}.") from None
    text = "\n\n".join(p.strip() for p in pages).strip()
    if not text:
        raise UsageError(f"{name} has no text to extract (a scanned PDF?); attach it without --as-text.")
    block = _fenced(f"{name} (text of {len(pages)} page{'s' * (len(pages) != 1)})", text)
    return Attachment(block, _line(name, "text from PDF", size=len(text.encode()), note=f"{len(pages)} pages"))


def _text(name: str, data: bytes) -> Attachment:
    decoded = decode_text(data)
    if decoded is None:
        raise UsageError(f"{name} is binary, not text, image or PDF; chinwag cannot send it.")
    text, encoding = decoded
    lines = text.count("\n") + (not text.endswith("\n") and bool(text))
    note = f"{lines} line{'s' * (lines != 1)}" + ("" if encoding == "UTF-8" else f" · decoded from {encoding}")
    return Attachment(_fenced(name, text), _line(name, "text/plain", size=len(data), note=note))


_C1 = bytes(range(0x80, 0xA0))  # never text in Latin-1; printable punctuation in Windows-1252
_CONTROLS = bytes(b for b in range(0x20) if b not in b"\t\n\r\f\x1b") + b"\x7f"


def decode_text(data: bytes) -> tuple[str, str] | None:
    """(the text, the encoding it was in) or None for binary. UTF-8 when it is valid
    UTF-8; else the 8-bit encodings text files still come in: Latin-1 (ISO 8859-1),
    or Windows-1252 when it uses that one's punctuation (bytes 0x80-0x9F). Binary
    is a NUL anywhere, or control characters in more than 1 % of the bytes."""
    if b"\x00" in data:
        return None
    try:
        text, encoding = data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        if len(data.translate(None, _C1)) == len(data):
            text, encoding = data.decode("latin-1"), "Latin-1"
        else:
            try:
                text, encoding = data.decode("cp1252"), "Windows-1252"
            except UnicodeDecodeError:  # 0x81, 0x8D, 0x8F, 0x90, 0x9D are undefined there
                return None
        if (len(data) - len(data.translate(None, _CONTROLS))) * 100 > len(data):
            return None
    return text, encoding


def _fenced(name: str, text: str) -> Text:
    """The file under a header naming it, in a fence longer than any inside it."""
    longest = max((len(m) for m in re.findall(r"`{3,}", text)), default=2)
    fence = "`" * (longest + 1)
    return Text(f"# file: {name}\n{fence}\n{text.rstrip(chr(10))}\n{fence}\n\n")


def _line(name: str, media: str, *, size: int, pixels: tuple[int, int] | None = None, note: str = "") -> str:
    parts = [f"📎 {name}", media]
    if pixels is not None:
        parts.append(f"{pixels[0]}×{pixels[1]}")
    parts.append(size_text(size))
    if note:
        parts.append(note)
    return " · ".join(parts)
