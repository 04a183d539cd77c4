"""Turning settings and flags into a ready Session: the prompt, the store, resumption."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from chinwag.config import Settings
from chinwag.errors import UsageError
from chinwag.session import Session
from chinwag.turn import Conversation

def read_prompt(words: Sequence[str], stdin: TextIO, file: str | None = None) -> str | None:
    """The one-shot prompt (words, then a --file or piped stdin), or None for the REPL."""
    piped = _read_file(file) if file else None if stdin is None or stdin.isatty() else _read_stdin(stdin)
    if not words and piped is None:
        return None
    text = " ".join(words).strip()
    if piped and piped.strip():
        text = f"{text}\n\n{piped.strip()}" if text else piped.strip()
    if not text:
        raise UsageError("the prompt is empty; type a question, e.g. chinwag \"hello\".")
    return text


def _read_file(name: str) -> str:
    try:
        return Path(name).expanduser().read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"the prompt file {name} is not UTF-8 text.") from None
    except OSError as exc:
        raise UsageError(f"cannot read the prompt file {name}: {exc.strerror}.") from None


def _read_stdin(stdin: TextIO) -> str:
    data = stdin.buffer.read() if hasattr(stdin, "buffer") else stdin.read().encode()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"standard input is not UTF-8 text (byte {exc.start}).") from None


def open_session(settings: Settings, environ: Mapping[str, str], *,
                 resume: int | None = None, continue_last: bool = False) -> Session:
    from chinwag.providers.factory import LazyProvider

    recorder = None
    if settings.save:
        from chinwag.paths import database_file
        from chinwag.recorder import Recorder

        recorder = Recorder(database_file(environ))
    session = Session(settings, LazyProvider(settings), Conversation(settings.system), recorder)
    if resume is not None or continue_last:
        _resume(session, resume)
    return session


def model_switcher(session: Session, environ: Mapping[str, str], cwd: Path,
                   flags: Mapping[str, Any]) -> Callable[[str], None]:
    """For /model SPEC: new settings and provider, same conversation."""
    def switch(spec: str) -> None:
        from chinwag.config import resolve
        from chinwag.providers.factory import make_provider

        settings = resolve(environ, cwd, {**flags, "model": spec})
        session.provider = make_provider(settings)  # built now: a bad spec or missing file shows at once
        session.settings = settings
        session.reset_window()

    return switch


def _resume(session: Session, conversation_id: int | None) -> None:
    if session.recorder is None:
        raise UsageError("--continue and --resume need saved history; drop --no-save.")
    system, messages = session.recorder.resume(conversation_id)
    if system:
        session.conversation.system = system
    session.conversation.messages = messages
