"""The session's conversation tree: editing a message, /undo, switching
branch, choosing the leaf, /fork. A base of `Session` (session.py), which
holds the state these read.

A saved conversation is a tree (tree.py): `conversation.messages` is the path
from its root to the current leaf, which is all the model is sent. Editing a
message, /retry, /undo and switching branch move the leaf; nothing is deleted.
Without a history (`--no-save`, `Chat(save=False)`) there is no tree: the
conversation is its one line; /retry replaces the reply and /undo drops the
last exchange, as before, and the tree's own operations are refused in one line.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from chinwag.errors import UsageError

if TYPE_CHECKING:
    from chinwag.conversation import Conversation
    from chinwag.history.recorder import Recorder
    from chinwag.providers.base import Provider
    from chinwag.records import Block, Message, Reply
    from chinwag.session_turn import SessionTurn
    from chinwag.tree import Tree

NO_TREE = "needs saved history, and this chat is not saved (--no-save)"
_FENCE_END = re.compile(r"\n`{3,}\n\n")  # the end of a text file attached before the user's words


class SessionTree:
    provider: Provider
    conversation: Conversation
    recorder: Recorder | None
    last_reply: Reply | None
    withdrawn: Message | None

    def begin(self, text: str, attachments: tuple[Block, ...] = ()) -> SessionTurn:
        raise NotImplementedError

    def reset_window(self) -> None:
        raise NotImplementedError

    # -- the conversation's tree (between turns: callers refuse these while a reply streams) --

    def tree(self) -> Tree:
        """The conversation as a tree, with its current leaf."""
        return self._recorder("the conversation tree").tree()

    def begin_edit(self, message_id: int, text: str) -> SessionTurn:
        """A new sibling of the user's message `message_id`, with `text` for its
        words and its attachments kept, then the turn that answers it (as `begin`).
        The old branch stays."""
        recorder = self._recorder("editing a message")
        old = recorder.message(message_id)
        words, attachments = words_and_attachments(old.message)
        if old.role != "user" or any(b.type == "tool_result" for b in old.message.blocks):
            raise UsageError(f"message {message_id} is the model's, not yours; edit your question before it,"
                             " or /retry for another reply.")
        if not text.strip() and not attachments:
            raise UsageError("the edited message is empty; nothing changed.")
        if attachments:
            from chinwag.attach import check

            check(attachments, self.provider.name)  # before anything moves
        self._moved(recorder.move_leaf(old.parent_id))
        return self.begin(text, attachments)

    def words(self, message_id: int) -> str:
        """The words the user wrote in message `message_id` (without attached files): what /edit starts from."""
        return words_and_attachments(self._recorder("editing a message").message(message_id).message)[0]

    def undo(self) -> None:
        """Step back one exchange: the leaf goes to before the last question on the
        path. Nothing is deleted; the next message starts a new branch there."""
        if self.recorder is None:  # no tree: the exchange is dropped from the line
            messages = self.conversation.messages
            last = next((i for i in range(len(messages) - 1, -1, -1) if is_question(messages[i])), None)
            if last is None:
                raise UsageError("nothing to undo: this is the start of the conversation.")
            del messages[last:]
            self.withdrawn, self.last_reply = None, None
            self.reset_window()
            return
        path = self.recorder.tree().path()
        last_question = next((n for n in reversed(path) if n.question), None)
        if last_question is None:
            raise UsageError("nothing to undo: this is the start of the conversation.")
        self._moved(self.recorder.move_leaf(last_question.parent_id))

    def switch_to(self, message_id: int) -> tuple[Message, ...]:
        """(`switch` is taken: another model.) Make the branch through `message_id`
        current, at its deepest latest leaf; the messages from the branching point
        (the first on the new path not on the old) down."""
        recorder = self._recorder("switching branch")
        tree = recorder.tree()
        if message_id not in tree.nodes:
            raise UsageError(f"there is no message {message_id} in this conversation.")
        leaf = tree.deepest_latest(message_id)
        old = {n.id for n in tree.path()}
        new = tree.path(leaf)
        start = next((i for i, n in enumerate(new) if n.id not in old), len(new))
        self._moved(recorder.move_leaf(leaf))
        return tuple(m.message for m in recorder.stored_path(leaf)[start:])

    def set_leaf(self, message_id: int) -> None:
        """Exactly `message_id` becomes the leaf (the page: each tab sends from the
        branch it shows); nothing to do, and no database read, when it is already."""
        recorder = self._recorder("choosing a branch")
        if recorder.leaf_id() != message_id:
            self._moved(recorder.move_leaf(message_id))

    @property
    def leaf(self) -> int | None:
        """The id of the current leaf (while a turn runs, its reply's row), known
        in memory; None with an empty path or no history."""
        return self.recorder.leaf_id() if self.recorder is not None else None

    def message(self, message_id: int) -> Message:
        """Message `message_id` of this conversation, whole (any branch)."""
        return self._recorder("reading a message").message(message_id).message

    def fork(self) -> int:
        """A new saved conversation starting as a copy of the current path (the
        copy adds its messages to the history); the session goes on in it. Its id."""
        copy = self._recorder("/fork").fork()
        self.withdrawn, self.last_reply = None, None  # (a /continue would extend the original's row)
        return copy

    def _recorder(self, what: str) -> Recorder:
        if self.recorder is None:
            raise UsageError(f"{what} {NO_TREE}.")
        return self.recorder

    def _moved(self, path: list[Message]) -> None:
        """The leaf moved: the conversation is the new path."""
        self.conversation.messages = path
        self.withdrawn, self.last_reply = None, None
        self.reset_window()


def is_question(message: Message) -> bool:
    """A message the user wrote, not the results of tool calls."""
    return message.role == "user" and not any(b.type == "tool_result" for b in message.blocks)


def words_and_attachments(message: Message) -> tuple[str, tuple[Block, ...]]:
    """A user's message as their words and what was attached before them
    (attach/ puts attachments first: images and documents as blocks, text
    files as fenced text)."""
    from chinwag.records import Text

    parts = message.parts
    if parts and isinstance(parts[-1], Text) and len(parts) > 1:
        words, attached = parts[-1].text, parts[:-1]
    elif not message.blocks:
        words, attached = message.content, ()
    else:
        words, attached = "", parts
    if words.startswith("# file: ") and (ends := list(_FENCE_END.finditer(words))):
        cut = ends[-1].end()  # text files attached before the words, saved as one text
        words, attached = words[cut:], (*attached, Text(words[:cut]))
    return words, attached
