"""Attachments from the command line and in the chat: -a and /attach, the 📎
line before the reply, nothing sent when an attachment is refused, -c sending
them again as they were, the history showing and exporting them, the context
window counting them, and Pillow/pypdf left unimported until one needs them."""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
from contextlib import closing
from pathlib import Path

from PIL import Image as PILImage

from chinwag.context import attachment_tokens, fit
from chinwag.records import Document, Image, Message, Window
from tests.cli_helpers import (
    anthropic_env,
    chinwag_env,
    imported_before_prompt,
    leave_chat,
    run_chinwag,
    spawn_chinwag,
    start_chat,
)
from tests.fakes.server import ScriptedServer


def picture(path: Path, size: tuple[int, int] = (1280, 720)) -> Path:
    PILImage.new("RGB", size, (10, 200, 90)).save(path, "PNG")
    return path


def sent_images(body: dict[str, object]) -> list[str]:
    """sha256 of each image in an Anthropic request, in order."""
    out = []
    for message in body["messages"]:  # type: ignore[attr-defined]
        for part in message["content"] if isinstance(message["content"], list) else []:
            if part["type"] == "image":
                out.append(hashlib.sha256(base64.b64decode(part["source"]["data"])).hexdigest())
    return out


def test_attach_flag_shows_the_line_sends_the_image_and_continue_sends_it_again(
        scripted_server: ScriptedServer, tmp_path: Path) -> None:
    png = picture(tmp_path / "diagram.png")
    env = anthropic_env(tmp_path / "home", scripted_server.base_url)
    first = run_chinwag(["-a", str(png), "what is wrong with this schema?"], env)
    assert first.returncode == 0, first.stderr
    assert "📎 diagram.png · image/png · 1280×720 · " in first.stderr
    again = run_chinwag(["-c", "and now?"], env)
    assert again.returncode == 0, again.stderr
    digest = hashlib.sha256(png.read_bytes()).hexdigest()
    assert sent_images(scripted_server.requests[0].json) == [digest]
    assert sent_images(scripted_server.requests[1].json) == [digest]  # as it was, from the history


def test_stdin_is_read_as_binary_and_typed_by_its_content(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    png = picture(tmp_path / "x.png")
    result = run_chinwag(["-a", "-", "what is this?"], anthropic_env(tmp_path / "home", scripted_server.base_url),
                         input=png.read_bytes())
    assert result.returncode == 0, result.stderr
    assert "📎 stdin · image/png" in result.stderr
    assert sent_images(scripted_server.requests[0].json) == [hashlib.sha256(png.read_bytes()).hexdigest()]


def test_a_refused_attachment_is_one_line_and_nothing_is_sent(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    env = anthropic_env(tmp_path / "home", scripted_server.base_url)
    for args, message in ((["-a", str(tmp_path / "missing.png")], "no such file"),
                          (["-a", str(tmp_path)], "is a directory"),
                          (["-m", "local", "-a", str(picture(tmp_path / "a.png"))], "reads text only")):
        result = run_chinwag([*args, "what is this?"], env)
        assert result.returncode == 2
        errors = [line for line in result.stderr.splitlines() if not line.startswith("chinwag: using")]
        assert len(errors) == 1 and message in errors[0], result.stderr
    assert scripted_server.requests == []


def test_slash_attach_adds_to_the_next_message_and_lists_what_is_pending(
        scripted_server: ScriptedServer, tmp_path: Path) -> None:
    png = picture(tmp_path / "shot.png")
    child = start_chat(anthropic_env(tmp_path / "home", scripted_server.base_url))
    child.sendline("/attach")
    child.expect("Nothing attached")
    child.sendline(f"/attach {png}")
    child.expect("📎 shot.png · image/png · 1280×720 · .* · with your next message")
    child.expect("You: ")
    child.sendline("/attach")
    child.expect("1 attached to your next message")
    child.expect("You: ")
    child.sendline("what is wrong here?")
    child.expect("📎 shot.png")  # the line again, as it goes
    child.expect("Hello!")
    leave_chat(child)
    body = scripted_server.requests[0].json
    assert sent_images(body) == [hashlib.sha256(png.read_bytes()).hexdigest()]
    assert body["messages"][-1]["content"][-1] == {"type": "text", "text": "what is wrong here?"}


def test_a_pasted_path_alone_is_sent_as_text(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    picture(tmp_path / "shot.png")
    child = spawn_chinwag([], anthropic_env(tmp_path / "home", scripted_server.base_url), cwd=tmp_path)
    child.expect("You: ")
    child.sendline("shot.png")
    child.expect("Hello!")
    leave_chat(child)
    assert scripted_server.requests[0].json["messages"][-1] == {"role": "user", "content": "shot.png"}


def test_history_shows_exports_and_deletes_attachments(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    png = picture(tmp_path / "diagram.png")
    home = tmp_path / "home"
    env = anthropic_env(home, scripted_server.base_url)
    assert run_chinwag(["-a", str(png), "what is this?"], env).returncode == 0
    shown = run_chinwag(["history", "show", "last"], env).stdout
    assert "You: what is this?\n📎 diagram.png · image/png · 1280×720 · " in shown
    exported = json.loads(run_chinwag(["history", "export", "last", "--format", "json"], env).stdout)
    image = exported["messages"][0]["blocks"][0]
    assert image["type"] == "image" and base64.b64decode(image["data"]) == png.read_bytes()
    out = tmp_path / "export" / "chat.md"
    out.parent.mkdir()
    assert run_chinwag(["history", "export", "last", "--format", "md", "-o", str(out)], env).returncode == 0
    assert "![📎 diagram.png](chat_files/1-diagram.png)" in out.read_text()
    assert (out.parent / "chat_files" / "1-diagram.png").read_bytes() == png.read_bytes()
    to_stdout = run_chinwag(["history", "export", "last", "--format", "md"], env, cwd=tmp_path)
    assert "wrote 1 attachment to" in to_stdout.stderr and (tmp_path / "conversation-1_files").is_dir()
    assert run_chinwag(["history", "delete", "last", "--yes"], env).returncode == 0
    with closing(sqlite3.connect(home / "history.db")) as conn:
        assert conn.execute("SELECT count(*) FROM blobs").fetchone() == (0,)


def test_pillow_and_pypdf_are_not_imported_before_the_prompt(tmp_path: Path) -> None:
    imported = imported_before_prompt(anthropic_env(tmp_path, "http://127.0.0.1:9"))
    assert "chinwag.cli" in imported
    assert not {"PIL", "pypdf", "chinwag.attach", "chinwag.attach.image", "hashlib"} & imported


def test_the_context_window_counts_attachments() -> None:
    image = Image("image/png", picture_bytes((1000, 750)), "a.png")
    assert attachment_tokens(image) == 1000
    pdf = Document("application/pdf", b"%PDF-1.4\n" + b"<< /Type /Page >>\n" * 3 + b"<< /Type /Pages >>", "r.pdf")
    assert attachment_tokens(pdf) == 9000
    window = Window(4000, lambda text: len(text))
    old = [Message("user", "", (image,)), Message("assistant", "ok")] * 4
    kept, dropped = fit([*old, Message("user", "now?")], None, window, reply_room=1000)
    assert dropped == 4 and kept[0].blocks == (image,)  # four images do not fit beside the reply; two do


def picture_bytes(size: tuple[int, int]) -> bytes:
    import io

    buffer = io.BytesIO()
    PILImage.new("RGB", size).save(buffer, "PNG")
    return buffer.getvalue()


def test_no_attach_flag_no_change(tmp_path: Path) -> None:
    result = run_chinwag(["--help"], chinwag_env(tmp_path))
    assert "-a PATH|URL|-, --attach PATH|URL|-" in result.stdout and "--as-text" in result.stdout


def test_a_server_that_refuses_a_pdf_gets_the_hint_to_send_its_text(scripted_server: ScriptedServer,
                                                                   tmp_path: Path) -> None:
    from tests.fakes.server import Reply

    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(b"%PDF-1.4\nbody\n%%EOF\n")
    scripted_server.enqueue(Reply(status=400, error_message="file content parts are not supported"))
    env = chinwag_env(tmp_path / "home", OPENAI_API_KEY="k", OPENAI_BASE_URL=scripted_server.base_url + "/v1")
    result = run_chinwag(["-m", "openai:some-model", "-a", str(pdf), "summarise"], env)
    assert result.returncode == 1
    assert "file content parts are not supported" in result.stderr
    assert "send the text instead: chinwag -a report.pdf --as-text" in result.stderr


def test_attach_flag_in_the_chat_goes_with_the_first_message(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    png = picture(tmp_path / "first.png")
    child = start_chat(anthropic_env(tmp_path / "home", scripted_server.base_url), ["-a", str(png)])
    assert "📎 first.png · image/png · 1280×720" in child.before and "with your first message" in child.before
    child.sendline("/attach -")
    child.expect("stdin is your typing")
    child.expect("You: ")
    child.sendline("what is this?")
    child.expect("Hello!")
    child.expect("You: ")
    child.sendline("and again?")  # sent once: the second message carries no new attachment
    child.expect("Hello!")
    leave_chat(child)
    digest = hashlib.sha256(png.read_bytes()).hexdigest()
    assert sent_images(scripted_server.requests[0].json) == [digest]
    assert sent_images(scripted_server.requests[1].json) == [digest]  # in the history, not attached twice
    assert scripted_server.requests[1].json["messages"][-1] == {"role": "user", "content": "and again?"}
