"""Images within a provider's limits: downscaled with Pillow when over them.

Imported only when an image is attached (Pillow costs ~50 ms to import). An
image already within the limits is sent as its own bytes, untouched (no
decode, no copy). One over them is decoded once (JPEG at a reduced scale
straight from the decoder, `draft`), shrunk to the provider's recommended long
edge and re-encoded; if the result is still too large for the provider, it
becomes a JPEG at falling quality, so it is never sent larger than the API takes.
"""

from __future__ import annotations

import io

from chinwag.attach import Limits, b64_size
from chinwag.errors import UsageError

_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF", "image/webp": "WEBP"}


def fit_image(name: str, data: bytes, media: str, limits: Limits) -> tuple[bytes, str, tuple[int, int], tuple[int, int]]:
    """(bytes to send, their media type, size before, size after)."""
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
            before = image.size
            if max(before) <= limits.max_edge and b64_size(len(data)) <= limits.max_bytes:
                image.verify()  # a truncated or corrupt file is refused here, not by the API
                return data, media, before, before
            return _shrunk(image, media, limits, before, len(data))
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as exc:
        raise UsageError(f"{name} is not a readable image ({exc}).") from None


def _shrunk(image: object, media: str, limits: Limits, before: tuple[int, int],
            source: int) -> tuple[bytes, str, tuple[int, int], tuple[int, int]]:
    from PIL import Image

    assert isinstance(image, Image.Image)
    edge = limits.long_edge
    scale = min(1.0, edge / max(before))
    target = (max(1, round(before[0] * scale)), max(1, round(before[1] * scale)))
    if media == "image/jpeg":
        image.draft("RGB", target)  # decode at 1/2, 1/4 or 1/8 scale where that is still large enough
    if image.mode == "P":  # a palette resamples badly (and GIF's is one)
        image = image.convert("RGBA")
    image = image.resize(target, Image.Resampling.LANCZOS) if image.size != target else image
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
    return out, media, before, image.size


def _encode(image: object, fmt: str, quality: int = 90) -> bytes:
    from PIL import Image

    assert isinstance(image, Image.Image)
    if fmt == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, fmt, **({"quality": quality} if fmt in ("JPEG", "WEBP") else {"compress_level": 3}))
    return buffer.getvalue()
