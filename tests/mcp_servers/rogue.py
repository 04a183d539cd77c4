"""An MCP server that breaks the rules a well-made one keeps, written as raw JSON-RPC on
stdio (protocol 2025-11-25; the `mcp` package's server would refuse to misbehave):

    python -m tests.mcp_servers.rogue

Tools:
- `weather`: declares an outputSchema and sends structuredContent that does not match it;
- `ask_model`: asks the client for sampling (sampling/createMessage) although the client
  never declared it, and answers with what the client said.
"""

from __future__ import annotations

import json
import sys
from typing import Any

PROTOCOL = "2025-11-25"
WEATHER_SCHEMA = {"type": "object", "properties": {"temperature": {"type": "number"}},
                  "required": ["temperature"]}
TOOLS = [
    {"name": "weather", "description": "The weather, as structured content.", "outputSchema": WEATHER_SCHEMA,
     "inputSchema": {"type": "object", "properties": {}},
     "annotations": {"readOnlyHint": True, "openWorldHint": False}},
    {"name": "ask_model", "description": "Ask the client's model something (sampling).",
     "inputSchema": {"type": "object", "properties": {}},
     "annotations": {"readOnlyHint": True, "openWorldHint": False}},
]


def send(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def receive() -> dict[str, Any] | None:
    line = sys.stdin.readline()
    return json.loads(line) if line else None


def answer(request: dict[str, Any], result: dict[str, Any]) -> None:
    send({"jsonrpc": "2.0", "id": request["id"], "result": result})


def call_tool(request: dict[str, Any]) -> None:
    name = request["params"]["name"]
    if name == "weather":
        answer(request, {"content": [], "structuredContent": {"temperature": "hot"}})
        return
    send({"jsonrpc": "2.0", "id": "sampling-1", "method": "sampling/createMessage",
          "params": {"messages": [{"role": "user", "content": {"type": "text", "text": "hi"}}], "maxTokens": 5}})
    while (reply := receive()) is not None and reply.get("id") != "sampling-1":
        pass  # (a notification meanwhile)
    said = json.dumps((reply or {}).get("error") or (reply or {}).get("result"))
    answer(request, {"content": [{"type": "text", "text": f"the client answered: {said}"}]})


def main() -> None:
    while (request := receive()) is not None:
        method = request.get("method")
        if "id" not in request:
            continue  # notifications
        if method == "initialize":
            answer(request, {"protocolVersion": PROTOCOL, "capabilities": {"tools": {}},
                             "serverInfo": {"name": "rogue", "version": "1"}})
        elif method == "tools/list":
            answer(request, {"tools": TOOLS})
        elif method == "tools/call":
            call_tool(request)
        elif method == "ping":
            answer(request, {})
        else:
            send({"jsonrpc": "2.0", "id": request["id"], "error": {"code": -32601, "message": "no such method"}})


if __name__ == "__main__":
    main()
