"""The Starlette application: the page, its files, the JSON API and the event streams.

Routes (every one behind `security.Guard`, which itself answers POST
/api/session, the token for the session key every API request carries;
reading is GET, changing is POST; an {id} is at most 18 digits, so it fits
SQLite's integer, and anything else is 404):

    GET  /                                   the page (GET /?token=... sets the cookie first)
    GET  /static/{app,daily,branches,usage,mcp}.{js,css}, code.css, words.js, icon.svg
    GET  /static/{page,server,sidebar,reply,questions,composer,models,conversation}.js
    GET  /api/models[?wait=1]                the model picker: configured providers' models (wait=1:
                                             after their servers' listings, at most a few seconds)
    GET  /api/presence                       held open while the page is open (SSE): list changes
    GET  /api/usage?days=N|since=DATE&by=KEY&utc=1   spend and tokens by day: {"html" (the chart, drawn
                                             here), "usage" (as `chinwag usage --json`)}; 400 when bad
    GET  /api/conversations?q=TEXT           newest first; full-text search with q
    GET  /api/conversations/{id}[?leaf=M|?at=M]  a branch's messages, rendered, each with its id and its
                                             siblings' (leaf=M: the branch ending at message M; at=M: the
                                             newest one through M; neither: the current one); whether a
                                             reply streams on it (live) or on another branch (elsewhere)
    GET  /api/conversations/{id}/live        follow the reply streaming now (SSE), 204 if none
    POST /api/chat                           {"text", "model", "attachments"}: a new conversation (SSE)
    POST /api/conversations/{id}/send        {"text", "model", "attachments", "leaf"}: the next turn (SSE)
    POST /api/conversations/{id}/retry       {"model", "leaf"}: ask again; the old reply stays a sibling (SSE)
    POST /api/conversations/{id}/continue    {"model", "leaf"}: resume a cut-off reply (SSE)
    POST /api/conversations/{id}/edit        {"message", "text", "model"}: the message's new text as a new
                                             sibling (its attachments kept), answered (SSE)
    POST /api/conversations/{id}/fork        {"leaf"}: a new conversation copying the branch: {"id"}
    POST /api/conversations/{id}/stop        stop the reply now (closes the upstream connection)
    POST /api/conversations/{id}/delete      delete it (after the page's undo window)
    POST /api/conversations/{id}/rename      {"title"}: its new title
    POST /api/conversations/{id}/approve     {"id", "answer": "yes"|"always"|"no", "reason"}: a tool call
    POST /api/conversations/{id}/elicit      {"id", "action": "accept"|"decline"|"cancel", "values": {NAME: TEXT}}:
                                             an MCP server's question (`elicit` op), answered
    POST /api/attach?model=SPEC&name=NAME    the file's bytes (at most 32 MB): {"id", "line"} for the next send
    GET  /api/mcp, POST /api/mcp/attach      MCP prompts and resources (web/mcp.py)
    POST /api/mcp/complete                   a prompt argument's completions (web/mcp.py)
    POST /api/chat, /api/conversations/{id}/prompt   {"prompt": {...}, ...}: an MCP prompt's messages
                                             sent as the user's (SSE; web/mcp.py)

An event stream is `text/event-stream`, one JSON object per `data:` line:
`conversation` (its id), `snapshot` (the reply so far, as HTML), then
`commit` / `live` / `code_open` / `code` / `tail` / `code_end` (see
html.py), `notice`, `approve` (a tool call waits for the page's answer:
its id, call line and reason) and `approved` (it was answered), and `end`
(status, error, stats, markdown, leaf: the branch's last message now).

A turn's "leaf" is the last message of the branch the tab shows: the
session is set to it before the turn begins, so two tabs on two branches of
one conversation each continue their own. A reply streams on while any page
is open, followed or not (streams.py).
"""

from __future__ import annotations

import re
from importlib.resources import files
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.convertors import Convertor, register_url_convertor
from starlette.routing import Route

from chinwag.errors import ChinwagError, UsageError
from chinwag.web.asks import Action, Ask
from chinwag.web.chats import Busy, Chats
from chinwag.web.html import code_style_css, words_js
from chinwag.web.mcp import McpApi, PromptAsk
from chinwag.web.streams import presence_stream, reply_stream
from chinwag.web.uploads import too_large

STATIC_TYPES = {
    "page.js": "text/javascript; charset=utf-8",
    "server.js": "text/javascript; charset=utf-8",
    "sidebar.js": "text/javascript; charset=utf-8",
    "reply.js": "text/javascript; charset=utf-8",
    "questions.js": "text/javascript; charset=utf-8",
    "composer.js": "text/javascript; charset=utf-8",
    "models.js": "text/javascript; charset=utf-8",
    "conversation.js": "text/javascript; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "icon.svg": "image/svg+xml",
    "daily.js": "text/javascript; charset=utf-8",
    "daily.css": "text/css; charset=utf-8",
    "branches.js": "text/javascript; charset=utf-8",
    "branches.css": "text/css; charset=utf-8",
    "usage.js": "text/javascript; charset=utf-8",
    "usage.css": "text/css; charset=utf-8",
    "mcp.js": "text/javascript; charset=utf-8",
    "mcp.css": "text/css; charset=utf-8",
}
NO_STORE = {"cache-control": "no-store"}
MAX_UPLOAD = 32 * 1024 * 1024  # bytes in one attachment (chinwag.attach's limit)
_ID = re.compile("[1-9][0-9]{0,17}")  # a message id in a query: fits SQLite's integer


class ConversationId(Convertor[int]):
    """A conversation's id in a path: at most 18 digits, so it always fits
    SQLite's 64-bit integer (a longer one would raise OverflowError, a 500);
    anything else matches no route, a 404."""

    regex = "[0-9]{1,18}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


register_url_convertor("id", ConversationId())


def build_app(chats: Chats) -> Starlette:
    api, mcp = Api(chats), McpApi(chats)
    routes = [
        Route("/", api.index, methods=["GET"]),
        Route("/static/{name}", api.static_file, methods=["GET"]),
        Route("/api/models", api.models, methods=["GET"]),
        Route("/api/conversations", api.conversations, methods=["GET"]),
        Route("/api/usage", api.usage, methods=["GET"]),
        Route("/api/conversations/{cid:id}", api.conversation, methods=["GET"]),
        Route("/api/conversations/{cid:id}/live", api.follow, methods=["GET"]),
        Route("/api/chat", api.new_chat, methods=["POST"]),
        Route("/api/presence", api.presence, methods=["GET"]),
        Route("/api/conversations/{cid:id}/stop", api.stop, methods=["POST"]),
        Route("/api/conversations/{cid:id}/delete", api.delete, methods=["POST"]),
        Route("/api/conversations/{cid:id}/rename", api.rename, methods=["POST"]),
        Route("/api/conversations/{cid:id}/approve", api.approve, methods=["POST"]),
        Route("/api/conversations/{cid:id}/elicit", api.elicit, methods=["POST"]),
        Route("/api/conversations/{cid:id}/fork", api.fork, methods=["POST"]),
        Route("/api/attach", api.attach, methods=["POST"]),
        Route("/api/mcp", mcp.offers, methods=["GET"]),
        Route("/api/mcp/attach", mcp.attach, methods=["POST"]),
        Route("/api/mcp/complete", mcp.complete, methods=["POST"]),
        Route("/api/conversations/{cid:id}/{action}", api.turn, methods=["POST"]),
    ]
    return Starlette(routes=routes)


class Api:
    """The endpoints. Reading the database happens in Starlette's thread pool."""

    def __init__(self, chats: Chats) -> None:
        self.chats = chats
        folder = files("chinwag.web") / "static"
        self.static = {name: (folder / name).read_bytes() for name in STATIC_TYPES}
        self.static["code.css"] = code_style_css().encode()
        self.static["words.js"] = words_js().encode()
        self.page = (folder / "index.html").read_bytes()

    async def index(self, request: Request) -> Response:
        return Response(self.page, media_type="text/html; charset=utf-8", headers=NO_STORE)

    async def static_file(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in self.static:
            return Response("not found\n", status_code=404, media_type="text/plain")
        kind = STATIC_TYPES.get(name, "text/javascript; charset=utf-8" if name.endswith(".js") else "text/css; charset=utf-8")
        return Response(self.static[name], media_type=kind, headers=NO_STORE)

    async def models(self, request: Request) -> Response:
        catalog = self.chats.catalog
        if request.query_params.get("wait"):
            await run_in_threadpool(catalog.wait)
        models, complete = catalog.choices()
        return JSONResponse({"models": models, "default": catalog.default, "complete": complete}, headers=NO_STORE)

    async def presence(self, request: Request) -> Response:
        return presence_stream(self.chats)

    async def rename(self, request: Request) -> Response:
        body = await _json(request)
        if body is None or not isinstance(body.get("title"), str):
            return JSONResponse({"error": "expected a JSON object with a title"}, status_code=400)
        try:
            renamed = await run_in_threadpool(self.chats.rename, request.path_params["cid"], body["title"])
        except ChinwagError as exc:
            return _error(self.chats, exc, 503)
        if not renamed:
            return JSONResponse({"error": "no such conversation"}, status_code=404, headers=NO_STORE)
        return JSONResponse({"renamed": True}, headers=NO_STORE)

    async def delete(self, request: Request) -> Response:
        try:
            deleted = await run_in_threadpool(self.chats.delete, request.path_params["cid"])
        except Busy as exc:
            return _error(self.chats, exc, 409)
        except ChinwagError as exc:
            return _error(self.chats, exc, 503)
        if not deleted:
            return JSONResponse({"error": "no such conversation"}, status_code=404, headers=NO_STORE)
        return JSONResponse({"deleted": True}, headers=NO_STORE)

    async def conversations(self, request: Request) -> Response:
        try:
            found = await run_in_threadpool(self.chats.conversations, request.query_params.get("q", ""))
        except UsageError as exc:  # a search too long or too slow: one line the page shows
            return _error(self.chats, exc, 400)
        except ChinwagError as exc:
            return _error(self.chats, exc, 503)
        return JSONResponse({"conversations": found}, headers=NO_STORE)

    async def usage(self, request: Request) -> Response:
        from chinwag.spend import configured_prices
        from chinwag.web.usage import report

        def prices() -> Any:
            return configured_prices(self.chats.environ)

        try:
            found = await run_in_threadpool(report, self.chats.saved.read, dict(request.query_params), prices)
        except UsageError as exc:  # a bad range or grouping: one line the page shows
            return _error(self.chats, exc, 400)
        except ChinwagError as exc:
            return _error(self.chats, exc, 503)
        return JSONResponse(found, headers=NO_STORE)

    async def conversation(self, request: Request) -> Response:
        leaf, at = (request.query_params.get(name) for name in ("leaf", "at"))
        if not all(value is None or _ID.fullmatch(value) for value in (leaf, at)) or (leaf and at):
            return JSONResponse({"error": "leaf or at must be one message id"}, status_code=400)
        try:
            found = await run_in_threadpool(self.chats.conversation, request.path_params["cid"],
                                            int(leaf) if leaf else None, int(at) if at else None)
        except UsageError as exc:  # a message that is not in it
            return _error(self.chats, exc, 404)
        except ChinwagError as exc:
            return _error(self.chats, exc, 503)
        if found is None:
            return JSONResponse({"error": "no such conversation"}, status_code=404, headers=NO_STORE)
        return JSONResponse(found, headers=NO_STORE)

    async def follow(self, request: Request) -> Response:
        live = self.chats.live(request.path_params["cid"])
        if live is None:
            return Response(status_code=204, headers=NO_STORE)
        return reply_stream(live, [], self.chats)

    async def new_chat(self, request: Request) -> Response:
        return await self._start(request, None, "send")

    async def turn(self, request: Request) -> Response:
        action = request.path_params["action"]
        if action not in ("send", "retry", "continue", "edit", "prompt"):
            return JSONResponse({"error": "no such action"}, status_code=404)
        return await self._start(request, request.path_params["cid"], action)

    async def fork(self, request: Request) -> Response:
        body = await _json(request)
        if body is None or not _optional_id(body.get("leaf")):
            return JSONResponse({"error": "expected a JSON object with the leaf (a message id, or null)"},
                                status_code=400)
        try:
            forked = await run_in_threadpool(self.chats.fork, request.path_params["cid"], body.get("leaf"))
        except UsageError as exc:
            return _error(self.chats, exc, 404)
        except ChinwagError as exc:
            return _error(self.chats, exc, 503)
        return JSONResponse({"id": forked}, headers=NO_STORE)

    async def stop(self, request: Request) -> Response:
        return JSONResponse({"stopped": self.chats.stop(request.path_params["cid"])}, headers=NO_STORE)

    async def approve(self, request: Request) -> Response:
        body = await _json(request)
        if body is None:
            return JSONResponse({"error": "expected a JSON object"}, status_code=400)
        question, answer, reason = body.get("id"), body.get("answer"), body.get("reason")
        if not isinstance(question, int) or answer not in ("yes", "always", "no") \
                or (reason is not None and not isinstance(reason, str)):
            return JSONResponse({"error": "expected id, answer (yes, always or no) and reason"}, status_code=400)
        taken = self.chats.approve(request.path_params["cid"], question, answer, reason)
        return JSONResponse({"taken": taken}, status_code=200 if taken else 409, headers=NO_STORE)

    async def elicit(self, request: Request) -> Response:
        body = await _json(request)
        question, action, values = (body or {}).get("id"), (body or {}).get("action"), (body or {}).get("values", {})
        if not isinstance(question, int) or not isinstance(action, str) or not isinstance(values, dict):
            return JSONResponse({"error": "expected id, action (accept, decline or cancel) and values"},
                                status_code=400)
        taken = self.chats.elicited(request.path_params["cid"], question, action, values)
        if isinstance(taken, str):  # a value that does not fit: the question stays, the page says why
            return JSONResponse({"error": taken}, status_code=400, headers=NO_STORE)
        return JSONResponse({"taken": taken}, status_code=200 if taken else 409, headers=NO_STORE)

    async def attach(self, request: Request) -> Response:
        """Refused from its Content-Length before a byte is read; else streamed to
        disk (a chunked body cut off past the cap) and made into a block there."""
        too_big = JSONResponse({"error": "that file is over 32 MB, the most chinwag attaches."},
                               status_code=413, headers=NO_STORE)
        if too_large(request.headers.get("content-length"), MAX_UPLOAD):
            return too_big
        name, model = request.query_params.get("name", ""), request.query_params.get("model") or None
        try:
            path = await self.chats.uploads.receive(request.stream(), self.chats.upload_name(name), MAX_UPLOAD)
        except OSError as exc:  # the disk is full
            return JSONResponse({"error": f"cannot keep the upload: {exc.strerror or exc}."}, status_code=507,
                                headers=NO_STORE)
        if path is None:
            return too_big
        try:
            key, line = await self.chats.uploads.prepare(path, lambda path: self.chats.upload(path, model))
        except ChinwagError as exc:
            return _error(self.chats, exc, 400)
        return JSONResponse({"id": key, "line": line}, headers=NO_STORE)

    async def _start(self, request: Request, cid: int | None, action: Action) -> Response:
        body = await _json(request)
        if body is None:
            return JSONResponse({"error": "expected a JSON object"}, status_code=400)
        if cid is None and "prompt" in body:  # a new chat opened by an MCP prompt
            action = "prompt"
        prompt = PromptAsk.of(body.get("prompt"))
        if (action == "prompt") != (prompt is not None):
            return JSONResponse({"error": "prompt must be {server, name, arguments} (strings), for a prompt only"},
                                status_code=400)
        text, model, attachments = body.get("text", ""), body.get("model"), body.get("attachments") or []
        if not isinstance(text, str) or (model is not None and not isinstance(model, str)):
            return JSONResponse({"error": "text and model must be strings"}, status_code=400)
        if not isinstance(attachments, list) or not all(isinstance(a, str) for a in attachments):
            return JSONResponse({"error": "attachments must be a list of ids"}, status_code=400)
        leaf, message = body.get("leaf"), body.get("message")
        if not _optional_id(leaf) or not _optional_id(message) or (action == "edit") != (message is not None):
            return JSONResponse({"error": "leaf and message must be message ids; message only for an edit"},
                                status_code=400)
        ask = Ask(action, text, model, tuple(attachments), leaf, message, prompt)
        chats = self.chats
        try:
            if cid is not None and chats.is_open(cid) and not attachments and prompt is None:  # ~1 ms: a thread hop would cost more
                new_cid, live = chats.start(cid, ask)
            else:  # opening the history or a session may wait for the database
                new_cid, live = await run_in_threadpool(chats.start, cid, ask)
        except Busy as exc:
            return _error(chats, exc, 409)
        except ChinwagError as exc:
            return _error(chats, exc, 400)
        return reply_stream(live, [{"t": "conversation", "id": new_cid}, *([live.asked] if live.asked else [])], chats)


def _optional_id(value: Any) -> bool:
    """None, or a message id: a positive integer SQLite's integer holds (not a bool)."""
    return value is None or (type(value) is int and 0 < value < 2**63)


async def _json(request: Request) -> dict[str, Any] | None:
    try:
        body = await request.json()
    except (ValueError, RecursionError):  # RecursionError: arrays nested 100,000 deep
        return None
    return body if isinstance(body, dict) else None


def _error(chats: Chats, exc: ChinwagError, status: int) -> Response:
    return JSONResponse({"error": chats.redact(exc.message)}, status_code=status, headers=NO_STORE)
