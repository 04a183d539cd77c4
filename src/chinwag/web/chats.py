"""The conversations the page works on: one Session each, one turn at a time.

A conversation chatted in gets a `Session` (the same as the terminal's:
settings, provider, recorder) the first time it is sent to, resumed from
the history like `chinwag --resume ID`, and kept while it is in use; the
least recently used idle ones beyond `KEEP_IDLE` are closed. Each has a
lock held from the start of a turn to its end, so two tabs on the same
conversation never interleave turns: the second is told a reply is
streaming and follows it instead.

Each session gets the chat's tools (web/webchat.py).
An MCP prompt runs as a turn on the session's own servers, its messages sent as
the user's; resources attach like uploads (web/mcp.py, `self.mcp`).
Files the page uploads become attachment blocks here (`upload`, with
`chinwag.attach`), kept on disk (`web/uploads.py`) until the next send takes
them by id.

Nothing here sends an API key anywhere but to its provider: the model list
holds model specs, and every error and notice passes `redact` first.
Reading the history (the list, search, a saved conversation) is saved.py's.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chinwag.config import Settings
from chinwag.errors import ChinwagError, UsageError
from chinwag.history.branching import HISTORY_BUSY
from chinwag.driver import TurnDriver
from chinwag.session import Session
from chinwag.records import Block
from chinwag.web.asks import Ask, begin
from chinwag.web.live import LiveTurn
from chinwag.web.mcp import Lobby, PageMcp
from chinwag.web.mcp import asked as mcp_asked
from chinwag.web.models import ModelCatalog, api_keys
from chinwag.web.presence import Pages
from chinwag.web.saved import SavedConversations
from chinwag.web.uploads import Uploads
from chinwag.web.webchat import WebChat, with_tools
from chinwag.web.workers import Workers

if TYPE_CHECKING:
    from chinwag.toolloop import ToolUse
    from chinwag.tools.mcp_prompts import PromptRun

KEEP_IDLE = 8  # idle sessions kept open (connections, recorder); older ones are closed
TITLE_MAX = 200  # characters of a title the user gives (lists show fewer)


class Busy(ChinwagError):
    """A reply is streaming in this conversation already."""


class Chats:
    def __init__(self, environ: Mapping[str, str], cwd: Path, tools: Sequence[str] = (),
                 mcp_config: str | None = None) -> None:
        from chinwag.paths import database_file

        self.environ, self.cwd = dict(environ), cwd
        self.tool_flags: dict[str, Any] = {"tools": list(tools) or None, "mcp_config": mcp_config}
        self.uploads = Uploads()
        self.database = database_file(self.environ)
        self._chats: OrderedDict[int, WebChat] = OrderedDict()
        self._lock = threading.Lock()
        self.catalog = ModelCatalog(self.environ, cwd)
        self.default_model = self.catalog.default
        self._workers = Workers()
        self.pages = Pages()
        self._secrets = api_keys(self.environ, cwd)
        self.saved = SavedConversations(self.database, self.redact)
        self.mcp = PageMcp(Lobby(self.environ, cwd, {"model": self.default_model, **self.tool_flags}), self.uploads,
                           self._tools_of, self.default_model)

    # -- reading the history (saved.py) -------------------------------------------

    def conversations(self, query: str = "", limit: int = 50) -> list[dict[str, Any]]:
        """Newest first; with `query`, those with a matching message (full-text)."""
        return self.saved.conversations(set(self.live_ids()), query, limit)

    def conversation(self, cid: int, leaf: int | None = None, at: int | None = None) -> dict[str, Any] | None:
        """A branch of `cid` rendered (see `SavedConversations.conversation`);
        `live`: a reply streams on it now; `elsewhere`: on another branch."""
        found = self.saved.conversation(cid, leaf, at)
        if found is None:
            return None
        live = self.live(cid)
        # While a reply streams, the conversation's saved leaf is where it is saved: its question, then itself.
        here = live is not None and found["current"] in found["path"]
        return {**found, "live": here, "elsewhere": live is not None and not here}

    # -- attachments -----------------------------------------------------------------

    def upload(self, path: Path, model: str | None) -> tuple[str, str]:
        """An uploaded file (streamed to `path` by `uploads.receive`) made into a
        block for `model`'s provider, as `-a` makes one (the type from the
        content, images downscaled); its id for the next send and its 📎 line.
        Refusals are UsageErrors."""
        from chinwag.providers.registry import parse_model_spec

        provider, _ = parse_model_spec(model or self.default_model)
        return self.uploads.hold(path, provider)

    @staticmethod
    def upload_name(name: str) -> str:
        """The name an upload is shown (and sniffed) by: no folders, no control characters."""
        from chinwag.render.sanitize import sanitize

        safe = "".join(c for c in sanitize(Path(name.replace("\\", "/")).name) if c not in "/\0").strip()
        fits = safe.lstrip(".").encode("utf-8", "ignore")[:200].decode("utf-8", "ignore")  # a file name: 255 bytes
        return fits or "upload"

    def _take_uploads(self, keys: Sequence[str]) -> tuple[Block, ...]:
        return self.uploads.take(keys)

    def elicited(self, cid: int, question: int, action: str, values: Mapping[str, Any]) -> bool | str:
        """The page's answer to the MCP server's question `question` of `cid`'s turn."""
        live = self.live(cid)
        return live is not None and live.answer_elicitation(question, action, values)

    def approve(self, cid: int, question: int, answer: str, reason: str | None) -> bool:
        """The page's answer to the approval question `question` of `cid`'s turn."""
        live = self.live(cid)
        return live is not None and live.answer(question, answer, reason)

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

    def start(self, cid: int | None, ask: Ask) -> tuple[int, LiveTurn]:
        """Begin a turn (a new conversation when `cid` is None) on the branch
        the tab shows, and run it; its conversation id and the running turn.
        Raises Busy, or a ChinwagError with the same words the terminal uses."""
        from chinwag.config import resolve

        spec = ask.model or self.default_model

        def settings() -> Settings:  # only when a session is opened or switched: the next turn's is ready
            return resolve(self.environ, self.cwd, {"model": spec, "save": True, **self.tool_flags},
                           flag_names={"model": "the page's model picker"})

        run = self._prompt(cid, ask, spec) if ask.action == "prompt" else None
        if run is not None:
            ask = replace(ask, text=run.text)
        chat = self._claim(cid, settings, spec)
        try:
            if chat.spec != spec:
                from chinwag.providers.registry import LazyProvider

                switched = settings()
                chat.session.switch(switched, LazyProvider(switched))
                chat.spec = spec
            if cid is not None and ask.leaf is not None:
                chat.session.set_leaf(ask.leaf)  # this tab's branch, whatever another tab did
            blocks = self._take_uploads(ask.attachments) if ask.action in ("send", "prompt") else ()
            blocks += run.blocks if run is not None else ()
            asked = mcp_asked(run, self.redact) if run is not None else None
            turn = begin(chat.session, ask, blocks)
            try:
                new_cid = _conversation_id(chat.session)
            except UsageError:
                TurnDriver(turn).end()  # never streamed: ended as any turn is
                raise
            live = LiveTurn(turn, chat.renderer, lambda ended: self._ended(chat, ended), self.redact,
                            leaf=lambda: _leaf(chat.session), asked=asked)
            chat.live = live
            with self._lock:
                self._chats[new_cid] = chat
                self._chats.move_to_end(new_cid)
            self.changed()  # the sidebars show it (a new conversation at once) as streaming
        except BaseException:
            chat.lock.release()
            if cid is None:
                chat.session.close()
            raise
        live.start(self._workers)
        return new_cid, live

    def _prompt(self, cid: int | None, ask: Ask, spec: str) -> PromptRun:
        """The MCP prompt of a "prompt" turn, got first from the servers that listed it
        (web/mcp.py): a refusal (a missing argument, a server gone) opens no session and
        leaves the uploads for the next try."""
        from chinwag.providers.registry import parse_model_spec

        return self.mcp.run(self.mcp.tools(cid), ask.prompt, parse_model_spec(spec)[0])

    def rename(self, cid: int, title: str) -> bool:
        """Give `cid` the title `title` (one line; blank: its first message's line
        again), in the history the terminal reads too; False if there is none."""
        title = " ".join(title.split())[:TITLE_MAX]
        renamed: bool = self.saved.read(lambda store: store.rename_conversation(cid, title or None))
        self.changed()
        return renamed

    def delete(self, cid: int) -> bool:
        """Delete `cid` from the history (the page's undo window is over);
        False if there was none. Busy while its reply streams."""
        with self._lock:
            chat = self._chats.get(cid)
            if chat is not None:
                if not chat.lock.acquire(blocking=False):
                    raise Busy("a reply is streaming in this conversation; stop it first.")
                del self._chats[cid]  # its lock stays taken: the closed session runs no more turns
        if chat is not None:
            chat.session.close()
        deleted: bool = self.saved.read(lambda store: store.delete_conversation(cid))
        self.changed()
        return deleted

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
            return with_tools(WebChat(session, spec), self.cwd, self.environ)
        with self._lock:
            chat = self._chats.get(cid)
            if chat is not None:
                self._chats.move_to_end(cid)
                return chat
        if self.saved.read(lambda store: store.conversation(cid)) is None:
            raise UsageError(f"no conversation {cid}; it may have been deleted.")
        chat = with_tools(WebChat(open_session(settings(), self.environ, resume=cid), spec), self.cwd,
                          self.environ)
        with self._lock:
            existing = self._chats.setdefault(cid, chat)
        if existing is not chat:  # another request opened it meanwhile
            chat.session.close()
        return existing

    def fork(self, cid: int, leaf: int | None) -> int:
        """A new conversation, a copy of `cid`'s branch ending at `leaf` (its
        current one when None); its id. The copy is saved whole: the one place
        a branch's messages are copied."""
        def run(store: Any) -> int:
            found = store.message(leaf) if leaf is not None else None
            if leaf is not None and (found is None or found.conversation_id != cid):
                raise UsageError(f"there is no message {leaf} in conversation {cid}.")
            return int(store.fork(cid, leaf))

        forked: int = self.saved.read(run)
        self.changed()
        return forked

    def _ended(self, chat: WebChat, live: LiveTurn) -> None:
        if chat.live is live:
            chat.lock.release()
        self._close_idle()
        self.changed()

    # -- what every open page's sidebar shows ----------------------------------------

    def live_ids(self) -> list[int]:
        """The conversations whose reply streams now."""
        with self._lock:
            return [cid for cid, chat in self._chats.items()
                    if chat.live is not None and not chat.live.done.is_set()]

    def changed(self) -> None:
        """Tell every open page that the conversation list changed."""
        self.pages.tell({"t": "changed", "live": self.live_ids()})

    def unwatched(self) -> list[LiveTurn]:
        """Replies streaming with no page following them."""
        with self._lock:
            running = [chat.live for chat in self._chats.values() if chat.live is not None]
        return [live for live in running if not live.done.is_set() and live.followers == 0]

    def _tools_of(self, cid: int) -> ToolUse | None:
        """The tools of `cid`'s open session (its MCP servers), if it has one open."""
        chat = self._registered(cid)
        return chat.session.tool_use if chat is not None else None

    def _registered(self, cid: int) -> WebChat | None:
        with self._lock:
            return self._chats.get(cid)

    def _close_idle(self) -> None:
        """Close the least recently used idle sessions beyond KEEP_IDLE, and
        beyond one on the bundled model (each runs the model in a process of
        its own). A closed session's lock stays taken: it runs no more turns."""
        from chinwag.providers.registry import entry

        closing = []
        with self._lock:
            idle = [cid for cid, chat in self._chats.items() if not chat.lock.locked()]
            local = [cid for cid in idle if entry(self._chats[cid].session.settings.provider).runs_here]
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
        self.pages.end_all()  # so the shutdown waits for no open page

    def close(self) -> None:
        """Stop every reply and close every session and the read connection."""
        with self._lock:
            chats, self._chats = list(self._chats.values()), OrderedDict()
        for chat in chats:
            if chat.live is not None:
                chat.live.cancel()
                chat.live.done.wait(2)
            chat.session.close()
        self.catalog.close()
        self.mcp.close()
        self.saved.close()
        self.uploads.close()  # unsent uploads' files

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text



def _conversation_id(session: Session) -> int:
    """The id of the conversation the turn is saved in. A new one has it once its
    first message is written: at once, unless another connection holds the write
    lock (a terminal saving, the page's first read creating the database), then a
    moment later from the recorder's writer thread; so it is waited for, as a
    leaf's id is (`Recorder.leaf_id`). UsageError when there is none."""
    recorder = session.recorder
    if recorder is not None and recorder.conversation_id is None and not recorder.settle():
        raise UsageError(HISTORY_BUSY)  # still locked after SETTLE_TIMEOUT_S: the page keeps the words
    if recorder is None or recorder.conversation_id is None:
        raise UsageError("the history database cannot be written; see `chinwag history check`.")
    return recorder.conversation_id


def _leaf(session: Session) -> int | None:
    """The session's current leaf (the page's tab continues from it), None if unknown."""
    try:
        return session.leaf
    except ChinwagError:  # its row still queued past the wait, or the history failing
        return None
