"""/save and /copy: the conversation, or its last reply, taken out of the chat
into a file or the clipboard."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from chinwag.errors import UsageError
from chinwag.render.sanitize import sanitize
from chinwag.sinks import assistant_name

if TYPE_CHECKING:
    from chinwag.cli.repl import Repl

# Clipboard tools, in order of preference, with the arguments that read stdin.
CLIPBOARD_TOOLS = (("pbcopy",), ("wl-copy",), ("xclip", "-selection", "clipboard"), ("xsel", "-b", "-i"), ("clip.exe",))


def save(repl: Repl, arg: str) -> None:
    """`/save FILE` writes the conversation as markdown; a file already there is
    overwritten only when the user says so (asked in a terminal) or `--force`."""
    force = arg == "--force" or arg.startswith(("--force ", "--force\t"))
    arg = arg.removeprefix("--force").strip() if force else arg
    if not arg:
        raise UsageError("say where: /save FILE")
    try:
        path = Path(arg).expanduser()
    except RuntimeError:  # "~name/..." for a user with no home directory here
        raise UsageError(f"cannot write {sanitize(arg)}: there is no such home directory.") from None
    exists = _existing_file(path, arg)
    if exists and not force:
        answer = _ask(repl, f"{sanitize(str(path))} exists. Overwrite it? [y/N] ")
        if answer is None:
            raise UsageError(f"{sanitize(str(path))} exists; not overwriting it without asking (no terminal to"
                             f" ask on): /save --force {sanitize(arg)} overwrites it.")
        if answer.strip().lower() not in ("y", "yes"):
            repl.out.write("Not saved.\n")
            return
    from chinwag import present

    assistant = assistant_name(repl.session.provider.name)
    messages = repl.session.conversation.messages
    parts = [f"# Conversation with {sanitize(repl.session.model)}\n"]
    for message in messages:
        if present.is_results_only(message):
            parts.append(present.markdown(message) + "\n")
            continue
        who = "You" if message.role == "user" else assistant
        body = present.markdown(message) if present.has_tool_blocks(message) else sanitize(message.content)
        parts.append(f"**{who}:** {body}\n")
    _write_regular_file(path, arg, "\n".join(parts))
    repl.out.write(f"Saved {len(messages)} messages to {sanitize(str(path))}.\n")


def _existing_file(path: Path, arg: str) -> bool:
    """Whether `path` is a file already there; UsageError for anything else there
    but a directory (a FIFO, a device, a socket): writing to a FIFO nobody reads
    would hang the chat. A directory fails at the write, in one line."""
    import stat

    try:
        mode = path.stat().st_mode
    except (OSError, ValueError):  # not there (or a NUL in the path): writing says why
        return False
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return stat.S_ISREG(mode)
    raise _not_a_file(arg)


def _write_regular_file(path: Path, arg: str, text: str) -> None:
    """`text` into `path`, created or overwritten, only if it is a regular file.

    Opened non-blocking and checked before anything is truncated, so a FIFO made
    after the check above cannot hang the chat either (no reader: ENXIO at once)."""
    import errno
    import os
    import stat

    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NONBLOCK | os.O_CLOEXEC, 0o666)
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        if isinstance(exc, OSError) and exc.errno == errno.ENXIO:
            raise _not_a_file(arg) from None
        raise UsageError(f"cannot write {sanitize(arg)}: {getattr(exc, 'strerror', None) or exc}.") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise _not_a_file(arg)
        os.set_blocking(fd, True)
        os.ftruncate(fd, 0)
        data = memoryview(text.encode("utf-8"))
        while data:
            data = data[os.write(fd, data):]
    except OSError as exc:
        raise UsageError(f"cannot write {sanitize(arg)}: {exc.strerror or exc}.") from None
    finally:
        os.close(fd)


def _not_a_file(arg: str) -> UsageError:
    return UsageError(f"cannot write {sanitize(arg)}: it is not a regular file (a FIFO, device or socket);"
                      " /save writes files.")


def _ask(repl: Repl, question: str) -> str | None:
    """The user's answer to `question`, asked on the terminal; None without one
    (input or output piped), where nothing is waited on."""
    import sys

    if not (repl.out.isatty() and sys.stdin.isatty()):
        return None
    repl.out.write(question)
    repl.out.flush()
    answer = sys.stdin.readline()  # not input(): the answer is no line for the Up-arrow history
    if not answer:  # Ctrl-D
        repl.out.write("\n")
    return answer


def copy(repl: Repl, arg: str) -> None:
    last = repl.session.last_reply
    if last is None or not last.text:
        raise UsageError("no reply to copy yet.")
    import shutil
    import subprocess

    for tool in CLIPBOARD_TOOLS:
        if shutil.which(tool[0]):
            try:
                subprocess.run(tool, input=last.text.encode(), check=True, timeout=5,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            except (OSError, subprocess.SubprocessError):
                continue
            repl.out.write(f"Copied the last reply ({len(last.text)} characters).\n")
            return
    raise UsageError("no clipboard tool found (pbcopy, wl-copy, xclip, xsel); use /save FILE instead.")
