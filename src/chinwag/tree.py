"""A conversation as a tree: records only, no I/O.

Each message has a parent (None for a root) and the conversation has a current
leaf; the model is sent exactly the path from the root to that leaf. A
message's `number` is its position in the conversation in order of creation
(1-based, every branch counted): stable, since new messages get new numbers.
The terminal's /edit N, /switch N and /tree use numbers; the API and the page
use `id`s (database ids). The history builds a `Tree` (history/branches.py);
the session and the views read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Node:
    """One message of the tree, with a one-line preview of its text."""

    id: int
    number: int  # position in the conversation in order of creation, 1-based
    parent_id: int | None  # None: a root (a conversation has one, or more after editing its first message)
    role: str  # "user" | "assistant"
    status: str  # as StoredMessage.status ("complete", "interrupted", ...)
    preview: str  # the first line of its words, at most TITLE_WIDTH; "" for tool results
    created_at: float
    children: tuple[int, ...]  # ids, in creation order
    results: bool = False  # a user message carrying the results of tool calls, not the user's words

    @property
    def question(self) -> bool:
        """A message the user wrote (one /edit can change)."""
        return self.role == "user" and not self.results


@dataclass(frozen=True)
class Tree:
    """Every message of one conversation, and the current leaf (None: empty path)."""

    nodes: Mapping[int, Node]
    leaf: int | None

    @property
    def roots(self) -> tuple[int, ...]:
        return tuple(n.id for n in self.nodes.values() if n.parent_id is None)

    def path(self, leaf: int | None = None) -> tuple[Node, ...]:
        """The nodes from the root to `leaf` (default: the current leaf)."""
        at = self.leaf if leaf is None else leaf
        path: list[Node] = []
        while at is not None:
            node = self.nodes[at]
            path.append(node)
            at = node.parent_id
        return tuple(reversed(path))

    def siblings(self, id: int) -> tuple[int, ...]:
        """The ids of the message's parent's children (itself included), in creation order."""
        parent = self.nodes[id].parent_id
        return self.nodes[parent].children if parent is not None else self.roots

    def by_number(self, number: int) -> Node | None:
        return next((n for n in self.nodes.values() if n.number == number), None)

    def deepest_latest(self, id: int) -> int:
        """The leaf reached from `id` by always taking the newest child."""
        node = self.nodes[id]
        while node.children:
            node = self.nodes[node.children[-1]]
        return node.id

    def branch_points(self) -> tuple[int, ...]:
        """The ids of the messages with more than one child, in creation order
        (the roots' branching, when there are several roots, is not a message)."""
        return tuple(n.id for n in self.nodes.values() if len(n.children) > 1)

    def branches(self) -> int:
        """How many leaves the tree has (1 for a line, 0 when empty)."""
        return sum(1 for n in self.nodes.values() if not n.children)

    def __len__(self) -> int:
        return len(self.nodes)
