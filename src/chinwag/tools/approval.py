"""Who says yes to a tool call: the approval policy, in one small class.

In order: a call whose verdict does not ask runs; `--yes` approves every
call; a tool named in `allow` (config) or approved with [a]lways earlier in
this chat runs; with nobody to ask (no terminal: a pipe, --json, no stdin)
the call is denied, never waited on; otherwise `ask(call, reason)` puts the
question to a person, who answers "yes", "always" or "no" (with an optional
reason, which goes back to the model).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from chinwag.records import ToolCall
from chinwag.tools.output import ToolOutput, Verdict, one_line

# (the call, why it needs asking) -> ("yes" | "always" | "no", the person's reason or None)
Ask = Callable[[ToolCall, str], tuple[str, "str | None"]]
NOBODY_TO_ASK = "no terminal to ask"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    remember: bool = False  # the person chose [a]lways: this tool runs without asking for the rest of the chat
    reason_from_user: str | None = None  # why it was denied, in the person's words (or NOBODY_TO_ASK)


class Approvals:
    def __init__(self, allow: Iterable[str] = (), yes: bool = False, ask: Ask | None = None) -> None:
        self.allow = set(allow)
        self.yes = yes
        self.ask = ask
        self.always: set[str] = set()  # tools approved with [a]lways in this chat

    def allowed_now(self) -> dict[str, str]:
        """Tools that run without asking because of this chat's answers: for /tools."""
        return {name: "allowed for this session ([a]lways)" for name in sorted(self.always)}

    def decide(self, call: ToolCall, verdict: Verdict) -> Decision:
        """May `call` run? Asks a person only when the verdict says so and nothing else settles it."""
        if not verdict.ask or self.yes or call.name in self.allow or call.name in self.always:
            return Decision(True)
        if self.ask is None:
            return Decision(False, reason_from_user=NOBODY_TO_ASK)
        answer, reason = self.ask(call, verdict.reason)
        if answer == "always":
            self.always.add(call.name)
            return Decision(True, remember=True)
        if answer == "yes":
            return Decision(True)
        return Decision(False, reason_from_user=reason or None)


def refusal(call: ToolCall, decision: Decision) -> ToolOutput:
    """What the model is told about a call that was not approved (status "denied")."""
    if decision.reason_from_user == NOBODY_TO_ASK:
        return ToolOutput(f"not run: calling {call.name} needs a person's approval and nobody was there to give "
                          "it (no terminal); the user can run chinwag with --yes to approve tool calls.",
                          "denied", "denied: no terminal to ask (--yes approves)")
    reason = decision.reason_from_user
    content = f"denied by the user: {reason}" if reason else "denied by the user (no reason given)"
    return ToolOutput(content, "denied", one_line("denied" + (f": {reason}" if reason else "")))
