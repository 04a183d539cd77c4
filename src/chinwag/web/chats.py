"""The conversations the page works on: one Session each, one turn at a time.

A conversation chatted in gets a `Session` (the same as the terminal's:
settings, provider, recorder) the first time it is sent to, resumed from
the history like `chinwag --resume ID`, and kept while it is in use; the
least recently used idle ones beyond `KEEP_IDLE` are closed. Each has a
lock held from the start of a turn to its end, so two tabs on the same
conversation never interleave turns: the second is told a reply is
streaming and follows it instead. Reading (the list, search, a saved
conversation) goes through one read connection to the same SQLite file.

Nothing here sends an API key anywhere but to its provider: the model list
holds model specs, and every error and notice passes `redact` first.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any, Literal

from chinwag.config import Settings
from chinwag.errors import ChinwagError, UsageError
from chinwag.session import Session, SessionTurn
from chinwag.web.html import Renderer, user_html
from chinwag.web.live import LiveTurn, SocketWatch, Workers

KEEP_IDLE = 8  # idle sessions kept open (connections, recorder); older ones are closed
Action = Literal["send", "retry", "continue"]


class Busy(ChinwagError):
    """A reply is streaming in this conversation already."""


@dataclass(eq=False)
class WebChat:
    session: Session
    spec: str
    watch: SocketWatch = field(default_factory=SocketWatch)
    lock: threading.Lock = field(default_factory=threading.Lock)
    live: LiveTurn | None = None
    renderer: Renderer = field(default_factory=Renderer)  # its turns run one at a time


class Chats:
    def __init__(self, environ: Mapping[str, str], cwd: Path) -> None:
        from chinwag.paths import database_file

        self.environ, self.cwd = dict(environ), cwd
        self.database = database_file(self.environ)
        self._chats: OrderedDict[int, WebChat] = OrderedDict()
        self._lock = threading.Lock()
        self._store: Any = None
        self._store_lock = threading.Lock()
        self._renderer = Renderer()
        self._render_lock = threading.Lock()
        self.models, self.default_model = configured_models(self.environ, cwd)
        self._workers = Workers()
        self._secrets = _secrets(self.environ, cwd)

    # -- reading the history -------------------------------------------------------

    def _read(self, fn: Any) -> Any:
        from chinwag.store import Store

        with self._store_lock:
            if self._store is None:
                self._store = Store.open(self.database)
            return fn(self._store)

    def conversations(self, query: str = "", limit: int = 50) -> list[dict[str, Any]]:
        """Newest first; with `query`, those with a matching message (full-text)."""
        def run(store: Any) -> list[dict[str, Any]]:
            if not query.strip():
                return [_summary_json(s) for s in store.list_conversations(limit)]
            found: dict[int, dict[str, Any]] = {}
            for hit in store.search(query, limit * 4):
                if hit.conversation_id in found or len(found) >= limit:
                    continue
                summary = store.conversation(hit.conversation_id)
                if summary is not None:
                    item = _summary_json(summary)
                    item["snippet"] = "".join(f"<mark>{escape(t)}</mark>" if match else escape(t)
                                              for t, match in hit.parts())
                    found[hit.conversation_id] = item
            return list(found.values())
        result: list[dict[str, Any]] = self._read(run)
        return result

    def conversation(self, cid: int) -> dict[str, Any] | None:
        summary, messages = self._read(lambda store: (store.conversation(cid), store.messages(cid)))
        if summary is None:
            return None
        with self._render_lock:
            rendered = [{"role": m.role, "status": m.status, "model": m.model,
                         "html": user_html(m.content) if m.role == "user" else self._renderer.html(m.content)}
                        for m in messages]
        with self._lock:
            chat = self._chats.get(cid)
            live = chat is not None and chat.live is not None and not chat.live.done.is_set()
        return {**_summary_json(summary), "messages": rendered, "live": live}

    # -- turns -----------------------------------------------------------------------

    def is_open(self, cid: int) -> bool:
        """Whether `cid` has a session already (its next turn opens nothing)."""
        with self._lock:
            return cid in self._chats

    def live(self, cid: int) -> LiveTurn | None:
        with self._lock:
            chat = self._chats.get(cid)
            if chat is None or chat.live is None or chat.live.done.is_set():
                return None
            return chat.live

    def start(self, cid: int | None, action: Action, text: str, model: str | None) -> tuple[int, LiveTurn]:
        """Begin a turn (a new conversation when `cid` is None) and run it;
        its conversation id and the running turn. Raises Busy, or a
        ChinwagError with the same words the terminal uses."""
        from chinwag.config import resolve

        spec = model or self.default_model

        def settings() -> Settings:  # only when a session is opened or switched: the next turn's is ready
            return resolve(self.environ, self.cwd, {"model": spec, "save": True})

        chat = self._claim(cid, settings, spec)
        try:
            if chat.spec != spec:
                from chinwag.providers.registry import LazyProvider

                switched = settings()
                chat.session.switch(switched, LazyProvider(switched))
                chat.spec = spec
            turn = self._begin(chat.session, action, text)
            recorder = chat.session.recorder
            new_cid = recorder.conversation_id if recorder is not None else None
            if new_cid is None:
                turn.finish()
                raise UsageError("the history database cannot be written; see `chinwag history check`.")
            live = LiveTurn(turn, chat.watch, chat.renderer, lambda ended: self._ended(chat, ended), self.redact)
            chat.live = live
            with self._lock:
                self._chats[new_cid] = chat
                self._chats.move_to_end(new_cid)
        except BaseException:
            chat.lock.release()
            if cid is None:
                chat.session.close()
            raise
        live.start(self._workers)
        return new_cid, live

    def stop(self, cid: int) -> bool:
        live = self.live(cid)
        if live is None:
            return False
        live.cancel()
        return True

    def _claim(self, cid: int | None, settings: Callable[[], Settings], spec: str) -> WebChat:
        """The conversation's chat, its lock taken for a turn; Busy if a turn runs."""
        for _ in range(2):
            chat = self._chat(cid, settings, spec)
            if chat.lock.acquire(blocking=False):
                return chat
            if cid is None or self._registered(cid) is chat:
                break
            # else it was closed for being idle just now: open it afresh
        raise Busy("a reply is streaming in this conversation; it is shown as it arrives.")

    def _chat(self, cid: int | None, settings: Callable[[], Settings], spec: str) -> WebChat:
        from chinwag.session import open_session

        if cid is None:
            session = open_session(settings(), self.environ)
            if session.recorder is not None:
                session.recorder.open()  # the conversation gets its id as the first message is saved
            return WebChat(session, spec)
        with self._lock:
            chat = self._chats.get(cid)
            if chat is not None:
                self._chats.move_to_end(cid)
                return chat
        if self._read(lambda store: store.conversation(cid)) is None:
            raise UsageError(f"no conversation {cid}; it may have been deleted.")
        chat = WebChat(open_session(settings(), self.environ, resume=cid), spec)
        with self._lock:
            existing = self._chats.setdefault(cid, chat)
        if existing is not chat:  # another request opened it meanwhile
            chat.session.close()
        return existing

    @staticmethod
    def _begin(session: Session, action: Action, text: str) -> SessionTurn:
        if action == "send":
            if not text.strip():
                raise UsageError("type a message first.")
            return session.begin(text)
        if action == "retry":
            return session.begin_retry()
        return session.begin_continue()

    def _ended(self, chat: WebChat, live: LiveTurn) -> None:
        if chat.live is live:
            chat.lock.release()
        self._close_idle()

    def _registered(self, cid: int) -> WebChat | None:
        with self._lock:
            return self._chats.get(cid)

    def _close_idle(self) -> None:
        """Close the least recently used idle sessions beyond KEEP_IDLE, and
        beyond one on the bundled model (each runs the model in a process of
        its own). A closed session's lock stays taken: it runs no more turns."""
        closing = []
        with self._lock:
            idle = [cid for cid, chat in self._chats.items() if not chat.lock.locked()]
            local = [cid for cid in idle if self._chats[cid].session.settings.provider == "local"]
            surplus = set(idle[: max(0, len(idle) - KEEP_IDLE)]) | set(local[:-1])
            for cid in surplus:
                chat = self._chats[cid]
                if chat.lock.acquire(blocking=False):
                    closing.append(self._chats.pop(cid))
        for chat in closing:
            chat.session.close()

    def stop_all(self) -> None:
        """Stop every reply now (the server is shutting down)."""
        with self._lock:
            running = [chat.live for chat in self._chats.values() if chat.live is not None]
        for live in running:
            live.cancel()

    def close(self) -> None:
        """Stop every reply and close every session and the read connection."""
        with self._lock:
            chats, self._chats = list(self._chats.values()), OrderedDict()
        for chat in chats:
            if chat.live is not None:
                chat.live.cancel()
                chat.live.done.wait(2)
            chat.session.close()
        with self._store_lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text


def _summary_json(summary: Any) -> dict[str, Any]:
    return {"id": summary.id, "title": summary.title or "(empty)", "model": summary.model,
            "updated_at": summary.updated_at, "turns": summary.turns}


def configured_models(environ: Mapping[str, str], cwd: Path) -> tuple[list[dict[str, str]], str]:
    """The model picker: each configured provider's default model, the
    bundled model when llama-cpp-python is installed, and the default
    (as `chinwag` alone would pick it) first."""
    from chinwag.config import resolve
    from chinwag.providers.registry import PROVIDERS

    def spec_of(settings: Any) -> str:
        return f"{settings.provider}:{settings.model}" if settings.model else settings.provider

    try:
        default = spec_of(resolve(environ, cwd, {}))
    except ChinwagError:
        default = "local"
    specs = [default]
    for entry in PROVIDERS:
        if entry.name == "local" and importlib.util.find_spec("llama_cpp") is None:
            continue
        try:
            specs.append(spec_of(resolve(environ, cwd, {"model": f"{entry.name}:"})))
        except ChinwagError:
            continue
    return [{"spec": s, "label": _label(s)} for s in dict.fromkeys(specs)], default


def _label(spec: str) -> str:
    from chinwag.providers.registry import entry, parse_model_spec

    provider, model = parse_model_spec(spec)
    if provider == "local":
        return f"local · {Path(model).name}" if model else "bundled model (SmolLM2-135M, offline)"
    name = {"anthropic": "Claude", "openai": "OpenAI-compatible"}.get(provider, entry(provider).label)
    return f"{model} · {name}" if model else f"{name} · the server's first model"


def _secrets(environ: Mapping[str, str], cwd: Path) -> tuple[str, ...]:
    """Every API key this server could use, to keep out of anything the page sees."""
    from chinwag.config import resolve
    from chinwag.providers.registry import PROVIDERS

    found = {v for k, v in {**os.environ, **environ}.items() if k.endswith("_API_KEY") and v}
    for entry in PROVIDERS:
        try:
            key = resolve(environ, cwd, {"model": f"{entry.name}:"}).api_key
        except ChinwagError:
            continue
        if key:
            found.add(key)
    return tuple(sorted((s for s in found if len(s) >= 4), key=len, reverse=True))
