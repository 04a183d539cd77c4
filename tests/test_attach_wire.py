"""Attachments over both wires: the bytes arrive intact (the scripted server
decodes what it received and compares hashes), the request matches what the
official SDKs send for the same content, and what cannot be sent is refused
before any request."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
from PIL import Image as PILImage

from chinwag import Chat
from chinwag.errors import UsageError
from chinwag.records import Document, Image
from tests.fakes.server import ScriptedServer

CLAUDE, GPT = "claude-sonnet-4-20250514", "gpt-4o-mini"


def picture(path: Path, size: tuple[int, int] = (640, 480)) -> Path:
    PILImage.new("RGB", size, (200, 30, 60)).save(path, "PNG")
    return path


def chat(api: str, server: ScriptedServer, tmp_path: Path, **kwargs: Any) -> Chat:
    model = f"anthropic:{CLAUDE}" if api == "anthropic" else f"openai:{GPT}"
    base = server.base_url if api == "anthropic" else server.base_url + "/v1"
    return Chat(model, base_url=base, api_key="test-key", environ={"CHINWAG_HOME": str(tmp_path)},
                cwd=tmp_path, **kwargs)


def received(api: str, body: dict[str, Any]) -> list[tuple[str, bytes]]:
    """(media type, decoded bytes) of each attachment in the last user message received."""
    out = []
    for part in body["messages"][-1]["content"]:
        if api == "anthropic" and part["type"] in ("image", "document"):
            out.append((part["source"]["media_type"], base64.b64decode(part["source"]["data"])))
        elif api == "openai" and part["type"] in ("image_url", "file"):
            url = part["image_url"]["url"] if part["type"] == "image_url" else part["file"]["file_data"]
            head, _, data = url.partition(",")
            out.append((head.removeprefix("data:").removesuffix(";base64"), base64.b64decode(data)))
    return out


@pytest.mark.parametrize("api", ["anthropic", "openai"])
def test_image_and_pdf_bytes_round_trip_on_both_wires(scripted_server: ScriptedServer, tmp_path: Path,
                                                      api: str) -> None:
    png = picture(tmp_path / "diagram.png")
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 100 + b"\n%%EOF\n")
    with chat(api, scripted_server, tmp_path, save=False) as c:
        reply = c.ask("what is wrong with this schema?", [png, pdf])
    assert reply.status == "complete"
    got = received(api, scripted_server.requests[-1].json)
    assert [(media, hashlib.sha256(data).hexdigest()) for media, data in got] == [
        ("image/png", hashlib.sha256(png.read_bytes()).hexdigest()),
        ("application/pdf", hashlib.sha256(pdf.read_bytes()).hexdigest())]
    last = scripted_server.requests[-1].json["messages"][-1]["content"]
    assert last[-1] == {"type": "text", "text": "what is wrong with this schema?"}


def test_the_anthropic_request_matches_the_sdks(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    png, pdf = picture(tmp_path / "a.png").read_bytes(), b"%PDF-1.4\nbody\n%%EOF\n"
    content = [{"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                            "data": base64.b64encode(png).decode()}},
               {"type": "document", "source": {"type": "base64", "media_type": "application/pdf",
                                               "data": base64.b64encode(pdf).decode()}},
               {"type": "text", "text": "what is this?"}]
    with anthropic.Anthropic(api_key="test-key", base_url=scripted_server.base_url, max_retries=0) as client:
        client.messages.create(model=CLAUDE, max_tokens=100, messages=[{"role": "user", "content": content}])  # type: ignore[list-item]
    with chat("anthropic", scripted_server, tmp_path, save=False) as c:
        c.ask("what is this?", [Image("image/png", png, "a.png"), Document("application/pdf", pdf, "r.pdf")])
    sdk, ours = scripted_server.requests[0].json, scripted_server.requests[1].json
    assert ours["messages"] == sdk["messages"]


def test_the_openai_request_matches_the_sdks(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    png, pdf = picture(tmp_path / "a.png").read_bytes(), b"%PDF-1.4\nbody\n%%EOF\n"
    content = [{"type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(png).decode()}},
               {"type": "file", "file": {"filename": "r.pdf",
                                         "file_data": "data:application/pdf;base64," + base64.b64encode(pdf).decode()}},
               {"type": "text", "text": "what is this?"}]
    with openai.OpenAI(api_key="test-key", base_url=scripted_server.base_url + "/v1", max_retries=0) as client:
        client.chat.completions.create(model=GPT, max_tokens=100, messages=[{"role": "user", "content": content}])  # type: ignore[list-item, misc]
    with chat("openai", scripted_server, tmp_path, save=False, system="") as c:
        c.ask("what is this?", [Image("image/png", png, "a.png"), Document("application/pdf", pdf, "r.pdf")])
    sdk, ours = scripted_server.requests[0].json, scripted_server.requests[1].json
    assert [m for m in ours["messages"] if m["role"] != "system"] == sdk["messages"]


def test_a_text_only_model_refuses_an_image_before_any_request(tmp_path: Path) -> None:
    with Chat("local", save=False, environ={"CHINWAG_HOME": str(tmp_path)}, cwd=tmp_path) as c:
        with pytest.raises(UsageError, match="reads text only"):
            c.ask("what is this?", [picture(tmp_path / "a.png")])
        assert c.messages == []  # nothing kept, nothing sent
