"""The chat's commands over the conversation's tree: /edit, /undo, /tree, /switch, /fork.

Messages are named by their numbers, as `/tree` shows them (creation order,
stable). Each command that moves the conversation says where it is now; bad
input is a UsageError (one line, the chat goes on). The session does the
work (session.py); this is what the terminal says about it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chinwag.errors import ChinwagError, UsageError
from chinwag.render.sanitize import one_line, sanitize

if TYPE_CHECKING:
    from chinwag.cli.repl import Repl
    from chinwag.records import Message
    from chinwag.tree import Node, Tree

# The commands that move the conversation to another branch: refused when typed
# while a reply streamed (they would act on a reply the user had not seen end).
MOVING = ("/edit", "/undo", "/switch", "/fork")


def edit(repl: Repl, arg: str) -> None:
    """`/edit [N]`: your message N (default: your last one) changed, as a new
    branch beside it; the model answers it. The old branch stays."""
    from chinwag.cli.editor import edited_text
    from chinwag.driver import TurnDriver

    session = repl.session
    tree = session.tree()
    node = _question(tree, arg)
    old = session.words(node.id)
    text = edited_text(old, repl.environ, repl.reader, session.guard)
    repl.out.write(repl.dim(f"↳ message {node.number} edited: a new branch beside it; the old one stays"
                            " (/tree shows both)") + "\n")
    with session.guard.guarded():
        TurnDriver(session.begin_edit(node.id, text), [repl.sink()]).run(session.guard)


def retried(repl: Repl) -> None:
    """After /retry: where the old reply went (not saved: nowhere; it was replaced)."""
    if repl.session.recorder is None:
        return
    try:
        tree = repl.session.tree()
    except ChinwagError:  # the history cannot be read just now: the reply is what matters
        return
    if tree.leaf is None or tree.nodes[tree.leaf].role != "assistant":  # (no reply row was saved)
        return
    siblings = tree.siblings(tree.leaf)
    if len(siblings) > 1:
        numbers = ", ".join(str(tree.nodes[s].number) for s in siblings if s != tree.leaf)
        repl.out.write(repl.dim(f"↳ the earlier repl{'ies' if len(siblings) > 2 else 'y'} ({numbers}) kept beside"
                                f" this one: /tree shows them, /switch N goes back") + "\n")


def undo(repl: Repl, arg: str) -> None:
    """`/undo`: step back one exchange; nothing is deleted."""
    if arg:
        raise UsageError("/undo takes no argument; it steps back one exchange (/switch N goes to any message).")
    session = repl.session
    if session.recorder is None:  # not saved: no tree, the exchange is dropped from the line
        session.undo()
        repl.out.write("Stepped back one exchange (this chat is not saved, so it is gone).\n")
        return
    before = session.tree()
    session.undo()
    after = session.tree()
    gone = before.nodes[before.leaf].number if before.leaf is not None else None
    back = f" /switch {gone} goes back." if gone is not None else ""
    if after.leaf is None:
        repl.out.write(f"Stepped back to the start: your next message begins a new branch. Nothing was"
                       f" deleted.{back}\n")
        return
    node = after.nodes[after.leaf]
    repl.out.write(f"Stepped back to message {node.number} ({_who(repl, node)}: {_preview(node)}): your next"
                   f" message starts a new branch there. Nothing was deleted.{back}\n")


def tree(repl: Repl, arg: str) -> None:
    """`/tree`: the whole conversation, indented at its branching points."""
    if arg:
        raise UsageError("/tree takes no argument.")
    from chinwag.cli.tree_view import Style, render
    from chinwag.render.terminal import terminal_size

    shape = repl.session.tree()
    if not shape.nodes:
        repl.out.write("Nothing here yet: the conversation starts with your first message.\n")
        return
    columns = terminal_size(repl.out)[0] if repl.out.isatty() else 100
    style = Style.terminal() if repl.color else Style()
    lines = render(shape, lambda node: _who(repl, node), columns, style)
    repl.out.write("".join(line + "\n" for line in lines))
    branches = shape.branches()
    repl.out.write(repl.dim(f"{len(shape.nodes)} messages · {branches} branch{'es' * (branches != 1)} · * the"
                            " current path · /switch N, /edit N") + "\n")


def switch(repl: Repl, arg: str) -> None:
    """`/switch N`: the branch through message N becomes current (its deepest,
    latest leaf); prints the path from where it branches off."""
    session = repl.session
    shape = session.tree()
    node = _numbered(shape, arg, "/switch")
    shown = session.switch_to(node.id)
    now = session.tree()
    leaf = now.nodes[now.leaf] if now.leaf is not None else node
    if not shown:
        repl.out.write(repl.dim(f"↳ already on the branch through message {node.number}, at message"
                                f" {leaf.number}.") + "\n")
        return
    repl.out.write(repl.dim(f"↳ on the branch through message {node.number}, now at message {leaf.number};"
                            " from where it branches off:") + "\n")
    _print_messages(repl, shown)


def fork(repl: Repl, arg: str) -> None:
    """`/fork`: a new conversation, a copy of the current path."""
    if arg:
        raise UsageError("/fork takes no argument; it copies the current path into a new conversation.")
    session = repl.session
    copied = len(session.tree().path())
    old = session.recorder.conversation_id if session.recorder is not None else None
    new = session.fork()
    was = f"; conversation {old} keeps every branch" if old is not None else ""
    repl.out.write(f"Forked: conversation {new} starts as a copy of this path ({copied} message"
                   f"{'s' * (copied != 1)} copied); you are in it now{was}.\n")


# -- naming messages ----------------------------------------------------------

def _numbered(shape: Tree, arg: str, command: str) -> Node:
    """The message numbered `arg`, or UsageError."""
    if not arg:
        raise UsageError(f"say which message: {command} N (/tree shows the numbers).")
    if not arg.isdigit():
        raise UsageError(f"{command} takes a message number from /tree, not {one_line(arg)!r}.")
    node = shape.by_number(int(arg)) if len(arg) < 19 else None
    if node is None:
        count = len(shape.nodes)
        have = f"it has messages 1 to {count}; /tree shows them" if count else "it has no messages yet"
        raise UsageError(f"there is no message {one_line(arg)} in this conversation ({have}).")
    return node


def _question(shape: Tree, arg: str) -> Node:
    """The user's message to edit: `arg`'s number, or the last one on the current path."""
    if not arg:
        node = next((n for n in reversed(shape.path()) if n.question), None)
        if node is None:
            raise UsageError("there is no message of yours to edit yet.")
        return node
    node = _numbered(shape, arg, "/edit")
    if node.role == "assistant":
        asked = shape.nodes[node.parent_id] if node.parent_id is not None else None
        before = f", or /edit {asked.number} changes the question before it" if asked and asked.question else ""
        raise UsageError(f"message {node.number} is a reply, which the model writes: /switch {node.number} then"
                         f" /retry asks for another{before}.")
    if not node.question:
        raise UsageError(f"message {node.number} holds tool results, not your words; /edit the question"
                         " before it.")
    return node


# -- showing messages ------------------------------------------------------------

def _who(repl: Repl, node: Node) -> str:
    if node.role == "assistant":
        from chinwag.sinks import assistant_name

        return assistant_name(repl.session.provider.name)
    return "⚙ results" if not node.question else "You"


def _preview(node: Node) -> str:
    from chinwag.cli.history_format import clean_line

    text = clean_line(node.preview) or "(no text)"
    return text if len(text) <= 40 else text[:39].rstrip() + "…"


def _print_messages(repl: Repl, messages: tuple[Message, ...]) -> None:
    """Messages in full, as /save writes them: `You:` / `Claude:`, tool lines dim."""
    from chinwag import present
    from chinwag.sinks import assistant_name

    assistant = assistant_name(repl.session.provider.name)
    for message in messages:
        if present.is_results_only(message):
            repl.out.write(repl.dim(present.markdown(message)) + "\n")
            continue
        who = "You" if message.role == "user" else assistant
        body = present.markdown(message) if present.has_tool_blocks(message) else sanitize(message.content)
        repl.out.write(f"{who}: {body}\n")
