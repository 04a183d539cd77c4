"""Prompts and resources of MCP servers, as chinwag offers them.

A prompt runs as the slash command `/SERVER_PROMPT` (the same naming rule as
tools: tool_name), its arguments typed as `key=value` or in the order the
server declares them (`arguments`). Its messages become one user message
(`prompt_message`): text as it is, images as images, an embedded text
resource inlined under its URI, a blob as an attachment by its MIME type.
A message the prompt gives in the assistant's voice is kept as text marked
so: a chat alternates turns, and the model answers the whole.

Resources are named `mcp:SERVER:URI` wherever a file could be (`-a`,
`/attach`); a template's parameters go in the URI (`demo://text/{id}` is
read as `demo://text/7`). What a server says is untrusted: each line shown
is sanitized by its caller, as tool output is.
"""

from __future__ import annotations

import base64
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chinwag.errors import UsageError

SCHEME = "mcp:"


@dataclass(frozen=True)
class PromptArg:
    name: str
    description: str = ""
    required: bool = False


@dataclass(frozen=True)
class McpPrompt:
    server: str
    name: str  # the server's own name
    command: str  # SERVER_PROMPT, without the slash
    description: str
    arguments: tuple[PromptArg, ...]


@dataclass(frozen=True)
class McpResource:
    server: str
    uri: str  # for a template, its URI template
    name: str
    mime_type: str
    description: str
    template: bool = False


@dataclass(frozen=True)
class Listing:
    """What one server offers besides tools (empty when it offers none)."""

    prompts: tuple[McpPrompt, ...] = ()
    resources: tuple[McpResource, ...] = ()


MAX_PAGES = 100  # a server that pages forever gets no more than this


async def list_offers(client: Any, server: str, refresh: bool = False) -> Listing:
    """The prompts, resources and resource templates `server` declares it has."""
    capabilities = client.server_capabilities
    mode = "refresh" if refresh else "use"
    prompts: list[McpPrompt] = []
    resources: list[McpResource] = []
    if capabilities is not None and capabilities.prompts is not None:
        async for prompt in _pages(lambda cursor: client.list_prompts(cursor=cursor, cache_mode=mode), "prompts"):
            prompts.append(read_prompt(server, prompt))
    if capabilities is not None and capabilities.resources is not None:
        async for entry in _pages(lambda cursor: client.list_resources(cursor=cursor, cache_mode=mode), "resources"):
            resources.append(read_resource_entry(server, entry, template=False))
        async for entry in _pages(lambda cursor: client.list_resource_templates(cursor=cursor, cache_mode=mode),
                                  "resource_templates"):
            resources.append(read_resource_entry(server, entry, template=True))
    return Listing(tuple(prompts), tuple(resources))


async def _pages(fetch: Any, field: str) -> Any:
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        page = await fetch(cursor)
        for item in getattr(page, field):
            yield item
        cursor = page.next_cursor
        if cursor is None:
            return


def read_prompt(server: str, prompt: Any) -> McpPrompt:
    from chinwag.tools.mcp_tools import tool_name

    args = tuple(PromptArg(a.name, a.description or a.title or "", bool(a.required)) for a in prompt.arguments or ())
    return McpPrompt(server, prompt.name, tool_name(server, prompt.name),
                     prompt.description or prompt.title or "", args)


def read_resource_entry(server: str, entry: Any, template: bool) -> McpResource:
    uri = entry.uri_template if template else entry.uri
    return McpResource(server, str(uri), entry.title or entry.name or "", entry.mime_type or "",
                       entry.description or "", template)


def prompt_usage(prompt: McpPrompt) -> str:
    """`/everything_args-prompt city=… [state=…]`"""
    shown = [f"{a.name}=…" if a.required else f"[{a.name}=…]" for a in prompt.arguments]
    return " ".join([f"/{prompt.command}", *shown])


def parse_arguments(prompt: McpPrompt, text: str) -> dict[str, str]:
    """`key=value` words, or values in declared order (quote a value with spaces);
    UsageError, in one line, for an unknown name, too many values, or a missing
    required argument (naming it)."""
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise UsageError(f"cannot read the arguments of /{prompt.command}: {exc}.") from None
    names = [a.name for a in prompt.arguments]
    values: dict[str, str] = {}
    position = 0
    for word in words:
        key, equals, value = word.partition("=")
        if equals and key in names:
            values[key] = value
            continue
        if equals and key.isidentifier():
            raise unknown_argument(prompt, key)
        while position < len(names) and names[position] in values:
            position += 1
        if position >= len(names):
            raise UsageError(f"/{prompt.command} takes {len(names)} argument{'s' * (len(names) != 1)};"
                             f" {word!r} is one too many (usage: {prompt_usage(prompt)}).")
        values[names[position]] = word
    return checked_arguments(prompt, values)


def unknown_argument(prompt: McpPrompt, key: str) -> UsageError:
    names = [a.name for a in prompt.arguments]
    return UsageError(f"/{prompt.command} has no argument {key!r}"
                      f" ({'its arguments: ' + ', '.join(names) if names else 'it takes none'}).")


def checked_arguments(prompt: McpPrompt, values: Mapping[str, str]) -> dict[str, str]:
    """`values` by name (the page's form: a blank one is not given); UsageError, in one
    line, for an unknown name or a missing required argument (naming it)."""
    names = [a.name for a in prompt.arguments]
    unknown = [key for key in values if key not in names]
    if unknown:
        raise unknown_argument(prompt, unknown[0])
    given = {key: value for key, value in values.items() if value != ""}
    missing = [a.name for a in prompt.arguments if a.required and a.name not in given]
    if missing:
        raise UsageError(f"/{prompt.command} needs {missing[0]} (usage: {prompt_usage(prompt)}).")
    return given


def split_spec(spec: str) -> tuple[str, str]:
    """`mcp:SERVER:URI` -> (SERVER, URI); UsageError when it is not that."""
    server, colon, uri = spec.removeprefix(SCHEME).partition(":")
    if not spec.startswith(SCHEME) or not colon or not server or not uri:
        raise UsageError(f"{spec!r} is not an MCP resource: write mcp:SERVER:URI (see /resources).")
    return server, uri


@dataclass(frozen=True)
class PromptRun:
    """A prompt got from its server, as the user's next message: `text` and `blocks`
    (images and PDFs made attachments for the provider), and the line that names it."""

    line: str  # "⧉ prompt demo_greet from MCP server demo · 1 message"
    text: str
    blocks: tuple[Any, ...]


def run_prompt(hub: Any, prompt: McpPrompt, arguments: Mapping[str, str], provider: str) -> PromptRun:
    """Get `prompt` from its server (through `hub`, an McpHub) with `arguments`
    (checked_arguments'), as one user message for `provider`: the terminal's
    /SERVER_PROMPT and the page's prompt form both send this. Its words are the
    server's, untrusted: the caller sanitizes what it shows. UsageError in one line."""
    from chinwag.attach import MAX_BYTES, from_bytes

    result = hub.get_prompt(prompt, arguments)
    text, blocks = prompt_message(prompt, result, MAX_BYTES)
    if not text and not blocks:
        raise UsageError(f"/{prompt.command} gave no messages; nothing sent.")
    # images and PDFs through the same checks and limits as -a (an image downscaled to fit)
    blocks = tuple(from_bytes(b.name, b.data, provider).block for b in blocks)
    count = len(result.messages)
    line = f"⧉ prompt {prompt.command} from MCP server {prompt.server} · {count} message{'s' * (count != 1)}"
    return PromptRun(line, text, blocks)


def prompt_message(prompt: McpPrompt, result: Any, max_bytes: int) -> tuple[str, tuple[Any, ...]]:
    """A GetPromptResult as (text, blocks) for one user message."""
    texts: list[str] = []
    blocks: list[Any] = []
    for message in result.messages:
        text, block = _content(message.content, max_bytes)
        if block is not None:
            blocks.append(block)
        if text:
            texts.append(text if message.role == "user" else f"(the prompt's assistant message) {text}")
    return "\n\n".join(texts), tuple(blocks)


def _content(content: Any, max_bytes: int) -> tuple[str, Any]:
    """(text, block or None) for one piece of a prompt's message."""
    kind = content.type
    if kind == "text":
        return str(content.text), None
    if kind == "image":
        return "", _image(content.mime_type, _b64(content.data), "image from the prompt", max_bytes)
    if kind == "resource":
        return resource_block(content.resource, max_bytes)
    if kind == "resource_link":
        return f"[resource: {content.uri}]", None
    return f"[{kind} from the prompt, not forwarded]", None


def resource_block(contents: Any, max_bytes: int) -> tuple[str, Any]:
    """One ResourceContents: text inlined under its URI, a blob by its MIME type."""
    from chinwag.records import Document

    uri = str(contents.uri)
    media = contents.mime_type or ""
    if getattr(contents, "text", None) is not None:
        return f"# resource: {uri}\n{_fence(contents.text)}", None
    data = _b64(getattr(contents, "blob", "") or "")
    if len(data) > max_bytes:
        raise UsageError(f"{uri} is {len(data):,} bytes; attachments stop at {max_bytes:,}.")
    from chinwag.attach import decode_text, sniff

    sniffed = sniff(data)
    if sniffed and sniffed.startswith("image/"):
        return "", _image(sniffed, data, uri, max_bytes)
    if sniffed == "application/pdf":
        return "", Document(sniffed, data, uri)
    decoded = decode_text(data)
    if decoded is not None:
        return f"# resource: {uri}\n{_fence(decoded[0])}", None
    raise UsageError(f"{uri} is binary ({media or 'no type given'}), not text, an image or a PDF;"
                     " chinwag cannot send it.")


def _image(media: str, data: bytes, name: str, max_bytes: int) -> Any:
    from chinwag.records import Image

    if len(data) > max_bytes:
        raise UsageError(f"{name} is {len(data):,} bytes; attachments stop at {max_bytes:,}.")
    return Image(media, data, name)


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=False)
    except ValueError:
        return b""


def _fence(text: str) -> str:
    import re

    longest = max((len(m) for m in re.findall(r"`{3,}", text)), default=2)
    fence = "`" * (longest + 1)
    return f"{fence}\n{text.rstrip(chr(10))}\n{fence}"


def listing_lines(listings: Mapping[str, Listing], kind: str) -> list[str]:
    """`/prompts` or `/resources`: one line per entry, grouped by server."""
    lines: list[str] = []
    for server, listing in listings.items():
        if kind == "prompts":
            for p in listing.prompts:
                about = f" — {p.description}" if p.description else ""
                lines.append(f"{prompt_usage(p)}{about}")
        else:
            for r in listing.resources:
                label = "template" if r.template else "resource"
                what = " · ".join(x for x in (r.name, r.mime_type) if x)
                lines.append(f"mcp:{server}:{r.uri} · {label}" + (f" · {what}" if what else ""))
    return lines


@dataclass(frozen=True)
class Completing:
    """What Tab completes after `/SERVER_PROMPT ...`: argument names (`names`), or
    the value of argument `argument` typed so far (`value`), with the values
    already given (`given`: the server narrows one by the others)."""

    names: tuple[str, ...]
    argument: str
    value: str
    given: dict[str, str]
    prefix: str  # put back before each value: "key=" for a named argument


def completing(prompt: McpPrompt, rest: str) -> Completing:
    """`rest`: the line after the command, up to the cursor."""
    words = rest.split(" ")
    done, current = [w for w in words[:-1] if w], words[-1]
    order = [a.name for a in prompt.arguments]
    given: dict[str, str] = {}
    for word in done:
        key, equals, value = word.partition("=")
        if equals and key in order:
            given[key] = value
        else:
            free = [n for n in order if n not in given]
            if free:
                given[free[0]] = word
    key, equals, value = current.partition("=")
    if equals and key in order:
        return Completing((), key, value, given, f"{key}=")
    free = [n for n in order if n not in given]
    names = tuple(f"{n}=" for n in free if n.startswith(current))
    return Completing(names, free[0] if free else "", current, given, "")
