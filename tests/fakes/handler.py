"""How the scripted server answers one connection: routing, the two wire
formats, chunked streaming and fault injection. See `server.py` for the
public API and for what counts as a connection closed by the client.
"""

from __future__ import annotations

import json
import re
import select
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler
from types import ModuleType
from typing import TYPE_CHECKING, Any

from tests.fakes import anthropic_wire, openai_wire
from tests.fakes.reply import RecordedRequest, Reply

if TYPE_CHECKING:
    from tests.fakes.server import _HTTPServer

HOLD_LIMIT = 30.0  # a held reply goes on by itself after this long
ANTHROPIC_PATHS = {"/v1/messages"}
OPENAI_PATHS = {"/v1/chat/completions", "/chat/completions"}
MODELS_PATHS = {"/v1/models", "/models"}
_EVENT_END = re.compile(r"(?<=\n\n)|(?<=\r\n\r\n)")


class _ClientGone(Exception):
    """The client closed or reset the connection."""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _HTTPServer

    # -- connection loop ----------------------------------------------------

    def handle(self) -> None:
        owner = self.server.owner
        owner._track(self.connection)
        served = gone = False
        try:
            while True:
                if served and not self._next_request_within(owner.idle_timeout):
                    owner._idle_closed()  # as a server's keep-alive timer does; not the client's close
                    break
                self.close_connection = True
                self.raw_requestline = b""
                self._gone = self._dropped = False
                self.handle_one_request()
                if not self.raw_requestline:  # EOF between requests
                    gone = served
                    break
                served = True
                if self._gone or self._dropped or self.close_connection:
                    gone = self._gone
                    break
        except OSError:  # reset while reading the next request
            gone = served
        finally:
            owner._untrack(self.connection, client_closed=gone)

    def _next_request_within(self, seconds: float | None) -> bool:
        """False if the client sends nothing (not even EOF) for `seconds`."""
        if seconds is None:
            return True
        readable, _, _ = select.select([self.connection], [], [], seconds)
        return bool(readable)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # -- routes -------------------------------------------------------------

    def do_GET(self) -> None:
        request = self._read_request()
        wire = anthropic_wire if "anthropic-version" in request.headers else openai_wire
        owner = self.server.owner
        if request.path not in MODELS_PATHS:
            self._send_json(404, wire.not_found_body(request.path), wire)
        elif owner.models_error is not None:
            self._send_json(owner.models_error.status, wire.error_body(owner.models_error), wire, owner.models_error)
        else:
            self._send_json(200, wire.models_body(owner.models, owner.owned_by), wire)

    def do_POST(self) -> None:
        request = self._read_request()
        wire = _wire_for(request)
        owner = self.server.owner
        if wire is None:
            fallback = anthropic_wire if "anthropic-version" in request.headers else openai_wire
            self._send_json(404, fallback.not_found_body(request.path), fallback)
            return
        if owner.require_key is not None and _key(request) != owner.require_key:
            self._send_json(401, wire.error_body(Reply(status=401)), wire)
            return
        reply = owner._next_reply()
        if reply.hang_up:  # as a keep-alive timer firing while the request was on its way
            self._dropped = True
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        try:
            self._pause(reply.delay_first_byte)
            if reply.status != 200:
                self._send_json(reply.status, wire.error_body(reply), wire, reply)
            elif not (isinstance(request.json, dict) and request.json.get("stream")):
                self._send_json(200, wire.final_body(reply, request.json), wire, reply)
            else:
                self._stream(wire, reply, request)
        except _ClientGone:
            self._gone = True
            self.close_connection = True

    # -- request ------------------------------------------------------------

    def _read_request(self) -> RecordedRequest:
        path, _, query = self.path.partition("?")
        headers = {}
        for name, value in self.headers.items():
            name = name.lower()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        body = self._read_body(headers)
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        request = RecordedRequest(
            method=self.command, path=path, query=query, headers=headers,
            body=body, json=parsed, received_at=time.monotonic(),
        )
        self.server.owner._record(request)
        return request

    def _read_body(self, headers: dict[str, str]) -> bytes:
        if "chunked" in headers.get("transfer-encoding", ""):
            parts = []
            while size := int(self.rfile.readline().split(b";")[0], 16):
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            return b"".join(parts)
        return self.rfile.read(int(headers.get("content-length", 0)))

    # -- responses ----------------------------------------------------------

    def _send_json(self, status: int, body: Any, wire: ModuleType, reply: Reply | None = None) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        headers = {"content-type": "application/json", "content-length": str(len(data))}
        headers |= wire.response_headers() | (reply.headers if reply else {})
        for name, value in headers.items():
            self.send_header(name, value)
        self._write_headers()
        self._write(data)

    def _stream(self, wire: ModuleType, reply: Reply, request: RecordedRequest) -> None:
        self.send_response(200)
        headers = {
            "content-type": "text/event-stream; charset=utf-8",
            "cache-control": "no-cache",
            "transfer-encoding": "chunked",
        }
        for name, value in (headers | wire.response_headers() | reply.headers).items():
            self.send_header(name, value)
        self._write_headers()
        if reply.raw is not None:
            for i, frame in enumerate(f for f in _EVENT_END.split(reply.raw) if f):
                if i:
                    self._pause(reply.chunk_delay)
                self._send_event(frame.encode(), reply)
            self._write(b"0\r\n\r\n")
            return
        script = wire.script(reply, request.json)
        for frame in script.head:
            self._send_event(frame, reply)
        for i, group in enumerate(script.text):
            if self._fault(wire, reply, i):
                return
            if i:
                self._pause(reply.chunk_delay)
            for j, frame in enumerate(group):
                self._send_event(frame, reply)
                if j == 0:
                    request.text_sent_at.append(time.monotonic())
        if self._fault(wire, reply, len(script.text)):
            return
        for frame in script.tail:
            self._send_event(frame, reply)
        self._write(b"0\r\n\r\n")

    def _fault(self, wire: ModuleType, reply: Reply, sent: int) -> bool:
        """Inject the faults due after `sent` text chunks; True if the body is over."""
        if reply.hold_after == sent:
            self._pause(HOLD_LIMIT, until=reply.release)
        if reply.drop_after == sent:
            self._dropped = True
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return True
        if reply.error_after == sent:
            self._send_event(wire.error_frame(reply), reply)
            self._write(b"0\r\n\r\n")
            return True
        if reply.malformed_after == sent:
            self._send_event(wire.malformed_frame(), reply)
        return False

    def _send_event(self, frame: bytes, reply: Reply) -> None:
        size = reply.fragment or len(frame)
        for start in range(0, len(frame), size):
            piece = frame[start:start + size]
            self._write(b"%x\r\n%s\r\n" % (len(piece), piece))

    def _write_headers(self) -> None:
        try:
            self.end_headers()
        except OSError as exc:
            raise _ClientGone from exc

    def _write(self, data: bytes) -> None:
        try:
            self.wfile.write(data)
        except OSError as exc:
            raise _ClientGone from exc

    def _pause(self, seconds: float, until: threading.Event | None = None) -> None:
        """Wait `seconds` (or until `until` is set), noticing at once if the
        client goes away meanwhile."""
        deadline = time.monotonic() + seconds
        watch = True
        while not (until is not None and until.is_set()):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            step = remaining if until is None else min(remaining, 0.005)
            if not watch:
                time.sleep(step)
                continue
            readable, _, _ = select.select([self.connection], [], [], step)
            if readable:
                try:
                    peeked = self.connection.recv(1, socket.MSG_PEEK)
                except OSError as exc:
                    raise _ClientGone from exc
                if not peeked:
                    raise _ClientGone
                watch = False  # the client sent more bytes; stop watching


def _wire_for(request: RecordedRequest) -> ModuleType | None:
    if request.path in ANTHROPIC_PATHS:
        return anthropic_wire
    if request.path in OPENAI_PATHS:
        return openai_wire
    return None


def _key(request: RecordedRequest) -> str | None:
    if "x-api-key" in request.headers:
        return request.headers["x-api-key"]
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token if scheme.lower() == "bearer" else None
