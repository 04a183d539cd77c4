"""A small MCP server for chinwag's tool tests, written with the `mcp` package.

    python -m tests.mcp_servers.demo                      stdio
    python -m tests.mcp_servers.demo --http PORT          streamable HTTP on 127.0.0.1:PORT/mcp
    python -m tests.mcp_servers.demo --start-delay 1.5    sleep before serving (a slow server)

Tools: `echo` (read-only, closed world: runs without asking), `lookup`
(read-only but open world: asks), `write_note` (no hints: asks), `crash`
(the process exits mid-call), `slow` (sleeps, for Ctrl-C), `pid`, `fail` (an error result).
For results beyond text (issue 22): `structured_only` (structuredContent and no text), `audio`
(a WAV), `embedded` (a PNG and binary bytes as embedded resources), `big_image` (a PNG of about 20 MB), `flood` (progress notifications at 1,000 a second), `beacon`
(progress stamped with the time it was sent, for bench/bench_mcp_results.py).
For prompts and questions: `add_prompt` (adds a prompt and says the prompts changed),
`ask_nested` (an elicitation of a type no client can ask). Prompts: `greet`, `hostile`
(escape sequences in its text), `picture` (text, an image, an assistant message).
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import random
import struct
import time
import wave
import zlib
from typing import TypedDict

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.prompts.base import AssistantMessage, UserMessage
from mcp.types import (AudioContent, BlobResourceContents, CallToolResult, ElicitRequest, ElicitRequestFormParams,
                       EmbeddedResource, ImageContent, InputRequiredResult, ToolAnnotations)

server = MCPServer("demo")


@server.tool(description="Say the text back.", annotations=ToolAnnotations(read_only_hint=True, open_world_hint=False))
def echo(text: str) -> str:
    return f"echo: {text}"


@server.tool(description="Look something up on the web.",
             annotations=ToolAnnotations(read_only_hint=True, open_world_hint=True))
def lookup(query: str) -> str:
    return f"nothing found for {query}"


@server.tool(description="Write a note.")
def write_note(text: str) -> str:
    return f"noted: {text}"


@server.tool(description="Exit the server process in the middle of the call.")
def crash() -> str:
    os._exit(3)


@server.tool(description="Sleep, then answer.", annotations=ToolAnnotations(read_only_hint=True, open_world_hint=False))
async def slow(seconds: float) -> str:
    await anyio.sleep(seconds)
    return "slept"


@server.tool(description="The server's process id.",
             annotations=ToolAnnotations(read_only_hint=True, open_world_hint=False))
def pid() -> str:
    return str(os.getpid())


@server.tool(description="Always fails.", annotations=ToolAnnotations(read_only_hint=True, open_world_hint=False))
def fail() -> str:
    raise ToolError("this tool always fails")


@server.prompt(description="Say hello to someone.")
def greet(name: str, mood: str = "cheerful") -> str:
    return f"Say a {mood} hello to {name}."


@server.prompt(description="A prompt whose text tries to take over the terminal.")
def hostile() -> str:
    return "title \x1b]0;pwned\x07 clear \x1b[2J end"


@server.prompt(description="Look at a picture (a 2×1 PNG) and say what it shows.")
def picture() -> list[UserMessage | AssistantMessage]:
    png = base64.b64encode(_PNG).decode()
    return [UserMessage("What is in this picture?"),
            UserMessage(ImageContent(type="image", data=png, mime_type="image/png")),
            AssistantMessage("I will describe it.")]


# A 2×1 PNG, one red pixel and one blue.
_PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000020000000108020000007b40e8dd0000000d4944"
                     "4154789c63f8cf0004ff01070001ffe2239e590000000049454e44ae426082")


@server.tool(description="Add a prompt named NAME, and say the prompts changed.")
async def add_prompt(name: str, ctx: Context) -> str:  # type: ignore[type-arg]
    server.prompt(name=name, description="Added while running.")(lambda: f"the {name} prompt")
    await ctx.notify_prompts_changed()
    return f"added {name}"


@server.tool(description="Ask the user for a nested object, which clients cannot ask for.")
def ask_nested(ctx: Context) -> str | InputRequiredResult:  # type: ignore[type-arg]
    answered = (ctx.input_responses or {}).get("where")
    if answered is not None:
        return f"answer: {getattr(answered, 'action', answered)}"
    schema = {"type": "object", "properties": {"address": {"type": "object", "properties": {}}}}
    return InputRequiredResult(input_requests={"where": ElicitRequest(params=ElicitRequestFormParams(
        message="Where do you live?", requested_schema=schema))})

class Weather(TypedDict):
    temperature: float
    conditions: str


@server.tool(description="Weather as structured content alone.",
             annotations=ToolAnnotations(read_only_hint=True, open_world_hint=False))
def structured_only() -> Weather:
    result = CallToolResult(content=[], structured_content={"temperature": 21.5, "conditions": "sunny"})
    return result  # type: ignore[return-value]  # sent as it is: no text beside it


@server.tool(description="A second of silence as WAV audio.",
             annotations=ToolAnnotations(read_only_hint=True, open_world_hint=False))
def audio() -> AudioContent:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(b"\0\0" * 8000)
    return AudioContent(type="audio", data=base64.b64encode(buffer.getvalue()).decode(), mime_type="audio/wav")


@server.tool(description="A photo-sized PNG of noise, about 20 MB.",
             annotations=ToolAnnotations(read_only_hint=True, open_world_hint=False))
def big_image() -> ImageContent:
    side = 2600  # 2600 × 2600 RGB noise does not compress: about 20 MB as PNG
    pixels = random.Random(7).randbytes(side * side * 3)
    png = _png(side, side, pixels)
    return ImageContent(type="image", data=base64.b64encode(png).decode(), mime_type="image/png")


def _png(width: int, height: int, rgb: bytes) -> bytes:
    """An RGB PNG without Pillow (stored, not compressed: noise would not compress anyway)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\0" + rgb[y * width * 3:(y + 1) * width * 3] for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 0)) + chunk(b"IEND", b"")


@server.tool(description="Two embedded resources: a PNG and some binary bytes.",
             annotations=ToolAnnotations(read_only_hint=True, open_world_hint=False))
def embedded() -> list[EmbeddedResource]:
    png = _png(4, 3, bytes(range(36)))
    return [EmbeddedResource(type="resource", resource=BlobResourceContents(
                uri="demo://pixel.png", mime_type="image/png", blob=base64.b64encode(png).decode())),
            EmbeddedResource(type="resource", resource=BlobResourceContents(
                uri="demo://data.bin", mime_type="application/octet-stream",
                blob=base64.b64encode(bytes(range(256)) * 4).decode()))]


@server.tool(description="Report progress `count` times at `rate` a second, then answer.",
             annotations=ToolAnnotations(read_only_hint=True, open_world_hint=False))
async def flood(ctx: Context, count: int = 2000, rate: float = 1000.0) -> str:
    for i in range(1, count + 1):
        await ctx.report_progress(i, count, f"step {i}")
        await anyio.sleep(1 / rate)
    return f"flooded {count}"


@server.tool(description="Report progress `count` times, `every` seconds apart, each message the time it was sent.",
             annotations=ToolAnnotations(read_only_hint=True, open_world_hint=False))
async def beacon(ctx: Context, count: int = 5, every: float = 0.3) -> str:
    for i in range(1, count + 1):  # each report is followed by a pause: none is cut short by the answer
        await ctx.report_progress(i, count, f"sent {time.monotonic():.6f}")  # CLOCK_MONOTONIC: one clock per machine
        await anyio.sleep(every)
    return f"beacon {count}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", type=int, default=None)
    parser.add_argument("--start-delay", type=float, default=0.0)
    args = parser.parse_args()
    time.sleep(args.start_delay)
    if args.http is None:
        server.run("stdio")
    else:
        server.settings.log_level = "WARNING"
        server.run("streamable-http", host="127.0.0.1", port=args.http)


if __name__ == "__main__":
    main()
