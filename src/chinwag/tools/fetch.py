"""The `fetch_url` tool: one GET, text only, capped, with a deadline.

Redirects are followed by hand (at most `MAX_REDIRECTS`) so each hop can be
shown to the user. Only text comes back: `text/*` and the JSON, XML and
JavaScript types; anything else is refused unread. The body is read up to
the toolbox's `max_output` bytes and the rest is left on the wire. httpx2 is
imported when the tool first runs.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from chinwag.tools.output import ToolOutput, cut_note, one_line, size

if TYPE_CHECKING:
    import httpx2

MAX_REDIRECTS = 10
TEXT_TYPES = ("application/json", "application/xml", "application/javascript", "application/ecmascript",
              "application/x-ndjson", "application/x-yaml", "application/yaml", "application/toml",
              "application/xhtml+xml", "application/rss+xml", "application/atom+xml")

FETCH_URL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "url": {"type": "string", "description": "An http:// or https:// URL to GET. Only text comes back "
                                                 "(HTML, JSON, plain text...), cut to a size limit."},
    },
    "required": ["url"],
    "additionalProperties": False,
}


def is_text(content_type: str) -> bool:
    kind = content_type.split(";")[0].strip().lower()
    return kind.startswith("text/") or kind in TEXT_TYPES or kind.endswith(("+json", "+xml"))


def fetch_url(args: Mapping[str, Any], max_output: int, timeout: float) -> ToolOutput:
    import httpx2

    url = args["url"]
    if not url.startswith(("http://", "https://")):
        return ToolOutput.error(f"refused: {url!r} is not an http:// or https:// URL")
    deadline = time.monotonic() + timeout
    hops: list[str] = []
    headers = {"user-agent": "chinwag (fetch_url tool)", "accept": "text/*, application/json;q=0.9, */*;q=0.1"}
    try:
        with httpx2.Client(timeout=httpx2.Timeout(timeout), follow_redirects=False, headers=headers) as client:
            for _ in range(MAX_REDIRECTS + 1):
                with client.stream("GET", url) as response:
                    location = response.headers.get("location")
                    if response.is_redirect and location:
                        url = urljoin(url, location)
                        hops.append(f"{response.status_code} → {url}")
                        continue
                    return _answer(response, hops, max_output, deadline)
    except httpx2.TimeoutException:
        return _failed(f"timed out after {timeout:g} s", hops)
    except TimeoutError:
        return _failed(f"timed out after {timeout:g} s (the body was still arriving)", hops)
    except httpx2.HTTPError as exc:
        return _failed(f"{type(exc).__name__}: {exc}", hops)
    return _failed(f"more than {MAX_REDIRECTS} redirects", hops)


def _answer(response: httpx2.Response, hops: list[str], max_output: int, deadline: float) -> ToolOutput:
    content_type = response.headers.get("content-type", "")
    head = f"{response.status_code} {response.reason_phrase}".strip()
    via = f" · via {', '.join(hops)}" if hops else ""
    if not is_text(content_type):
        kind = content_type.split(";")[0] or "no content type"
        return ToolOutput(f"refused: {response.url} is {kind}, not text; fetch_url only reads text",
                          "error", one_line(f"{head} · {kind} refused (not text){via}"))
    body = bytearray()
    more = False
    for chunk in response.iter_bytes():
        if time.monotonic() > deadline:
            raise TimeoutError
        room = max_output - len(body)
        body += chunk[:room]
        if len(chunk) > room:
            more = True
            break  # leave the rest unread: closing the response drops the connection
    try:
        text = bytes(body).decode(response.charset_encoding or "utf-8", "replace")
    except LookupError:  # a charset Python does not know
        text = bytes(body).decode("utf-8", "replace")
    total = len(body)
    if more:
        length = response.headers.get("content-length", "")
        rest = int(length) - len(body) if length.isdigit() else 0
        text += f"\n{cut_note(rest)}" if rest > 0 else "\n[… the rest of the body cut]"
        total += max(rest, 0)
    prefix = f"[redirected: {', '.join(hops)}]\n" if hops else ""
    kind = content_type.split(";")[0].strip()
    shown = f"{size(total)}{'+' if more and total == len(body) else ''}{' (cut)' if more else ''}"
    return ToolOutput(prefix + text, "ok" if response.status_code < 400 else "error", one_line(f"{head} {kind} · {shown}{via}"))


def _failed(why: str, hops: list[str]) -> ToolOutput:
    via = f" (via {', '.join(hops)})" if hops else ""
    return ToolOutput(f"fetch failed: {why}{via}", "error", one_line(f"{why}{via}"))
