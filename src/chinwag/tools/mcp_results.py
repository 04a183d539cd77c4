"""A tool call's result, as an MCP server sent it, turned into chinwag's ToolOutput."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from chinwag.tools.output import ToolOutput, cap, count_lines, cut_summary, one_line, plural

if TYPE_CHECKING:  # mcp is imported on the hub's loop thread; the prompt does not pay for it
    from mcp.types import CallToolResult, ContentBlock


def tool_output(result: CallToolResult, max_output: int) -> ToolOutput:
    parts = [content_text(block) for block in result.content]
    if not parts and result.structured_content is not None:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False))
    text = "\n".join(parts)
    content = cap(text, max_output)
    if result.is_error:
        return ToolOutput(content or "the tool failed (no message)", "error", one_line(text or "failed"))
    summary = plural(count_lines(text), "line")
    total = len(text.encode("utf-8", "surrogateescape"))
    if total > max_output:  # the line says so, as the model is told (cap's note)
        summary += f" · {cut_summary(max_output, total)}"
    return ToolOutput(content, "ok", summary)


def content_text(block: ContentBlock) -> str:
    """A content block as text for the model: text as it is, other media described."""
    kind = block.type
    if kind == "text":
        return str(getattr(block, "text", ""))
    if kind == "resource":
        resource = getattr(block, "resource", None)
        text = getattr(resource, "text", None)
        if text is not None:
            return str(text)
        return f"[resource {getattr(resource, 'uri', '')}: {getattr(resource, 'mime_type', None) or 'binary'}]"
    if kind == "resource_link":
        return f"[resource link: {getattr(block, 'uri', '')}]"
    return f"[{kind} content: {getattr(block, 'mime_type', '') or 'unknown type'}, not shown]"
