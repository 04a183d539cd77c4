"""MCP results as the server sent them, end to end: the installed `chinwag` with the MCP
project's own server-everything (tests/mcp_reference.py), and tests/mcp_servers/demo.py
and rogue.py for what server-everything does not send, against the scripted model
server on both wires (tests/fakes).

Images reach the model as images (Anthropic: inside the tool_result; OpenAI-compatible:
a user message right after the tool messages) and the user sees one 📎 line; a 20 MB
image is downscaled as `-a` does. Resource links are kept and read through the built-in,
read-only SERVER_read_resource. structuredContent goes as JSON when no text came, and a
mismatch with the tool's outputSchema is marked. Audio is one line, and the model is told
it was not forwarded. Roots: get-roots-list returns the working directory. Sampling is
never declared, and a server that asks anyway gets an error; the chat goes on.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from chinwag.tools import McpServerConfig
from tests.cli_helpers import chinwag_env, run_chinwag
from tests.fakes.server import Reply, ScriptedServer
from tests.mcp_reference import everything, write_mcp_json
from tests.wires import calls, env_for

ROOT = Path(__file__).resolve().parent.parent


def demo_server(name: str = "demo") -> McpServerConfig:
    return McpServerConfig(name, command=sys.executable, args=("-m", "tests.mcp_servers.demo"),
                           env={"PYTHONPATH": str(ROOT)})


def rogue_server() -> McpServerConfig:
    return McpServerConfig("rogue", command=sys.executable, args=("-m", "tests.mcp_servers.rogue"),
                           env={"PYTHONPATH": str(ROOT)})


def one_shot(wire: str, home: Path, server: ScriptedServer, work: Path, tmp_path: Path,
             *servers: McpServerConfig, question: str = "go") -> Any:
    config = write_mcp_json(tmp_path / "mcp.json", {s.name: s for s in servers})
    out = run_chinwag(["--mcp-config", str(config), question], env_for(wire, home, server), cwd=work)
    assert out.returncode == 0, out.stderr
    return out


def anthropic_result(request: Any, index: int = 0) -> dict[str, Any]:
    last = request.json["messages"][-1]
    results = [b for b in last["content"] if isinstance(b, dict) and b.get("type") == "tool_result"]
    return dict(results[index])


def result_text(wire: str, request: Any) -> str:
    """The text of the one tool result the request's last message(s) carry, on either wire."""
    if wire == "anthropic":
        content = anthropic_result(request)["content"]
        if isinstance(content, str):
            return content
        return "\n".join(part["text"] for part in content if part["type"] == "text")
    tool = [m for m in request.json["messages"] if m["role"] == "tool"][-1]
    return str(tool["content"])


def images_sent(wire: str, request: Any) -> list[tuple[str, bytes]]:
    """(media type, bytes) of each image the tool result carried to the model."""
    if wire == "anthropic":
        content = anthropic_result(request)["content"]
        return [(p["source"]["media_type"], base64.b64decode(p["source"]["data"]))
                for p in content if isinstance(content, list) and p["type"] == "image"]
    messages = request.json["messages"]
    last_tool = max(i for i, m in enumerate(messages) if m["role"] == "tool")
    after = messages[last_tool + 1]
    assert after["role"] == "user"  # right after the tool messages
    out = []
    for part in after["content"]:
        if part["type"] == "image_url":
            head, data = part["image_url"]["url"].split(",", 1)
            out.append((head.removeprefix("data:").removesuffix(";base64"), base64.b64decode(data)))
    return out


@pytest.mark.parametrize("wire", ["anthropic", "openai"])
def test_an_image_result_reaches_the_model_as_an_image_and_the_user_sees_one_line(
        wire: str, work: Path, home: Path, server: ScriptedServer, tmp_path: Path) -> None:
    server.enqueue(calls(wire, ("call_1", "everything_get-tiny-image", {})), Reply(chunks=["A logo."]))
    out = one_shot(wire, home, server, work, tmp_path, everything())
    assert out.stdout == "A logo.\n"
    sent = images_sent(wire, server.requests[1])
    assert len(sent) == 1 and sent[0][0] == "image/png" and sent[0][1].startswith(b"\x89PNG")
    assert "image content" not in result_text(wire, server.requests[1])  # no placeholder instead of it
    assert "📎 image/png · 20×20" in out.stderr
    if wire == "openai":  # the user message names the call it belongs to
        after = server.requests[1].json["messages"][-1]["content"]
        assert after[0] == {"type": "text", "text": "[from the result of tool call call_1]"}
    saved = run_chinwag(["history", "show", "last", "--json"], chinwag_env(home))
    blocks = [b for m in json.loads(saved.stdout)["messages"] for b in m["blocks"]]
    kinds = [b["type"] for b in blocks]
    assert kinds[kinds.index("tool_result") + 1] == "image"  # kept with its result, by hash


def test_a_20_mb_image_is_downscaled_like_an_attachment(
        work: Path, home: Path, server: ScriptedServer, tmp_path: Path) -> None:
    server.enqueue(calls("anthropic", ("call_1", "demo_big_image", {})), Reply(chunks=["Noise."]))
    out = one_shot("anthropic", home, server, work, tmp_path, demo_server())
    (media, data), = images_sent("anthropic", server.requests[1])
    assert len(base64.b64encode(data)) <= 5 * 1024 * 1024  # within Anthropic's limit, the strictest
    assert "📎 image/jpeg · 1568×1568 · downscaled from 2600×2600" in out.stderr
    assert media == "image/jpeg"


@pytest.mark.parametrize("wire", ["anthropic", "openai"])
def test_resource_links_are_kept_and_the_model_reads_one_without_being_asked(
        wire: str, work: Path, home: Path, server: ScriptedServer, tmp_path: Path) -> None:
    server.enqueue(calls(wire, ("call_1", "everything_get-resource-links", {"count": 2})),
                   calls(wire, ("call_2", "everything_read_resource", {"uri": "demo://resource/dynamic/text/2"})),
                   Reply(chunks=["Read it."]))
    out = one_shot(wire, home, server, work, tmp_path, everything())  # no terminal: a call that asks is denied
    assert "everything_read_resource" in [t.get("name") or t["function"]["name"]
                                          for t in server.requests[0].json["tools"]]
    links = result_text(wire, server.requests[1])
    assert "[resource link: demo://resource/dynamic/text/2 (Text Resource 2, text/plain" in links
    assert "read it with the everything_read_resource tool" in links
    read = result_text(wire, server.requests[2])
    assert read.startswith("[resource demo://resource/dynamic/text/2 (text/plain)]\n")
    assert "denied" not in out.stderr and "🔗 demo://resource/dynamic/text/2" in out.stderr


def test_embedded_resources_text_inline_under_its_uri_an_image_attached_other_bytes_named(
        work: Path, home: Path, server: ScriptedServer, tmp_path: Path) -> None:
    server.enqueue(calls("openai", ("call_1", "everything_get-resource-reference", {"resourceType": "Blob",
                                                                                  "resourceId": 1})),
                   calls("openai", ("call_2", "demo_embedded", {})), Reply(chunks=["Seen."]))
    out = one_shot("openai", home, server, work, tmp_path, everything(), demo_server())
    blob_text = result_text("openai", server.requests[1])  # a text file sent as a base64 blob
    assert "[resource demo://resource/dynamic/blob/1 (text/plain)]\nResource 1: This is a base64 blob" in blob_text
    mixed = result_text("openai", server.requests[2])
    assert "[image/png image demo://pixel.png, 4×3: attached below]" in mixed
    assert "[application/octet-stream demo://data.bin (1 KB): not forwarded; chinwag sends images and PDFs only]" \
        in mixed
    (media, data), = images_sent("openai", server.requests[2])
    assert media == "image/png" and data.startswith(b"\x89PNG")
    assert "📎 image/png · 4×3 · 📎 application/octet-stream · 1 KB not forwarded" in out.stderr


def test_structured_content_alone_is_sent_as_json_and_an_output_schema_mismatch_is_marked(
        work: Path, home: Path, server: ScriptedServer, tmp_path: Path) -> None:
    server.enqueue(calls("openai", ("call_1", "demo_structured_only", {})),
                   calls("openai", ("call_2", "rogue_weather", {})), Reply(chunks=["Sunny."]))
    out = one_shot("openai", home, server, work, tmp_path, demo_server(), rogue_server())
    assert json.loads(result_text("openai", server.requests[1])) == {"temperature": 21.5, "conditions": "sunny"}
    mismatched = result_text("openai", server.requests[2])
    assert mismatched.startswith('{"temperature": "hot"}\n')
    assert "[the result does not match the tool's outputSchema: at temperature: 'hot' is not of type 'number']" \
        in mismatched
    assert "⚠ does not match its outputSchema" in out.stderr
    assert "MCP server rogue died" not in out.stderr  # a mismatch is a marked result, not a dead server


def test_audio_is_one_line_and_the_model_is_told_it_was_not_forwarded(
        work: Path, home: Path, server: ScriptedServer, tmp_path: Path) -> None:
    server.enqueue(calls("anthropic", ("call_1", "demo_audio", {})), Reply(chunks=["Silence."]))
    out = one_shot("anthropic", home, server, work, tmp_path, demo_server())
    assert result_text("anthropic", server.requests[1]) == (
        "[audio/wav audio (16 KB): not forwarded; chinwag does not send audio to the model]")
    assert "🔊 audio/wav · 16 KB not forwarded" in out.stderr


def test_get_roots_list_returns_the_working_directory_as_the_one_root(
        work: Path, home: Path, server: ScriptedServer, tmp_path: Path) -> None:
    server.enqueue(calls("anthropic", ("call_1", "everything_get-roots-list", {})), Reply(chunks=["One root."]))
    one_shot("anthropic", home, server, work, tmp_path, everything())
    text = result_text("anthropic", server.requests[1])
    assert "(1 total)" in text and f"URI: {work.resolve().as_uri()}" in text


def test_sampling_is_never_declared_and_a_server_that_asks_anyway_is_declined(
        work: Path, home: Path, server: ScriptedServer, tmp_path: Path) -> None:
    server.enqueue(calls("anthropic", ("call_1", "rogue_ask_model", {})), Reply(chunks=["No model for you."]))
    out = one_shot("anthropic", home, server, work, tmp_path, everything(), rogue_server())
    offered = [t["name"] for t in server.requests[0].json["tools"]]
    assert "everything_trigger-sampling-request" not in offered  # hidden: the capability is not declared
    assert "everything_get-roots-list" in offered  # (roots is)
    said = result_text("anthropic", server.requests[1])
    assert said.startswith("the client answered: {") and "Sampling not supported" in said
    assert out.stdout == "No model for you.\n"


def test_the_protocol_is_negotiated_down_for_an_older_server_and_tools_shows_it(tmp_path: Path) -> None:
    """server-everything speaks 2025-11-25; demo.py (the `mcp` package we depend on) the newest."""
    from chinwag.tools import Toolbox
    from tests.local_servers import wait_for

    box = Toolbox([], {"everything": everything(), "demo": demo_server()}, tmp_path)
    box.start()
    try:
        wait_for(lambda: not box.starting())
        lines = box.describe()
        assert "MCP server everything: up (protocol 2025-11-25)" in lines
        assert "MCP server demo: up (protocol 2026-07-28)" in lines
    finally:
        box.close()


def test_a_bad_uri_for_read_resource_is_one_error_result_and_the_server_goes_on(tmp_path: Path) -> None:
    from chinwag.records import ToolCall
    from chinwag.tools import Toolbox
    from tests.local_servers import wait_for

    box = Toolbox([], {"everything": everything()}, tmp_path)
    box.start()
    try:
        wait_for(lambda: not box.starting())
        assert box.verdict(ToolCall("c0", "everything_read_resource", {"uri": "demo://x"})).ask is False
        missing = box.run(ToolCall("c1", "everything_read_resource", {"uri": "demo://no/such/thing"}))
        assert missing.status == "error" and missing.content.startswith("MCP server everything refused the call:")
        empty = box.run(ToolCall("c2", "everything_read_resource", {"uri": ""}))
        assert empty.status == "error" and "'uri' must be a non-empty string" in empty.content
        read = box.run(ToolCall("c3", "everything_read_resource",
                                {"uri": "demo://resource/static/document/architecture.md"}))
        assert read.status == "ok" and read.content.startswith(
            "[resource demo://resource/static/document/architecture.md (text/markdown)]\n")
        assert box.take_notices() == []
    finally:
        box.close()
