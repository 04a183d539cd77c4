"""How a conversation's tree is drawn (cli/tree_view.py, for /tree and `history show --all`):
the shapes a long-lived conversation takes, over `chinwag.tree` records as the history builds
them. The same lines through the installed chat are in test_cli_branches.py."""

from __future__ import annotations

from chinwag.cli.tree_view import render
from chinwag.tree import Node, Tree


def _tree(edges: list[tuple[int, int | None, str, str]], leaf: int | None) -> Tree:
    """Messages numbered as their ids: (id, parent, role, preview)."""
    children: dict[int | None, list[int]] = {}
    for mid, parent, _, _ in edges:
        children.setdefault(parent, []).append(mid)
    return Tree({mid: Node(mid, mid, parent, role, "complete", preview, 0.0, tuple(children.get(mid, ())))
                 for mid, parent, role, preview in edges}, leaf)


def _who(node: Node) -> str:
    return "You" if node.role == "user" else "Claude"


def test_the_newest_branch_goes_on_at_the_same_indent_and_older_ones_step_in() -> None:
    tree = _tree([(1, None, "user", "Q1"), (2, 1, "assistant", "A1"), (3, 2, "user", "Q2"), (4, 3, "assistant", "A2"),
                  (5, 2, "user", "Q2b"), (6, 5, "assistant", "A2b"), (7, 5, "assistant", "A2c")], 6)
    assert render(tree, _who) == [
        "* 1  You: Q1",
        "* 2  Claude: A1  · 2 branches",
        "  3    [1/2] You: Q2",
        "  4    Claude: A2",
        "* 5  [2/2] You: Q2b  · 2 branches",
        "* 6    [1/2] Claude: A2b  ← current",
        "  7  [2/2] Claude: A2c",
    ]


def test_an_edited_first_message_is_a_second_root() -> None:
    tree = _tree([(1, None, "user", "Q1"), (2, 1, "assistant", "A1"), (3, None, "user", "Q1b"),
                  (4, 3, "assistant", "A1b")], 4)
    assert render(tree, _who) == ["  1    [1/2] You: Q1", "  2    Claude: A1", "* 3  [2/2] You: Q1b",
                                  "* 4  Claude: A1b  ← current"]


def test_previews_are_cut_to_the_width_wide_characters_counted() -> None:
    tree = _tree([(1, None, "user", "日本語" * 40), (2, 1, "assistant", "word " * 40)], 2)
    lines = render(tree, _who, columns=40)
    from wcwidth import wcswidth

    assert all(wcswidth(line) <= 39 for line in lines) and all(line.endswith("…") or "current" in line
                                                                for line in lines)
    assert lines[1].endswith("…  ← current")


def test_a_conversation_thousands_of_messages_deep_is_drawn_without_recursion() -> None:
    edges = [(i, i - 1 if i > 1 else None, "user" if i % 2 else "assistant", f"m{i}") for i in range(1, 5001)]
    lines = render(_tree(edges, 5000), _who)
    assert len(lines) == 5000 and lines[-1] == "* 5000  Claude: m5000  ← current"


def test_an_empty_conversation_draws_nothing() -> None:
    assert render(Tree({}, None), _who) == []


def test_a_question_cancelled_before_its_reply_says_so() -> None:
    tree = Tree({1: Node(1, 1, None, "user", "interrupted", "Q1", 0.0, ()),
                 2: Node(2, 2, None, "user", "complete", "Q2", 0.0, (3,)),
                 3: Node(3, 3, 2, "assistant", "interrupted", "A2", 0.0, ())}, 3)
    assert render(tree, _who) == ["  1    [1/2] You: Q1  · cancelled before a reply", "* 2  [2/2] You: Q2",
                                  "* 3  Claude: A2  · ⚠ interrupted  ← current"]
