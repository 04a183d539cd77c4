"""The approval policy in full: what runs without asking, what asks, what is
denied when nobody is there, and what the model is told about a denial."""

from __future__ import annotations

import pytest

from chinwag.records import ToolCall
from chinwag.tools import Verdict
from chinwag.tools.approval import NOBODY_TO_ASK, Approvals, Decision, refusal

SHELL = ToolCall("c1", "shell", {"command": "rm -rf build"})
ASKS = Verdict(True, "runs a command")
SAFE = Verdict(False, "reads inside the working directory")


class Person:
    """Answers each question from a script and remembers what was asked."""

    def __init__(self, *answers: tuple[str, str | None]) -> None:
        self.answers = list(answers)
        self.asked: list[tuple[str, str]] = []

    def __call__(self, call: ToolCall, reason: str) -> tuple[str, str | None]:
        self.asked.append((call.name, reason))
        return self.answers.pop(0)


def test_a_verdict_that_does_not_ask_runs_without_asking() -> None:
    person = Person()
    assert Approvals(ask=person).decide(SHELL, SAFE) == Decision(True)
    assert Approvals(ask=None).decide(SHELL, SAFE).allowed
    assert person.asked == []


def test_yes_approves_everything_without_asking() -> None:
    person = Person()
    assert Approvals(yes=True, ask=person).decide(SHELL, ASKS).allowed
    assert Approvals(yes=True, ask=None).decide(SHELL, ASKS).allowed
    assert person.asked == []


def test_allow_names_skip_asking() -> None:
    person = Person()
    approvals = Approvals(allow={"shell"}, ask=person)
    assert approvals.decide(SHELL, ASKS).allowed
    assert person.asked == []


def test_the_person_is_asked_with_the_reason() -> None:
    person = Person(("yes", None), ("yes", None))
    approvals = Approvals(ask=person)
    assert approvals.decide(SHELL, ASKS) == Decision(True)
    assert approvals.decide(SHELL, ASKS) == Decision(True)
    assert person.asked == [("shell", "runs a command")] * 2  # "yes" is for this call only


def test_always_remembers_the_tool_for_the_rest_of_the_chat() -> None:
    person = Person(("always", None))
    approvals = Approvals(ask=person)
    assert approvals.decide(SHELL, ASKS) == Decision(True, remember=True)
    assert approvals.decide(ToolCall("c2", "shell", {"command": "ls"}), ASKS) == Decision(True)
    assert approvals.always == {"shell"}
    assert len(person.asked) == 1


def test_always_is_per_tool() -> None:
    person = Person(("always", None), ("no", None))
    approvals = Approvals(ask=person)
    approvals.decide(SHELL, ASKS)
    assert not approvals.decide(ToolCall("c2", "fetch_url", {"url": "x"}), Verdict(True, "sends data out")).allowed


def test_no_denies_with_the_persons_reason() -> None:
    approvals = Approvals(ask=Person(("no", "use git clean instead"), ("no", None), ("no", "")))
    assert approvals.decide(SHELL, ASKS) == Decision(False, reason_from_user="use git clean instead")
    assert approvals.decide(SHELL, ASKS) == Decision(False)
    assert approvals.decide(SHELL, ASKS) == Decision(False)


def test_an_unexpected_answer_is_a_no() -> None:
    assert not Approvals(ask=Person(("maybe", None))).decide(SHELL, ASKS).allowed


def test_nobody_to_ask_is_a_denial_never_a_wait() -> None:
    decision = Approvals(ask=None).decide(SHELL, ASKS)
    assert decision == Decision(False, reason_from_user=NOBODY_TO_ASK)
    out = refusal(SHELL, decision)
    assert out.status == "denied"
    assert "nobody was there" in out.content and "--yes" in out.content
    assert out.summary == "denied: no terminal to ask (--yes approves)"


def test_the_model_is_told_about_a_denial() -> None:
    out = refusal(SHELL, Decision(False, reason_from_user="not on my machine"))
    assert (out.content, out.status, out.summary) == (
        "denied by the user: not on my machine", "denied", "denied: not on my machine")
    assert refusal(SHELL, Decision(False)).content == "denied by the user (no reason given)"


def test_the_denial_summary_is_one_safe_line() -> None:
    out = refusal(SHELL, Decision(False, reason_from_user="no\n\x1b[2Jway"))
    assert out.summary == "denied: no way"


@pytest.mark.parametrize("error", [KeyboardInterrupt, EOFError])
def test_ctrl_c_or_ctrl_d_at_the_question_reaches_the_caller(error: type[BaseException]) -> None:
    def ask(call: ToolCall, reason: str) -> tuple[str, str | None]:
        raise error

    with pytest.raises(error):
        Approvals(ask=ask).decide(SHELL, ASKS)
