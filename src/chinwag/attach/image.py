"""Images within a provider's limits: downscaled with Pillow when over them.

Imported only when an image is attached (Pillow costs ~50 ms to import). An
image already within the limits, and upright, is sent as its own bytes,
untouched (no decode, no copy). One over them, or with an EXIF orientation
(a phone's photo held sideways), is decoded once (JPEG at a reduced scale
straight from the decoder, `draft`), shrunk to the provider's recommended
long edge (its displayed size is what the line gives), turned upright
(`exif_transpose`, on the small image) and re-encoded; if the result
is still too large for the provider, it becomes a JPEG at falling quality, so
it is never sent larger than the API takes.

Memory stays bounded whatever arrives (chinwag serve takes uploads from a
page): the size is read from the header before any pixel is decoded; what
cannot be decoded reduced (PNG, GIF, WebP decode whole, 4 bytes a pixel) is
refused over `DECODE_PIXELS`; and one image is decoded at a time in the
process (`DECODES`).
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass

from chinwag.attach import b64_size
from chinwag.errors import UsageError
from chinwag.providers.spec import ImageLimits

_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF", "image/webp": "WEBP"}
DECODE_PIXELS = 40_000_000  # the most pixels decoded at once: 160 MB in Pillow's 4 bytes a pixel
DECODES = threading.BoundedSemaphore(1)  # images decoded at once in this process
_ORIENTATION = 0x0112  # the EXIF tag; 1 is upright, 5-8 swap width and height


@dataclass(frozen=True)
class Fitted:
    data: bytes  # what is sent
    media: str  # its media type
    before: tuple[int, int]  # width × height as displayed (EXIF orientation applied)
    after: tuple[int, int]  # as sent
    turned: bool  # turned upright from an EXIF orientation


def fit_image(name: str, data: bytes, media: str, limits: ImageLimits) -> Fitted:
    """The image as it is sent to a provider with `limits`."""
    import warnings

    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))  # reads the header only
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise UsageError(f"{name} has more pixels than chinwag will decode ({(Image.MAX_IMAGE_PIXELS or 0) // 10**6}"
                         " MP at most); downscale it first.") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise UsageError(f"{name} is not a readable image ({exc}).") from None
    try:
        with image:
            orientation = _orientation(image)
            before = image.size
            if orientation == 1 and max(before) <= limits.max_edge and b64_size(len(data)) <= limits.max_bytes:
                image.verify()  # a truncated or corrupt file is refused here, not by the API
                return Fitted(data, media, before, before, turned=False)
            with DECODES:
                return _shrunk(name, image, media, limits, len(data), orientation)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as exc:
        raise UsageError(f"{name} is not a readable image ({exc}).") from None


def _orientation(image: object) -> int:
    from PIL import Image

    assert isinstance(image, Image.Image)
    raw = image.info.get("exif")  # read with the header; image.getexif() would decode a PNG whole
    if not isinstance(raw, bytes):
        return 1
    try:
        exif = Image.Exif()
        exif.load(raw)
        value = exif.get(_ORIENTATION, 1)
    except (OSError, SyntaxError, ValueError, TypeError):  # a broken EXIF block: as if there were none
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _shrunk(name: str, image: object, media: str, limits: ImageLimits, source: int, orientation: int) -> Fitted:
    from PIL import Image, ImageOps

    assert isinstance(image, Image.Image)
    stored = image.size
    scale = min(1.0, limits.long_edge / max(stored))
    target = (max(1, round(stored[0] * scale)), max(1, round(stored[1] * scale)))
    if media == "image/jpeg":
        image.draft("RGB", target)  # decode at 1/2, 1/4 or 1/8 scale where that is still large enough
    if image.size[0] * image.size[1] > DECODE_PIXELS:
        raise UsageError(f"{name} is {stored[0]}×{stored[1]} ({stored[0] * stored[1] / 1e6:.0f} MP); chinwag decodes"
                         f" images up to {DECODE_PIXELS // 10**6} MP (JPEG any size); downscale it first.")
    if image.mode == "P":  # a palette resamples badly (and GIF's is one)
        image = image.convert("RGBA")
    if image.size != target:  # `reduce` by a whole factor first: fast, and the full size is held once
        image = image.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
    turned = orientation != 1
    if turned:  # the pixels upright, after the scaling (the same result, on far fewer pixels); no tag sent on
        image = ImageOps.exif_transpose(image)
        if orientation in (5, 6, 7, 8):
            stored = (stored[1], stored[0])
    fmt = _FORMATS[media]
    if fmt == "GIF":  # one frame; PNG keeps it exact
        fmt, media = "PNG", "image/png"
    out = _encode(image, fmt) if b64_size(round(source * scale ** 2)) <= limits.max_bytes else b""
    quality = 90
    while (not out or b64_size(len(out)) > limits.max_bytes) and quality > 30:
        fmt, media = "JPEG", "image/jpeg"
        out = _encode(image.convert("RGB"), fmt, quality)
        quality -= 15
    if b64_size(len(out)) > limits.max_bytes:  # never sent larger than the API takes
        raise UsageError(f"this image is still over {limits.max_bytes // 2**20} MB after downscaling.")
    return Fitted(out, media, stored, image.size, turned)


def _encode(image: object, fmt: str, quality: int = 90) -> bytes:
    from PIL import Image

    assert isinstance(image, Image.Image)
    if fmt == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, fmt, **({"quality": quality} if fmt in ("JPEG", "WEBP") else {"compress_level": 3}))
    return buffer.getvalue()
