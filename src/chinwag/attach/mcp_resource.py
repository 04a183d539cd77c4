"""An MCP server's resource, `mcp:SERVER:URI`, made into an attachment as a file is:
through the same checks and limits (`-a`, `/attach`, and the page's resources).
What the server sends is untrusted, as a file is; the caller sanitizes the line it shows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chinwag.errors import UsageError
from chinwag.render.sanitize import sanitize

if TYPE_CHECKING:
    from chinwag.attach import Attachment
    from chinwag.toolloop import ToolUse

NO_SERVERS = ("no MCP servers in this chat: add [mcp_servers.NAME] to config.toml, or --mcp-config FILE.")


def load_resource(spec: str, provider: str, tool_use: ToolUse | None, *, as_text: bool = False) -> Attachment:
    """`mcp:SERVER:URI` read from its server and made an attachment, through the same checks
    and limits as a file."""
    import base64

    from chinwag.attach import accepted, from_bytes
    from chinwag.providers.spec import MAX_ATTACHMENT_BYTES
    from chinwag.tools.mcp_prompts import split_spec

    server, uri = split_spec(spec)
    if "{" in uri and "}" in uri:
        raise UsageError(f"{sanitize(uri)} is a template: put its parameters in the URI"
                         f" (e.g. {sanitize(uri.split('{')[0])}1).")
    if tool_use is None:
        raise UsageError(NO_SERVERS)
    hub = tool_use.toolbox.mcp
    tool_use.wait_for_servers()
    result = hub.read_resource(server, uri)
    if not result.contents:
        raise UsageError(f"MCP server {sanitize(server)} has nothing at {sanitize(uri)}.")
    contents = result.contents[0]
    cap = min(MAX_ATTACHMENT_BYTES, accepted(provider).max_bytes)
    text = getattr(contents, "text", None)
    data = text.encode() if text is not None else base64.b64decode(getattr(contents, "blob", "") or "")
    if len(data) > cap:
        raise UsageError(f"cannot attach {sanitize(uri)}: it is {len(data):,} bytes; attachments stop at {cap:,}.")
    return from_bytes(str(contents.uri or uri), data, provider, as_text=as_text,
                      declared=contents.mime_type or "")
