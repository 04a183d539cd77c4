"""Reading an attachment: the type comes from the content, an image is kept
within the provider's limits (downscaled, and the line says so), text files
go under a header naming them, and every bad input is one line, nothing sent."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image as PILImage

from chinwag.attach import MAX_BYTES, b64_size, check, image_size, load
from chinwag.providers.registry import entry
from chinwag.errors import FetchFailed, UsageError
from chinwag.records import Document, Image, Text


def picture(path: Path, size: tuple[int, int], fmt: str = "PNG") -> Path:
    image = PILImage.new("RGB", size, (20, 120, 200))
    image.save(path, fmt)
    return path


def test_an_image_within_limits_is_sent_as_its_own_bytes(tmp_path: Path) -> None:
    path = picture(tmp_path / "diagram.png", (1280, 720))
    attachment = load(str(path), "anthropic")
    assert attachment.block == Image("image/png", path.read_bytes(), "diagram.png")
    assert attachment.line.startswith("📎 diagram.png · image/png · 1280×720 · ")
    assert "downscaled" not in attachment.line


@pytest.mark.parametrize("fmt,media", [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp"),
                                       ("GIF", "image/png")])
def test_an_image_over_openais_pixel_limit_is_downscaled_to_2048(tmp_path: Path, fmt: str, media: str) -> None:
    attachment = load(str(picture(tmp_path / f"wide.{fmt.lower()}", (4000, 1000), fmt)), "openai")
    assert isinstance(attachment.block, Image) and attachment.block.media_type == media
    assert image_size(attachment.block.data) == (2048, 512)
    assert "downscaled from 4000×1000 for openai" in attachment.line


def test_an_image_over_anthropics_byte_limit_is_downscaled_below_it(tmp_path: Path) -> None:
    import os

    noise = PILImage.frombytes("RGB", (2600, 2600), os.urandom(2600 * 2600 * 3))
    path = tmp_path / "noise.png"
    noise.save(path, "PNG", compress_level=0)  # 2600×2600 of noise: a 20 MB PNG
    attachment = load(str(path), "anthropic")
    assert isinstance(attachment.block, Image)
    assert b64_size(len(attachment.block.data)) <= entry("anthropic").attachments.images.max_bytes
    assert max(image_size(attachment.block.data) or (0, 0)) == 1568
    assert path.stat().st_size > entry("anthropic").attachments.images.max_bytes
    assert "downscaled from 2600×2600" in attachment.line


def test_the_type_comes_from_the_content_not_the_name(tmp_path: Path) -> None:
    path = tmp_path / "screenshot"
    path.write_bytes(picture(tmp_path / "x.png", (10, 10)).read_bytes())
    assert load(str(path), "anthropic").block.type == "image"
    assert load("-", "anthropic", stdin=io.BytesIO(path.read_bytes())).block.type == "image"


def test_a_pdf_is_a_document_and_as_text_extracts_its_text(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(_pdf("Quarterly revenue rose"))
    attachment = load(str(path), "anthropic")
    assert attachment.block == Document("application/pdf", path.read_bytes(), "report.pdf")
    text = load(str(path), "anthropic", as_text=True).block
    assert isinstance(text, Text) and "Quarterly revenue rose" in text.text and "report.pdf" in text.text


def test_a_text_file_goes_under_a_header_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_text("# Plan\n```sh\nmake\n```\n", encoding="utf-8")
    attachment = load(str(path), "local")  # text goes to every model
    assert attachment.block == Text("# file: notes.md\n````\n# Plan\n```sh\nmake\n```\n````\n\n")
    assert attachment.line == "📎 notes.md · text/plain · 22 B · 4 lines"


def test_the_bundled_model_refuses_images_and_pdfs_before_any_request(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="reads text only"):
        load(str(picture(tmp_path / "a.png", (10, 10))), "local")
    with pytest.raises(UsageError, match="reads text only"):
        check([Document("application/pdf", b"%PDF-", "r.pdf")], "local")
    check([Document("application/pdf", b"%PDF-", "r.pdf")], "openai")  # unknown models get the request


@pytest.mark.parametrize("make,message", [
    (lambda d: d / "missing.png", "no such file"),
    (lambda d: d, "is a directory; attach the files in it one by one"),
    (lambda d: _write(d / "fake.png", b"hello"), "not an image"),
    (lambda d: _write(d / "broken.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 40), "not a readable image"),
    (lambda d: _write(d / "fake.pdf", b"hello"), "not a PDF"),
    (lambda d: _write(d / "a.bin", b"\x00\x01\x02\xff"), "binary"),
    (lambda d: _write(d / "a.bmp", b"BM" + b"\0" * 12 + b"\x28" + b"\0" * 40), "image/bmp"),
])
def test_bad_input_is_one_line(tmp_path: Path, make: object, message: str) -> None:
    with pytest.raises(UsageError, match=message) as caught:
        load(str(make(tmp_path)), "anthropic")  # type: ignore[operator]
    assert "\n" not in caught.value.message


def test_an_unreadable_file_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path / "secret.txt", b"x")

    def refused(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")  # as chmod 0 gives anyone but root (these tests run as root)

    with monkeypatch.context() as patch, pytest.raises(UsageError, match="cannot attach .*secret.txt: Permission denied."):
        patch.setattr("chinwag.attach.reading.os.open", refused)
        load(str(path), "anthropic")


def test_a_huge_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.png"
    with path.open("wb") as file:
        file.truncate(2 * 1024**3)  # 2 GB, sparse: reading it whole would take seconds and 2 GB
    started = time.perf_counter()
    with pytest.raises(UsageError, match="2048.0 MB; chinwag attaches files up to 32.0 MB"):
        load(str(path), "anthropic")
    assert time.perf_counter() - started < 0.5
    assert MAX_BYTES == 32 * 1024 * 1024


@pytest.fixture
def web() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            if self.path == "/slow":
                time.sleep(3)
            body, kind = (b"a,b\n1,2\n", "text/csv; charset=utf-8")
            self.send_response(200)
            self.send_header("content-type", kind)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except OSError:
                pass  # the client gave up (the time-out test)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_url_is_fetched_and_a_slow_one_times_out_in_one_line(web: str, monkeypatch: pytest.MonkeyPatch) -> None:
    attachment = load(f"{web}/data.csv", "anthropic")
    assert attachment.block == Text("# file: data.csv\n```\na,b\n1,2\n```\n\n")
    monkeypatch.setattr("chinwag.attach.URL_TIMEOUT", 0.5)
    with pytest.raises(FetchFailed, match="timed out after 0.5 s"):
        load(f"{web}/slow", "anthropic")


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _pdf(text: str) -> bytes:
    """A one-page PDF whose text pypdf can extract."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
               b" /Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def test_an_image_with_too_many_pixels_is_one_line_not_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "huge.png"
    PILImage.new("1", (12000, 8000)).save(path, "PNG")  # 96 MP of one colour: a small file
    with pytest.raises(UsageError, match="more pixels than chinwag will decode"):
        load(str(path), "anthropic")


def _sideways_photo(path: Path, size: tuple[int, int]) -> Path:
    """A JPEG stored as a phone stores a photo held upright: sideways, EXIF
    Orientation 6 ("rotate 90° clockwise to show"). Stored left half red, right
    half blue, so shown upright red is on top and blue below."""
    width, height = size
    image = PILImage.new("RGB", size, (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, width // 2, height))
    exif = PILImage.Exif()
    exif[0x0112] = 6
    image.save(path, "JPEG", exif=exif.tobytes(), quality=85)
    return path


@pytest.mark.parametrize("provider,shown", [("openai", (1536, 2048)), ("anthropic", (1176, 1568))])
def test_a_sideways_photo_is_turned_upright_before_it_is_downscaled(tmp_path: Path, provider: str,
                                                                     shown: tuple[int, int]) -> None:
    path = _sideways_photo(tmp_path / "photo.jpg", (4032, 3024))
    attachment = load(str(path), provider)
    assert isinstance(attachment.block, Image)
    sent = PILImage.open(io.BytesIO(attachment.block.data))
    assert sent.size == shown  # portrait, as the phone showed it
    assert sent.getexif().get(0x0112, 1) == 1  # no tag left to turn it a second time
    rgb = sent.convert("RGB")
    top, bottom = rgb.getpixel((shown[0] // 2, shown[1] // 8)), rgb.getpixel((shown[0] // 2, shown[1] * 7 // 8))
    assert top[0] > 200 and top[2] < 60 and bottom[2] > 200 and bottom[0] < 60, (top, bottom)
    assert f"· {shown[0]}×{shown[1]} ·" in attachment.line
    assert attachment.line.endswith(f"turned upright (EXIF) · downscaled from 3024×4032 for {provider}")


def test_a_small_sideways_photo_is_turned_upright_too(tmp_path: Path) -> None:
    attachment = load(str(_sideways_photo(tmp_path / "small.jpg", (800, 600))), "anthropic")
    assert isinstance(attachment.block, Image)
    assert PILImage.open(io.BytesIO(attachment.block.data)).size == (600, 800)
    assert "· 600×800 ·" in attachment.line and attachment.line.endswith("turned upright (EXIF)")


def test_a_png_too_large_to_decode_reduced_is_refused_from_its_header(tmp_path: Path) -> None:
    path = tmp_path / "poster.png"
    PILImage.new("1", (9000, 5000)).save(path, "PNG")  # 45 MP: 180 MB decoded, a small file
    with pytest.raises(UsageError, match="poster.png is 9000×5000 \\(45 MP\\); chinwag decodes images up to 40 MP"):
        load(str(path), "openai")
