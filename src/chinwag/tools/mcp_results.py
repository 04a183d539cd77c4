"""A tool call's result, as an MCP server sent it, turned into chinwag's ToolOutput.

Nothing the server sent is flattened into a placeholder the model cannot use:

- text goes as it is;
- an image goes to the model as an image (an `Image` attachment beside the
  result: Anthropic nests it in the tool_result, the OpenAI-compatible wire
  sends it in a user message after the tool messages), downscaled to fit every
  provider as `-a` does, and the user sees one `📎 image/png · 16×16` part;
- an embedded resource's text is inlined under its URI; an image or PDF blob
  becomes an attachment (stored by hash in the history, like `-a`'s); a
  blob that is text is inlined as text is; any other is named, with its
  size, as not forwarded;
- a resource link keeps its URI, name and type, and names the tool that reads
  it (SERVER_read_resource) when the server offers resources;
- `structuredContent` is sent as JSON when no text came; when the tool
  declares an `outputSchema` the result is checked against it and a mismatch
  is marked in what the model reads and on the user's line;
- audio is one line for the user, and the model is told it was not forwarded.

Everything the server sent is untrusted: the model reads `content` capped, the
user sees a sanitized one-line summary (ToolOutput does that).
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chinwag.providers.spec import IMAGE_TYPES, ImageLimits
from chinwag.records import Document, Image
from chinwag.tools.output import ToolOutput, cap, count_lines, cut_summary, one_line, plural, size

if TYPE_CHECKING:  # mcp is imported on the hub's loop thread; the prompt does not pay for it
    from mcp.types import CallToolResult, ContentBlock, ReadResourceResult

# The strictest of the providers' image limits (Anthropic's): an image from a tool fits every wire.
TOOL_IMAGE_LIMITS = ImageLimits(1568, 8000, 5 * 1024 * 1024)
PDF = "application/pdf"


@dataclass(frozen=True)
class ResultContext:
    """What the conversion needs to know of the call: its names, the tool's
    outputSchema, and the name of the server's read_resource tool (or "")."""

    server: str
    tool: str
    output_schema: Mapping[str, Any] | None = None
    read_tool: str = ""


@dataclass
class _Parts:
    text: list[str] = field(default_factory=list)  # for the model
    shown: list[str] = field(default_factory=list)  # one-line parts for the user
    attachments: list[Image | Document] = field(default_factory=list)


def tool_output(result: CallToolResult, max_output: int, context: ResultContext | None = None) -> ToolOutput:
    """The result for the model (text and attachments) and the user's one line."""
    context = context or ResultContext("", "")
    parts = _Parts()
    for block in result.content:
        _add_block(block, parts, context)
    structured = result.structured_content
    if not any(block.type == "text" for block in result.content) and structured is not None:
        parts.text.append(json.dumps(structured, ensure_ascii=False))
    mismatch = None if result.is_error else schema_mismatch(context.output_schema, structured)
    if mismatch:
        parts.text.append(f"[the result does not match the tool's outputSchema: {mismatch}]")
        parts.shown.append("⚠ does not match its outputSchema")
    text = "\n".join(parts.text)
    content = cap(text, max_output)
    attachments = tuple(parts.attachments)
    if result.is_error:
        return ToolOutput(content or "the tool failed (no message)", "error", one_line(text or "failed"),
                          attachments)
    summary = " · ".join([plural(count_lines(text), "line"), *parts.shown])
    total = len(text.encode("utf-8", "surrogateescape"))
    if total > max_output:  # the line says so, as the model is told (cap's note)
        summary += f" · {cut_summary(max_output, total)}"
    return ToolOutput(content, "ok", summary, attachments)


def resource_output(result: ReadResourceResult, max_output: int, context: ResultContext) -> ToolOutput:
    """A resource read through SERVER_read_resource: its text under its URI, an image or PDF attached."""
    parts = _Parts()
    for contents in result.contents:
        _add_resource(contents, parts, context, attach=True)
    text = "\n".join(parts.text) or "[the resource is empty]"
    summary = " · ".join([plural(count_lines(text), "line"), *parts.shown])
    total = len(text.encode("utf-8", "surrogateescape"))
    if total > max_output:
        summary += f" · {cut_summary(max_output, total)}"
    return ToolOutput(cap(text, max_output), "ok", summary, tuple(parts.attachments))


def schema_mismatch(schema: Mapping[str, Any] | None, structured: Any) -> str | None:
    """Why `structured` does not match a tool's outputSchema (one line), or None when it does
    (or the tool declares none)."""
    if schema is None:
        return None
    if structured is None:
        return "the tool declares an outputSchema but sent no structuredContent"
    import jsonschema

    try:
        validator_class = jsonschema.validators.validator_for(schema)
        error = jsonschema.exceptions.best_match(validator_class(schema).iter_errors(structured))
    except (jsonschema.exceptions.SchemaError, jsonschema.exceptions.RefResolutionError,
            LookupError) as exc:
        return one_line(f"its outputSchema is not a valid schema ({exc})")
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path)
    return one_line((f"at {where}: " if where else "") + error.message)


def content_text(block: ContentBlock) -> str:
    """A content block as text alone (no attachments): for what takes text only."""
    parts = _Parts()
    _add_block(block, parts, ResultContext("", ""), attach=False)
    return "\n".join(parts.text)


def _add_block(block: ContentBlock, parts: _Parts, context: ResultContext, attach: bool = True) -> None:
    kind = block.type
    if kind == "text":
        parts.text.append(str(getattr(block, "text", "")))
    elif kind == "image":
        _add_binary(str(getattr(block, "data", "")), str(getattr(block, "mime_type", "") or ""), "", parts,
                    context, attach)
    elif kind == "audio":
        media = str(getattr(block, "mime_type", "") or "audio")
        length = _decoded_length(str(getattr(block, "data", "")))
        parts.text.append(f"[{media} audio ({size(length)}): not forwarded; chinwag does not send audio to the model]")
        parts.shown.append(f"🔊 {media} · {size(length)} not forwarded")
    elif kind == "resource":
        _add_resource(getattr(block, "resource", None), parts, context, attach)
    elif kind == "resource_link":
        uri, name = str(getattr(block, "uri", "")), str(getattr(block, "name", "") or "")
        details = ", ".join(str(d) for d in (name, getattr(block, "mime_type", None),
                                             getattr(block, "description", None)) if d)
        how = f"; read it with the {context.read_tool} tool" if context.read_tool else ""
        parts.text.append(f"[resource link: {uri}" + (f" ({details})" if details else "") + how + "]")
        parts.shown.append(f"🔗 {uri}")
    else:
        parts.text.append(f"[{kind} content: not forwarded; chinwag does not know this kind of content]")


def _add_resource(resource: object, parts: _Parts, context: ResultContext, attach: bool) -> None:
    """A resource's contents: text inlined under its URI, a blob as _add_binary takes it."""
    uri = str(getattr(resource, "uri", ""))
    media = str(getattr(resource, "mime_type", None) or "")
    text = getattr(resource, "text", None)
    if text is not None:
        parts.text.append(f"[resource {uri}" + (f" ({media})" if media else "") + f"]\n{text}")
    else:
        _add_binary(str(getattr(resource, "blob", "")), media, uri, parts, context, attach)


def _add_binary(data: str, media: str, uri: str, parts: _Parts, context: ResultContext, attach: bool) -> None:
    """An image, or a resource's blob: an attachment when it is an image or a PDF, else named."""
    where = f" {uri}" if uri else ""
    try:  # binascii reads the str in place; base64.b64decode would copy it to bytes first
        raw = binascii.a2b_base64(data, strict_mode=True)
    except (binascii.Error, ValueError):
        parts.text.append(f"[{media or 'binary'}{where}: not valid base64, not forwarded]")
        parts.shown.append(f"⚠ {media or 'binary'} not valid base64")
        return
    if media in IMAGE_TYPES and attach:
        _add_image(raw, media, uri, parts, context)
    elif media == PDF and attach:
        name = uri or f"{context.server}_{context.tool}.pdf"
        parts.attachments.append(Document(PDF, raw, name))
        parts.text.append(f"[PDF{where} ({size(len(raw))}), attached below]")
        parts.shown.append(f"📎 {PDF} · {size(len(raw))}")
    elif (text := _as_text(raw)) is not None:  # a text file sent as a blob: inlined as text is
        parts.text.append(f"[resource{where}" + (f" ({media})" if media else "") + f"]\n{text}")
    else:
        why = "chinwag sends images and PDFs only" if attach else "not sent here"
        parts.text.append(f"[{media or 'binary'}{where} ({size(len(raw))}): not forwarded; {why}]")
        parts.shown.append(f"📎 {media or 'binary'} · {size(len(raw))} not forwarded")


def _as_text(raw: bytes) -> str | None:
    """A blob's text when it is text (UTF-8, or the 8-bit encodings `-a` reads), else None."""
    from chinwag.attach import decode_text

    decoded = decode_text(raw)
    return decoded[0] if decoded is not None else None


def _add_image(raw: bytes, media: str, uri: str, parts: _Parts, context: ResultContext) -> None:
    from chinwag.attach import b64_size, image_size
    from chinwag.attach.image import Fitted, fit_image
    from chinwag.errors import UsageError

    name = uri or f"{context.server}_{context.tool} image"
    header = image_size(raw)
    limits = TOOL_IMAGE_LIMITS
    if header is not None and max(header) <= limits.max_edge and b64_size(len(raw)) <= limits.max_bytes:
        # Within every provider's limits: sent as its own bytes, undecoded (as -a sends one).
        fitted = Fitted(raw, media, header, header, False)
    else:
        try:
            fitted = fit_image(name, raw, media, limits)
        except UsageError as exc:  # unreadable, or too many pixels to decode: named, never sent broken
            parts.text.append(f"[{media} image{' ' + uri if uri else ''}: not forwarded; {exc}]")
            parts.shown.append(f"⚠ {media} image not forwarded")
            return
    pixels = f"{fitted.after[0]}×{fitted.after[1]}"
    note = f" (downscaled from {fitted.before[0]}×{fitted.before[1]})" if fitted.before != fitted.after else ""
    parts.attachments.append(Image(fitted.media, fitted.data, name))
    parts.text.append(f"[{fitted.media} image{' ' + uri if uri else ''}, {pixels}{note}: attached below]")
    parts.shown.append(f"📎 {fitted.media} · {pixels}" + (f" · downscaled from {fitted.before[0]}×{fitted.before[1]}"
                                                         if note else ""))


def _decoded_length(data: str) -> int:
    """The byte length base64 `data` decodes to, without decoding it."""
    stripped = data.rstrip("=")
    return len(stripped) * 3 // 4
