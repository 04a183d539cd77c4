"""An attachment from an http(s) URL: fetched with httpx2 under a size cap and
a deadline; the media type is taken from the response (and then checked
against the content, as for a file). A URL that cannot be fetched (refused,
timed out, an error status) is a network failure, `FetchFailed` (exit 1); one
over the cap is refused as any too-large input is (exit 2)."""

from __future__ import annotations

import time

from chinwag.errors import FetchFailed, UsageError


def fetch(url: str, max_bytes: int, timeout: float) -> tuple[str, bytes, str]:
    """(name from the URL's path, the body, the response's media type)."""
    import httpx2

    from chinwag.attach.reading import size_text

    deadline = time.monotonic() + timeout
    try:
        with httpx2.Client(timeout=httpx2.Timeout(timeout), follow_redirects=True) as client:
            with client.stream("GET", url) as response:
                if response.status_code >= 400:
                    raise FetchFailed(f"cannot attach {url}: the server answered {response.status_code}.")
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise UsageError(f"{url} is {size_text(int(declared))}; chinwag attaches up to"
                                     f" {size_text(max_bytes)}.")
                chunks, total = [], 0
                for chunk in response.iter_bytes():
                    total += len(chunk)
                    if total > max_bytes:
                        raise UsageError(f"{url} is over {size_text(max_bytes)}, the most chinwag attaches.")
                    if time.monotonic() > deadline:
                        raise FetchFailed(f"cannot attach {url}: it timed out after {timeout:g} s.")
                    chunks.append(chunk)
                media = response.headers.get("content-type", "").split(";")[0].strip().lower()
    except httpx2.TimeoutException:
        raise FetchFailed(f"cannot attach {url}: it timed out after {timeout:g} s.") from None
    except httpx2.InvalidURL as exc:
        raise UsageError(f"cannot attach {url}: {str(exc).rstrip('.')}.") from None
    except httpx2.HTTPError as exc:
        raise FetchFailed(f"cannot attach {url}: {str(exc).rstrip('.')}.") from None
    name = url.split("?")[0].rstrip("/").rsplit("/", 1)[-1] or url
    return name, b"".join(chunks), media
