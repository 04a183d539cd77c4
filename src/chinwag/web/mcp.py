"""MCP prompts and resources on the page: what the terminal's /prompts, /SERVER_PROMPT,
/resources and /attach mcp:SERVER:URI do, through the same core code.

The servers are the conversation's own (its session's `ToolUse`) once it is open;
before that (a new chat, or a saved one not sent to yet) an idle set of the same
configured servers, the lobby, lists them and reads resources. A prompt is got from
the servers that listed it (so a new chat does not wait for its own to start), as a
turn (chats.py: the "prompt" action): `tools/mcp_prompts.run_prompt` gets it, and
its messages are sent as the user's next message. A resource read becomes an
attachment held like an upload (`attach/mcp_resource.load_resource`), taken by the
next send.

    GET  /api/mcp?conversation=ID&wait=1     its servers' prompts (with their arguments), resources
                                             and states (wait=1: once each is up or has failed)
    POST /api/mcp/attach                     {"spec": "mcp:SERVER:URI", "model", "conversation"}:
                                             the resource held as an upload: {"id", "line"}
    POST /api/mcp/complete                   {"server", "prompt", "argument", "value", "given",
                                             "conversation"}: the server's completions of the
                                             argument's value (completion/complete), {"values"},
                                             as Tab completes them in the terminal
    POST /api/chat, /api/conversations/{id}/prompt   {"prompt": {"server", "name", "arguments"},
                                             "model", "attachments", "leaf"}: a turn (SSE) whose
                                             first op, `asked`, is the prompt's line, text, attachments

What a server says is untrusted, as tool output is: every string here that came
from it is sanitized (`render.sanitize`) before the page sees it, and the page
sets it as text, never as HTML.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from chinwag.errors import ChinwagError, UsageError
from chinwag.render.sanitize import sanitize

if TYPE_CHECKING:
    from chinwag.toolloop import ToolUse
    from chinwag.tools.mcp_prompts import McpPrompt, PromptRun
    from chinwag.web.chats import Chats
    from chinwag.web.uploads import Uploads

NO_STORE = {"cache-control": "no-store"}


def _texts(value: Any) -> dict[str, str] | None:
    """`value` if it is a JSON object of strings (a form's fields by name), else None."""
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return None
    return dict(value)


@dataclass(frozen=True)
class PromptAsk:
    """The page's prompt form: the prompt by its server and name, the values by argument name."""

    server: str
    name: str
    arguments: Mapping[str, str]

    @staticmethod
    def of(body: Any) -> PromptAsk | None:
        """From a request's `prompt` object; None when it is not one."""
        if not isinstance(body, dict):
            return None
        server, name, arguments = body.get("server"), body.get("name"), _texts(body.get("arguments") or {})
        if not isinstance(server, str) or not isinstance(name, str) or arguments is None:
            return None
        return PromptAsk(server, name, arguments)


def offers(tool_use: ToolUse | None) -> dict[str, Any]:
    """The servers' prompts (with their arguments) and resources (templates marked), and
    each server's state, as JSON for the page: every string from a server sanitized."""
    if tool_use is None:
        return {"configured": False, "prompts": [], "resources": [], "servers": []}
    hub = tool_use.toolbox.mcp
    prompts, resources = [], []
    for server, listing in hub.listings().items():
        for p in listing.prompts:
            prompts.append({
                "server": server, "name": p.name, "command": sanitize(p.command),
                "description": sanitize(p.description),
                "arguments": [{"name": a.name, "label": sanitize(a.name), "description": sanitize(a.description),
                               "required": a.required} for a in p.arguments]})
        for r in listing.resources:
            resources.append({"server": server, "uri": r.uri, "spec": f"mcp:{server}:{r.uri}",
                              "label": sanitize(f"mcp:{server}:{r.uri}"), "name": sanitize(r.name),
                              "mime_type": sanitize(r.mime_type), "description": sanitize(r.description),
                              "template": r.template})
    servers = [{"name": sanitize(name), "state": state, "detail": sanitize(detail)}
               for name, state, detail in hub.states()]
    return {"configured": True, "prompts": prompts, "resources": resources, "servers": servers}


def find_prompt(tool_use: ToolUse | None, server: str, name: str) -> McpPrompt:
    """The prompt `name` of MCP server `server` (its servers up or failed first); UsageError if none."""
    from chinwag.attach.mcp_resource import NO_SERVERS

    if tool_use is None:
        raise UsageError(NO_SERVERS)
    tool_use.wait_for_servers()
    listing = tool_use.toolbox.mcp.listings().get(server)
    found = next((p for p in listing.prompts if p.name == name), None) if listing is not None else None
    if found is None:
        raise UsageError(f"MCP server {sanitize(server)} offers no prompt {sanitize(name)!r} now (see its list).")
    return found


@dataclass(frozen=True)
class CompleteAsk:
    """A prompt form's field being typed in: which argument of which prompt, its text so far,
    and the values of the other fields (a server may complete one from another)."""

    server: str
    prompt: str
    argument: str
    value: str
    given: Mapping[str, str]

    @staticmethod
    def of(body: Any) -> CompleteAsk | None:
        """From a request's body; None when it is not one."""
        if not isinstance(body, dict):
            return None
        fields = [body.get(key) for key in ("server", "prompt", "argument", "value")]
        given = _texts(body.get("given") or {})
        strings = [f for f in fields if isinstance(f, str)]
        if len(strings) != 4 or given is None:
            return None
        server, prompt, argument, value = strings
        return CompleteAsk(server, prompt, argument, value, {k: v for k, v in given.items() if v and k != argument})


MAX_COMPLETIONS = 100  # the protocol's own cap on one answer


def completions(tool_use: ToolUse | None, ask: CompleteAsk) -> list[str]:
    """What the server offers for `ask`'s field (none when it offers nothing or fails),
    sanitized, at most MAX_COMPLETIONS; UsageError when there is no such prompt or argument."""
    import mcp_types

    from chinwag.tools.mcp_prompts import unknown_argument

    prompt = find_prompt(tool_use, ask.server, ask.prompt)
    if ask.argument not in {a.name for a in prompt.arguments}:
        raise unknown_argument(prompt, sanitize(ask.argument))
    assert tool_use is not None  # find_prompt found it there
    ref = mcp_types.PromptReference(type="ref/prompt", name=prompt.name)
    values = tool_use.toolbox.mcp.complete(ask.server, ref, ask.argument, ask.value, ask.given)
    return [sanitize(v) for v in values[:MAX_COMPLETIONS]]


def asked(run: PromptRun, redact: Any = str) -> dict[str, Any]:
    """The page's op for a prompt's messages sent as the user's: the line naming the
    prompt, the text, the attachments' lines; sanitized (the page sets them as text)."""
    from chinwag.attach import describe

    return {"t": "asked", "line": redact(sanitize(run.line)), "text": redact(sanitize(run.text)),
            "attachments": [redact(sanitize(describe(b))) for b in run.blocks]}


class Lobby:
    """The configured MCP servers, started on first use, for a page with no open
    session to ask: their listings and resources. None of their tools ever runs here."""

    def __init__(self, environ: Mapping[str, str], cwd: Path, flags: Mapping[str, Any]) -> None:
        self.environ, self.cwd, self.flags = environ, cwd, dict(flags)
        self._lock = threading.Lock()
        self._tool_use: ToolUse | None = None
        self._checked = False

    def tool_use(self) -> ToolUse | None:
        """The lobby's servers (started), or None when none is configured (or the configuration is bad:
        the first turn says why, as it does without MCP)."""
        with self._lock:
            if not self._checked:
                self._checked = True
                self._tool_use = self._open()
            return self._tool_use

    def _open(self) -> ToolUse | None:
        from chinwag.config import resolve
        from chinwag.toolloop import ToolUse
        from chinwag.tools.config import configured_servers

        try:
            tools = resolve(self.environ, self.cwd, self.flags).tools
            servers = configured_servers(tools)
        except ChinwagError:
            return None
        if not servers:
            return None
        tool_use = ToolUse(tools, self.cwd, self.environ, None, None, servers)
        tool_use.start()
        return tool_use

    def close(self) -> None:
        with self._lock:
            tool_use, self._tool_use = self._tool_use, None
        if tool_use is not None:
            tool_use.close()


class PageMcp:
    """The page's way to its conversations' MCP servers (Chats holds one): the
    servers of conversation `cid` (`tools_of(cid)`: its open session's) or the lobby's."""

    def __init__(self, lobby: Lobby, uploads: Uploads, tools_of: Callable[[int], ToolUse | None],
                 default_model: str) -> None:
        self.lobby, self.uploads, self._tools_of, self.default_model = lobby, uploads, tools_of, default_model

    def tools(self, cid: int | None) -> ToolUse | None:
        own = self._tools_of(cid) if cid is not None else None
        return own if own is not None else self.lobby.tool_use()

    def offers(self, cid: int | None, wait: bool) -> dict[str, Any]:
        """The prompts and resources of `cid`'s servers (`wait`: once each is up or has failed)."""
        tool_use = self.tools(cid)
        if wait and tool_use is not None:
            tool_use.wait_for_servers()
        return offers(tool_use)

    def attach(self, cid: int | None, spec: str, model: str | None) -> tuple[str, str]:
        """`mcp:SERVER:URI` read from `cid`'s servers and held as an upload is, for
        `model`'s provider (as /attach mcp:... does): its id for the next send and its 📎 line."""
        from chinwag.attach.mcp_resource import load_resource
        from chinwag.providers.registry import parse_model_spec

        provider, _ = parse_model_spec(model or self.default_model)
        return self.uploads.hold_attachment(load_resource(spec, provider, self.tools(cid)))

    def complete(self, cid: int | None, ask: CompleteAsk) -> list[str]:
        return completions(self.tools(cid), ask)

    @staticmethod
    def run(tool_use: ToolUse | None, ask: PromptAsk | None, provider: str) -> PromptRun:
        """The prompt `ask` names, got from the servers that listed it (`tools`, taken
        before the turn opened a session) with its arguments, for `provider`: the
        terminal's /SERVER_PROMPT, through the same code."""
        from chinwag.tools.mcp_prompts import checked_arguments, run_prompt

        if ask is None:
            raise UsageError("say which prompt to run.")
        prompt = find_prompt(tool_use, ask.server, ask.name)
        arguments = checked_arguments(prompt, ask.arguments)
        assert tool_use is not None  # find_prompt found it there
        return run_prompt(tool_use.toolbox.mcp, prompt, arguments, provider)

    def close(self) -> None:
        self.lobby.close()


class McpApi:
    """GET /api/mcp, POST /api/mcp/attach and /api/mcp/complete (app.py routes them, behind its Guard)."""

    def __init__(self, chats: Chats) -> None:
        self.chats = chats

    async def offers(self, request: Request) -> Response:
        cid = request.query_params.get("conversation")
        if cid is not None and not (cid.isascii() and cid.isdigit() and 0 < len(cid) <= 18):
            return JSONResponse({"error": "conversation must be a conversation id"}, status_code=400)
        try:
            found = await run_in_threadpool(self.chats.mcp.offers, int(cid) if cid else None,
                                            bool(request.query_params.get("wait")))
        except ChinwagError as exc:
            return self._error(exc, 503)
        return JSONResponse(found, headers=NO_STORE)

    async def attach(self, request: Request) -> Response:
        try:
            body = await request.json()
        except (ValueError, RecursionError):
            body = None
        body = body if isinstance(body, dict) else {}
        spec, model, cid = body.get("spec"), body.get("model"), body.get("conversation")
        if not isinstance(spec, str) or (model is not None and not isinstance(model, str)) \
                or not (cid is None or (type(cid) is int and 0 < cid < 2**63)):
            return JSONResponse({"error": "expected spec (mcp:SERVER:URI), model and conversation"}, status_code=400)
        try:
            key, line = await run_in_threadpool(self.chats.mcp.attach, cid, spec, model)
        except ChinwagError as exc:
            return self._error(exc, 400)
        return JSONResponse({"id": key, "line": line}, headers=NO_STORE)

    async def complete(self, request: Request) -> Response:
        try:
            body = await request.json()
        except (ValueError, RecursionError):
            body = None
        ask = CompleteAsk.of(body)
        cid = body.get("conversation") if isinstance(body, dict) else None
        if ask is None or not (cid is None or (type(cid) is int and 0 < cid < 2**63)):
            return JSONResponse({"error": "expected server, prompt, argument, value, given and conversation"},
                                status_code=400)
        try:
            values = await run_in_threadpool(self.chats.mcp.complete, cid, ask)
        except ChinwagError as exc:
            return self._error(exc, 400)
        return JSONResponse({"values": values}, headers=NO_STORE)

    def _error(self, exc: ChinwagError, status: int) -> Response:
        return JSONResponse({"error": self.chats.redact(exc.message)}, status_code=status, headers=NO_STORE)
