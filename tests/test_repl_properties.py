"""The chat ends only when the user ends it, whatever is typed, pressed or sent back.

Per-case tests miss the races; these walk at random. The first drives a real
`Repl` over a real `Session` (a real SQLite history in a temp dir, a scripted
server on 127.0.0.1) one input at a time with Hypothesis' state machine:
messages whose replies fail in every way the server can fail, every slash
command with good and bad arguments, Ctrl-C and Ctrl-D at the prompt, in a
`\"\"\"` block and at random instants of a turn. After every step: nothing
escaped, nothing looks like a traceback, the chat is alive unless the user
left, Ctrl-C is the chat's, the reply kept is the reply shown, the model is
sent a well-formed history, and the saved history is what the session holds
(and what `chinwag -c` would bring back).

The second walks the installed `chinwag` in a pseudo-terminal, with real
SIGINTs, and checks the history it leaves against what was on screen.

Knobs: WALK_EXAMPLES and WALK_STEPS (default 40 x 30, about 30 s), and
WALK_SHRINK=1 to have Hypothesis shrink a failing walk (minutes: every step
is real HTTP and SQLite).
"""

from __future__ import annotations

import codecs
import os
import random
import re
import shutil
import signal
import tempfile
import termios
import threading
import time
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import Any

import pexpect
import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule, run_state_machine_as_test

from chinwag.cli.commands import COMMANDS
from chinwag.cli.reader import Leave, LineReader
from chinwag.cli.repl import QUIT_WORDS, Repl, wants_to_leave
from chinwag.config import resolve
from chinwag.errors import ChinwagError
from chinwag.events import Event
from chinwag.paths import database_file
from chinwag.records import Reply as ChatReply
from chinwag.session import Session, open_session
from chinwag.history.store import CANCELLED_QUESTION, Store
from tests.cli_helpers import anthropic_env, spawn_chinwag
from tests.fakes.reply import Reply
from tests.fakes.server import ScriptedServer

TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^\s*File \"|internal error", re.I | re.M)
SETTLE_S = 5.0  # longest wait for the history's writer to catch up after a turn

# -- what the user types ------------------------------------------------------

WORDS = ["hello", "Ada", "CPU", "naïve", "日本語", "🙂", "x"]
texts = st.one_of(
    st.sampled_from(WORDS),
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40),
    st.text(" \t", min_size=1, max_size=3).map(lambda s: s + "."),  # empty-ish
    st.builds(lambda w, n: (w + " ") * n, st.sampled_from(WORDS), st.integers(500, 3000)),  # very long
    st.sampled_from(["quit?", "exit now", "/", "// not a command", "\x1b[2J", "a\x00b", "  padded  "]),
    st.just("caf\udce9 au lait"),  # what input() returns for bytes that are not UTF-8 (surrogateescape)
)


class Key:
    """A key the reader's `read` function raises instead of returning a line."""

    EOF = EOFError  # Ctrl-D
    INT = KeyboardInterrupt  # Ctrl-C


block_lines = st.lists(texts, max_size=3)
at_the_prompt = st.one_of(
    st.just([Key.EOF]),
    st.just([Key.INT, Key.INT]),
    st.builds(lambda line: [Key.INT, line], texts),
    st.builds(lambda lines: ['"""', *lines, '"""'], block_lines),
    st.builds(lambda lines: ['"""', *lines, Key.EOF], block_lines),  # Ctrl-D sends the block
    st.builds(lambda lines, then: ['"""', *lines, Key.INT, then], block_lines, texts),  # Ctrl-C drops it
    st.builds(lambda lines, then: [Key.INT, '"""', *lines, Key.INT, Key.INT], block_lines, texts),
    st.sampled_from([["quit"], ["EXIT"], ["/quit"], [":q"]]),
)

# -- what the server sends back ------------------------------------------------

chunk_lists = st.lists(st.sampled_from(["Hel", "lo", " there", "！", "日本", " 🙂", "\n\n", "- item\n", "`code`", "."]),
                       min_size=1, max_size=8)


@dataclass(frozen=True)
class Answer:
    """One scripted server reply, shown briefly when Hypothesis prints a failing walk."""

    chunks: tuple[str, ...] = ("Hello", "!")
    fault: str = "ok"
    n: int = 0  # the fault's chunk count, or its delay in ms

    def __repr__(self) -> str:
        return f"Answer({list(self.chunks)!r}, {self.fault!r}, {self.n})"

    def reply(self) -> Reply:
        chunks, n, fast_retry = list(self.chunks), self.n, {"retry-after-ms": str(self.n)}
        return {
            "ok": lambda: Reply(chunks=chunks),
            "529": lambda: Reply(status=529, headers=fast_retry),
            "429": lambda: Reply(status=429, headers=fast_retry),
            "500": lambda: Reply(status=500, headers=fast_retry),
            "401": lambda: Reply(status=401),
            "400": lambda: Reply(status=400),
            "drop": lambda: Reply(chunks=chunks, drop_after=min(n, len(chunks))),
            "error": lambda: Reply(chunks=chunks, error_after=min(n, len(chunks))),
            "malformed": lambda: Reply(chunks=chunks, malformed_after=min(n, len(chunks))),
            "no_stop": lambda: Reply(chunks=chunks, no_stop=True),
            "slow_first": lambda: Reply(chunks=chunks, delay_first_byte=n / 1000),
            "slow_chunks": lambda: Reply(chunks=chunks, chunk_delay=n / 1000),
            "hang_up": lambda: Reply(hang_up=True),
        }[self.fault]()


FAULTS = ["ok", "ok", "529", "429", "500", "401", "400", "drop", "error", "malformed", "no_stop", "slow_first",
          "slow_chunks", "hang_up"]
answer = st.builds(Answer, chunk_lists.map(tuple), st.sampled_from(FAULTS), st.integers(0, 20))
# The server's answers for one step: one reply, or a failure and what follows it.
replies = st.lists(answer, min_size=1, max_size=3)


@dataclass(frozen=True)
class Interrupt:
    """Where a Ctrl-C lands during a step: a sink's start or end, just before
    or after it shows its N-th event, or at a random instant (a real SIGINT
    from another thread)."""

    where: str  # "start", "before", "event", "end", "timer"
    n: int = 0
    after_s: float = 0.0


interrupts = st.one_of(
    st.none(), st.none(), st.none(),
    st.builds(Interrupt, st.sampled_from(["event", "before"]), st.integers(0, 6)),
    st.builds(Interrupt, st.sampled_from(["start", "end"])),
    st.builds(Interrupt, st.just("timer"), after_s=st.floats(0, 0.08)),
)


# -- the commands, with good and bad arguments ---------------------------------

def command_lines() -> st.SearchStrategy[str]:
    """Lines starting with "/"; `{tmp}` stands for the walk's temp dir."""
    tmp = Path("{tmp}")
    good_models = ["anthropic:claude-sonnet-4-20250514", "anthropic:claude-x", "claude-3-5-haiku-20241022",
                   "anthropic:"]
    either = ["openai:gpt-4o-mini", "openai:"]  # good when OPENAI_BASE_URL is set, else bad (no key)
    bad_models = ["local:/missing.gguf", "nonsense", "missing.gguf", "anth"] + either
    arguments = {
        "/help": st.sampled_from(["", "me"]),
        "/retry": st.sampled_from(["", "now"]),
        "/continue": st.sampled_from(["", "please"]),
        "/model": st.one_of(st.just(""), st.sampled_from(good_models), st.sampled_from(bad_models), texts),
        "/system": st.one_of(st.just(""), texts),
        "/new": st.sampled_from(["", "x"]),
        "/history": st.one_of(
            st.sampled_from(["", "list", "show 1", "show zzz", "show last", "show -1", "show 99999999999999999999",
                             "search hello", "search 日本", 'search "unclosed', "search", "export 1 --format md",
                             "export 1 --format json", "delete 1", "nonsense", "--help", "show"]),
            texts.map(lambda t: "search " + t)),
        "/save": st.one_of(st.sampled_from(["", str(tmp), str(tmp / "missing" / "x.md"), "/dev/full", "a\x00b",
                                            "~nobody-here/x.md"]),
                           st.builds(lambda n: str(tmp / f"chat{n}.md"), st.integers(0, 3))),
        "/copy": st.just(""),
        "/stats": st.sampled_from(["", "all"]),
        # The branch commands (numbers as /tree shows them; a walk's conversations are short).
        "/edit": st.sampled_from(["", "1", "2", "3", "5", "999", "x", "-1", "0", "99999999999999999999"]),
        "/switch": st.sampled_from(["", "1", "2", "3", "4", "6", "999", "zz", "0"]),
        "/undo": st.sampled_from(["", "now"]),
        "/tree": st.sampled_from(["", "x"]),
        "/fork": st.sampled_from(["", "x"]),
    }
    names = [c.name for c in COMMANDS if c.name != "/exit"]
    aliases = [a for c in COMMANDS for a in c.aliases if a.startswith("/") and a not in QUIT_WORDS]
    any_argument = st.one_of(st.just(""), texts)  # a command this walk has no special arguments for
    known = st.sampled_from(names + aliases).flatmap(
        lambda name: arguments.get(name, any_argument).map(lambda arg: f"{name} {arg}".rstrip()))
    unknown = st.one_of(st.sampled_from(["/retyr", "/HELP", "/Model", "/ x", "/history\tlist"]),
                        texts.map(lambda t: "/" + t))
    return st.one_of(known, known, known, unknown)


commands = command_lines()


# -- the harness around a Repl ---------------------------------------------------

class ScriptedInput:
    """The reader's `read`: returns the scripted lines, raises the scripted keys."""

    def __init__(self) -> None:
        self.queue: list[Any] = []
        self.prompts: list[str] = []

    def __call__(self, prompt: str) -> str:
        self.prompts.append(prompt)
        assert self.queue, "the reader asked for more input than the step scripted"
        item = self.queue.pop(0)
        if isinstance(item, type) and issubclass(item, BaseException):
            raise item()
        return str(item)


class Screen(StringIO):
    """Output that is not a terminal (plain text, no spinner)."""

    def isatty(self) -> bool:
        return False


class InterruptingSink:
    """Wraps the REPL's terminal sink and presses Ctrl-C (a real SIGINT) where told."""

    def __init__(self, inner: Any, plan: Interrupt | None, fired: list[str]) -> None:
        self.inner, self.plan, self.fired, self.events = inner, plan, fired, 0

    def _maybe(self, where: str) -> None:
        if self.plan is not None and self.plan.where == where and not self.fired:
            if where not in ("event", "before") or self.events == self.plan.n:
                self.fired.append(where)
                signal.raise_signal(signal.SIGINT)

    def on_start(self) -> None:
        self.inner.on_start()
        self._maybe("start")

    def on_event(self, event: Event, reply: ChatReply) -> None:
        self._maybe("before")  # the event is in the reply, not yet on the screen
        self.inner.on_event(event, reply)
        self._maybe("event")
        self.events += 1

    def on_end(self, reply: ChatReply) -> None:
        self._maybe("end")
        self.inner.on_end(reply)


@dataclass
class Walk:
    sequences: int = 0
    steps: int = 0
    turns: int = 0
    commands: int = 0
    interrupts: int = 0
    leaves: int = 0
    edge_interrupts: int = 0  # Ctrl-C after handle() returned, caught as run() catches it
    tree_moves: int = 0  # branch commands that moved the conversation (their paths checked)
    paths_checked: int = 0  # requests checked to carry exactly the current path


WALK = Walk()


class ReplMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="chinwag-walk-"))
        self.server = ScriptedServer().start()
        self.input = ScriptedInput()
        self.session: Session | None = None
        self.guarding: Any = None
        self.repl: Repl | None = None
        self.out, self.err = Screen(), Screen()
        self.plan: Interrupt | None = None
        self.fired: list[str] = []
        self.left = False
        self.deleted = False  # the user deleted a saved conversation: the history no longer matches, rightly
        self.seen_requests = 0
        WALK.sequences += 1

    # -- set-up and tear-down ---------------------------------------------------

    @initialize(openai=st.booleans())
    def launch(self, openai: bool) -> None:
        self.environ = {"ANTHROPIC_API_KEY": "test-key", "ANTHROPIC_BASE_URL": self.server.base_url,
                        "CHINWAG_HOME": str(self.tmp / "home")}
        if openai:
            self.environ["OPENAI_BASE_URL"] = self.server.base_url + "/v1"
        self._open(continue_last=False)

    def _open(self, continue_last: bool) -> None:
        """Start chinwag (again): a new Session and Repl, as `chinwag [-c]` does."""
        flags = {"model": None}
        settings_ = resolve(self.environ, self.tmp, flags)
        self.session = open_session(settings_, self.environ, continue_last=continue_last)
        self.out, self.err = Screen(), Screen()
        reader = LineReader(self.out, read=self.input, guard=self.session.guard)
        self.repl = Repl(self.session, self.out, self.err, color=False, environ=self.environ, cwd=self.tmp,
                         flags=flags, reader=reader)
        inner_sink = self.repl.sink
        self.repl.sink = lambda: InterruptingSink(inner_sink(), self.plan, self.fired)  # type: ignore[method-assign]
        self.repl._start_warm_up()  # the history opens while the first message is typed, as in run()
        self.guarding = self.session.guard.guarded()  # run() holds the guard for the chat's whole life
        self.guarding.__enter__()
        self.left = False

    def _close(self) -> None:
        """chinwag exits: run() returns (the guard gives SIGINT back), then the session closes."""
        assert self.session is not None
        if self.guarding is not None:
            guarding, self.guarding = self.guarding, None
            guarding.__exit__(None, None, None)
        self.session.close()

    def teardown(self) -> None:
        try:
            if self.session is not None:
                self._close()
        finally:
            self.server.stop()
            shutil.rmtree(self.tmp, ignore_errors=True)

    # -- one step: what the user does at `You:` ----------------------------------

    def _step(self, keys: list[Any], answers: list[Answer], plan: Interrupt | None,
              later: tuple[str, ...] = ()) -> None:
        """One line read at `You:` from `keys`, then handled; `later` is what the
        user types if the command asks for a line (/edit's input line)."""
        assert self.repl is not None
        WALK.steps += 1
        self.server.enqueue(*(a.reply() for a in answers))
        self.input.queue = list(keys)
        self.plan, self.fired = plan, []
        self.out.seek(0), self.out.truncate()
        self.err.seek(0), self.err.truncate()
        line = self.repl.reader.read()
        self.input.queue = list(later)  # what the user had not typed yet: never typed
        if isinstance(line, Leave) or wants_to_leave(line):
            WALK.leaves += 1
            self.left = True
            self.exit_code = line.exit_code if isinstance(line, Leave) else 0
            assert not isinstance(line, Leave) or any(k is Key.EOF for k in keys) or keys.count(Key.INT) >= 2
            return
        if line.startswith("/"):
            WALK.commands += 1
        else:
            WALK.turns += 1
        assert self.session is not None
        before, messages = self.session.last_reply, self.session.conversation.messages
        prefill = messages[-1].content.rstrip() if messages and messages[-1].role == "assistant" else ""
        self._handle(line, plan)
        self.input.queue.clear()
        reply = self.session.last_reply
        if reply is not None and reply is not before and reply.text:
            # What the session keeps of the reply is what was on the screen (a
            # /continue shows only what follows the partial reply).
            shown = reply.text[len(prefill):] if line.startswith("/continue") else reply.text
            assert shown in self.out.getvalue(), (
                f"the reply kept is not the reply shown: kept {reply.text!r}, screen {self.out.getvalue()!r}")
        with self.server._cond:  # replies the step did not ask for are not the next step's
            self.server._queue.clear()

    def _handle(self, line: str, plan: Interrupt | None) -> None:
        assert self.repl is not None
        timer = None
        if plan is not None and plan.where == "timer":
            main = threading.main_thread().ident
            assert main is not None
            timer = threading.Timer(plan.after_s, lambda: (self.fired.append("timer"),
                                                           signal.pthread_kill(main, signal.SIGINT)))
        try:
            try:
                if timer is not None:
                    timer.start()
                self.repl.handle(line)
            finally:
                if timer is not None:
                    timer.cancel()
                    timer.join()
                    time.sleep(0.002)  # a SIGINT sent just now is handled here
        except KeyboardInterrupt:
            # Only a real SIGINT in the instant after handle() is done may land
            # here; run() catches that one the same way.
            assert timer is not None, f"Ctrl-C escaped handle({line!r})"
            WALK.edge_interrupts += 1
            self.out.write("\n")
        if self.fired:
            WALK.interrupts += 1

    # -- rules ----------------------------------------------------------------

    @precondition(lambda self: not self.left)
    @rule(text=texts, answers=replies, plan=interrupts)
    def send_a_message(self, text: str, answers: list[Answer], plan: Interrupt | None) -> None:
        self._step([text, "fallback line"], answers, plan)

    @precondition(lambda self: not self.left)
    @rule(command=commands, answers=replies, plan=interrupts)
    def run_a_command(self, command: str, answers: list[Answer], plan: Interrupt | None) -> None:
        line = command.replace("{tmp}", str(self.tmp))
        if line.startswith("/history delete"):
            line += " --yes"
            self.deleted = True
        editing = line.split(maxsplit=1)[0].lower() == "/edit"
        self._step([line], answers, plan, later=("an edited question",) if editing else ())

    @precondition(lambda self: not self.left)
    @rule(keys=at_the_prompt, answers=replies, plan=interrupts)
    def press_keys_at_the_prompt(self, keys: list[Any], answers: list[Answer], plan: Interrupt | None) -> None:
        self._step([*keys, "after the keys"], answers, plan)

    @precondition(lambda self: not self.left)
    @rule(answers=replies, plan=interrupts, again=st.sampled_from(["/retry", "/continue"]))
    def ask_again(self, answers: list[Answer], plan: Interrupt | None, again: str) -> None:
        self._step([again], answers, plan)

    @precondition(lambda self: not self.left)
    @rule(text=texts, next_answer=answer, again=st.booleans())
    def cancel_a_question_before_its_reply(self, text: str, next_answer: Answer, again: bool) -> None:
        """Ctrl-C while the server holds back the first token: the question is taken
        back, and the next message goes alone (or /retry asks it again)."""
        assert self.session is not None
        before = self.session.last_reply
        self._step([text, "fallback line"], [Answer(("held",), "slow_first", 5000)], Interrupt("start"))
        reply = self.session.last_reply
        if reply is None or reply is before or not reply.withdrawn:
            return  # the line was a command, or nothing was sent (a blank line)
        assert "cancelled before a reply; not sent again" in self.out.getvalue(), self.out.getvalue()
        withdrawn = self.session.withdrawn
        assert withdrawn is not None and all(m is not withdrawn for m in self.session.conversation.messages)
        # A question that failed (not cancelled) earlier still goes, joined to the next.
        messages = self.session.conversation.messages
        tail = len(messages) - next((i for i, m in enumerate(reversed(messages)) if m.role != "user"), len(messages))
        expected = "\n\n".join([m.content for m in messages[tail:]]
                                + [withdrawn.content if again else "after the cancel"])
        seen = len(self.server.requests)
        self._step(["/retry" if again else "after the cancel"], [next_answer], None)
        sent = [r.json for r in self.server.requests[seen:] if r.method == "POST" and r.json is not None]
        if sent:
            last = sent[0]["messages"][-1]
            content = last["content"] if isinstance(last["content"], str) else "".join(
                part.get("text", "") for part in last["content"])
            assert content == expected, (
                f"after a cancelled question, the server got {content!r}")

    @precondition(lambda self: not self.left)
    @rule(prompt=st.one_of(st.sampled_from(["You are a pirate.", "Réponds en français."]), texts), answers=replies)
    def set_the_system_prompt_then_continue(self, prompt: str, answers: list[Answer]) -> None:
        """`/system`, a question, quit, `chinwag -c`: the new prompt is sent, and sent again after -c."""
        assert self.session is not None
        self._step([f"/system {prompt}"], [], None)
        prompt = self.session.conversation.system or ""  # as the command read it (stripped)
        seen = len(self.server.requests)
        self._step(["under the new prompt"], answers, None)
        for body in (r.json for r in self.server.requests[seen:] if r.method == "POST" and r.json is not None):
            messages = body.get("messages", [])
            system = body.get("system") if "system" in body else next(
                (m["content"] for m in messages if m.get("role") == "system"), None)
            assert system == prompt, f"/system {prompt!r}, but the request said {system!r}"
        self._step(["quit"], [], None)
        self.start_again(continue_last=True)
        if not self.deleted:
            assert self.session.conversation.system == prompt, (
                f"`chinwag -c` brought back {self.session.conversation.system!r}, not {prompt!r}")

    @precondition(lambda self: not self.left)
    @rule(op=st.sampled_from(["/edit", "/edit", "/undo", "/switch", "/switch", "/fork", "/tree"]),
          pick=st.integers(0, 12), text=texts, answers=replies, plan=interrupts, then=texts)
    def move_in_the_tree(self, op: str, pick: int, text: str, answers: list[Answer], plan: Interrupt | None,
                         then: str) -> None:
        """A branch command on a message of this conversation (or, now and then, a number
        that is not in it), then a message: whatever branch the chat is on, the model is
        sent exactly its path, never a message of another branch."""
        assert self.session is not None
        try:  # /edit mostly takes one of your messages (a reply is a bad input, tried now and then)
            numbers = sorted(n.number for n in self.session.tree().nodes.values()
                             if n.question or op != "/edit" or pick % 3 == 0)
        except ChinwagError:  # the history could not be read in time: the command will say so
            numbers = []
        number = numbers[pick % len(numbers)] if numbers and pick < 10 else 900 + pick
        line = op if op in ("/undo", "/fork", "/tree") else f"{op} {number}"
        seen, before = len(self.server.requests), self.session.conversation.messages
        self._step([line], answers, plan, later=(text,) if op == "/edit" else ())
        WALK.tree_moves += self.session.conversation.messages is not before
        self._check_sent_paths(seen)
        seen = len(self.server.requests)
        self._step([then, "fallback line"], [Answer()], None)
        self._check_sent_paths(seen)

    def _check_sent_paths(self, seen: int) -> None:
        """Each request of the step carried the path to the question it asked, as saved."""
        assert self.session is not None and self.session.recorder is not None
        sent = [r for r in self.server.requests[seen:] if r.method == "POST" and r.json is not None]
        reply = self.session.last_reply
        if not sent or self.deleted or reply is None or reply.withdrawn or reply.tool_calls:
            return
        _settle(self.session.recorder)
        cid = self.session.recorder.conversation_id
        store = Store.open(database_file(self.environ), read_only=True)
        try:
            path = store.tree(cid).path() if cid is not None else ()
            question = next((n for n in reversed(path) if n.question), None)
            expected = store.history_for_model(cid, question.id) if cid is not None and question else []
        finally:
            store.close()
        for request in sent:
            WALK.paths_checked += 1
            messages = [m for m in request.json["messages"] if m.get("role") != "system"]
            got = [(m["role"], m["content"] if isinstance(m["content"], str) else
                    "".join(p.get("text", "") for p in m["content"])) for m in messages]
            assert got == expected, f"the model was sent {got}, but the path to the question is {expected}"

    @precondition(lambda self: self.left)
    @rule(continue_last=st.booleans())
    def start_again(self, continue_last: bool) -> None:
        """The user left: chinwag exits (closing the session) and is started again."""
        assert self.session is not None
        self._close()
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler, "the chat left its SIGINT handler behind"
        self._check_history(final=True)
        conversation = list(self.session.conversation.sendable())
        had = self.session.recorder is not None and self.session.recorder.conversation_id is not None
        cid = self.session.recorder.conversation_id if self.session.recorder is not None else None
        try:
            self._open(continue_last=continue_last)
        except Exception as exc:  # noqa: BLE001 - only "nothing to continue" is acceptable
            from chinwag.errors import UsageError

            assert isinstance(exc, UsageError) and continue_last, f"could not start again: {exc!r}"
            self._open(continue_last=False)
            return
        if continue_last and had and not self.deleted:
            assert self.session is not None
            resumed = [(m.role, m.content) for m in self.session.conversation.sendable()]
            expected = [(m.role, m.content) for m in conversation]
            assert resumed == expected, "`chinwag -c` does not bring back the conversation the model saw"

    # -- invariants --------------------------------------------------------------

    @invariant()
    def nothing_looks_like_a_crash(self) -> None:
        for name, stream in (("stdout", self.out), ("stderr", self.err)):
            text = stream.getvalue()
            assert not TRACEBACK.search(text), f"{name} shows a crash:\n{text}"
        for line in self.err.getvalue().splitlines():
            assert line.startswith("chinwag: ") or not line.strip(), f"stderr line is not one chinwag line: {line!r}"

    @invariant()
    def ctrl_c_is_the_chats(self) -> None:
        if self.session is not None and self.guarding is not None:
            assert signal.getsignal(signal.SIGINT) == self.session.guard._on_sigint, "the chat lost its SIGINT handler"

    @invariant()
    def the_model_is_sent_a_well_formed_history(self) -> None:
        requests = self.server.requests
        # (A request Ctrl-C cut off while it was being sent has no JSON body to check.)
        for request in (r for r in requests[self.seen_requests:] if r.method == "POST" and r.json is not None):
            body = request.json or {}
            messages = body.get("messages", [])
            if "/chat/completions" in request.path:
                messages = [m for m in messages if m.get("role") != "system"]
            roles = [m["role"] for m in messages]
            assert roles and roles[0] == "user", f"request does not start with a user message: {request.path} {body}"
            assert all(a != b for a, b in zip(roles, roles[1:])), f"roles do not alternate: {roles}"
            assert all(str(m["content"]).strip() for m in messages[:-1]), f"an empty message was sent: {messages}"
        self.seen_requests = len(requests)

    @invariant()
    def history_matches_the_session(self) -> None:
        if self.session is not None and not self.left:
            self._check_history(final=False)

    def _check_history(self, final: bool) -> None:
        assert self.session is not None
        recorder = self.session.recorder
        assert recorder is not None
        if not final:
            _settle(recorder)
        cid = recorder.conversation_id
        if self.deleted:
            return
        conversation = self.session.conversation
        shown = _groups([(m.role, m.content) for m in conversation.messages])
        if cid is None:
            assert not shown, "messages were sent but no conversation was saved"
            return
        db = database_file(self.environ)
        store = Store.open(db, read_only=True)
        try:
            rows = store.path_messages(cid)  # the current branch: the others are no part of the chat now
            sendable = store.history_for_model(cid)
        finally:
            store.close()
        left = [(m.content, m.status) for m in rows if m.role == "assistant" and m.status == "streaming"]
        assert not left, f"a reply that has ended is still saved as streaming: {left}"
        saved = _groups([(m.role, m.content) for m in _not_cancelled(rows)])
        assert saved == shown, f"saved history differs from the session's:\n saved {saved}\n shown {shown}"
        assert sendable == [(m.role, m.content) for m in conversation.sendable()], (
            "the history a resumed chat would send differs from what this one sends")


def _groups(messages: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(user message, the reply that stands for it): a reply is its last attempt
    (a /retry replaces it), and a user message whose turn left no reply joins
    the next one, as they are sent (and as `chinwag -c` brings them back)."""
    groups: list[list[str]] = []
    for role, text in messages:
        if role == "user":
            if groups and not groups[-1][1]:
                groups[-1][0] += "\n\n" + text
            else:
                groups.append([text, ""])
        elif groups:
            groups[-1][1] = text if text.strip() else ""  # blank is no reply (never sent back)
    return [(user, reply) for user, reply in groups]


def _not_cancelled(rows: list[Any]) -> list[Any]:
    """The saved rows without the questions cancelled before any reply (and the
    empty replies their turns left): kept in the history, never sent again."""
    kept, cancelled = [], False
    for m in rows:
        if m.role == "user":
            cancelled = m.status == CANCELLED_QUESTION
        if not cancelled:
            kept.append(m)
    return kept


def _settle(recorder: Any) -> None:
    """Wait until the recorder has written everything queued (its writer
    thread may hold the final save of a turn for a moment)."""
    deadline = time.monotonic() + SETTLE_S
    while True:
        if recorder.settled():
            return
        assert time.monotonic() < deadline, "the history did not catch up"
        time.sleep(0.005)


def test_the_chat_survives_a_random_walk_of_inputs_and_faults(capsys: pytest.CaptureFixture[str]) -> None:
    started = time.monotonic()
    run_state_machine_as_test(ReplMachine, settings=settings(
        # Shrinking a failing walk takes minutes here (each step is real I/O): on request only.
        phases=[Phase.explicit, Phase.generate] + ([Phase.shrink] if os.environ.get("WALK_SHRINK") else []),
        # In CI (CI=true) the same walks every run, as Hypothesis advises for CI; run
        # locally, new ones each time: that is where new bugs are found.
        derandomize=bool(os.environ.get("CI")),
        database=None, max_examples=int(os.environ.get("WALK_EXAMPLES", 40)),
        stateful_step_count=int(os.environ.get("WALK_STEPS", 30)), deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]))
    with capsys.disabled():
        print(f"\nrandom walk: {WALK.sequences} sequences, {WALK.steps} steps ({WALK.turns} turns, "
              f"{WALK.commands} commands, {WALK.interrupts} Ctrl-C mid-step, {WALK.edge_interrupts} after "
              f"handle, {WALK.leaves} leaves; {WALK.tree_moves} moves to another branch, {WALK.paths_checked}"
              f" requests checked to carry the path) in {time.monotonic() - started:.1f} s")


# -- the installed program in a pseudo-terminal -----------------------------------

PTY_STEPS = 40
PTY_SEEDS = (20261130, 7)  # about 20 s each
TOKEN = re.compile(r"r(\d+)c(\d+)")
PTY_COMMANDS = ["/help", "/stats", "/history", "/history search r1c0", "/history show 1", "/history show zzz",
                "/model", "/model nonsense", "/model local:/missing.gguf", "/model anthropic:claude-x",
                "/system Be brief.", "/retry", "/continue", "/new", "/retyr", "/save --force {tmp}/chat.md", "/save {tmp}",
                "/copy", "/history show last", '/history search "unclosed',
                # The branch commands whose output the walk can wait for (/edit N of a question
                # asks for a line; /fork copies messages, which the saved-order check would count twice).
                "/tree", "/undo", "/switch 1", "/switch 3", "/switch 999", "/edit 999", "/edit x"]


class PtyWalk:
    """One seeded walk through the real `chinwag`: what was typed and scripted, what the screen showed."""

    def __init__(self, server: ScriptedServer, tmp: Path, seed: int) -> None:
        self.server, self.tmp, self.rng, self.seed = server, tmp, random.Random(seed), seed
        self.env = anthropic_env(tmp, server.base_url)
        self.child = spawn_chinwag(["--render", "plain"], self.env, timeout=15)
        self.child._decoder = codecs.getincrementaldecoder("utf-8")("replace")  # it echoes what is pasted
        # A terminal emulator drains the output as it comes; we read it only in
        # expect(). NOFLSH keeps the ^C from discarding what waits to be read.
        attrs = termios.tcgetattr(self.child.child_fd)
        attrs[3] |= termios.NOFLSH
        termios.tcsetattr(self.child.child_fd, termios.TCSANOW, attrs)
        self.child.expect("You: ")
        self.screen = ""  # everything the program wrote, as the terminal got it
        self.typed: list[str] = []  # user messages typed, in order
        self.scripted: dict[int, list[str]] = {}  # reply number -> its chunks
        self.replies = 0
        self.log: list[str] = []  # the walk, for the failure message
        self.prompt_ctrl_c = False  # the last step may have left a Ctrl-C hint at `You:`
        self.pressed = False  # Ctrl-C was pressed in this step

    # Each scripted reply's chunks are tagged "r<reply>c<chunk>", so the screen
    # and the history say which chunks of which reply they hold.
    def _reply(self) -> Reply:
        self.replies += 1
        j, n = self.replies, self.rng.randint(2, 6)
        chunks = [f"r{j}c{k} " for k in range(n)]
        self.scripted[j] = chunks
        fault = self.rng.choice(["ok", "ok", "ok", "drop", "error", "529", "500", "no_stop", "malformed"])
        delay = self.rng.choice([0.0, 0.02, 0.05])
        cut = self.rng.randint(0, n)
        return {
            "ok": Reply(chunks=chunks, chunk_delay=delay),
            "drop": Reply(chunks=chunks, chunk_delay=delay, drop_after=cut),
            "error": Reply(chunks=chunks, chunk_delay=delay, error_after=cut),
            "529": Reply(status=529, headers={"retry-after-ms": "5"}),
            "500": Reply(status=500, headers={"retry-after-ms": "5"}),
            "no_stop": Reply(chunks=chunks, chunk_delay=delay, no_stop=True),
            "malformed": Reply(chunks=chunks, chunk_delay=delay, malformed_after=cut),
        }[fault]

    def _enqueue(self) -> list[int]:
        first = self._reply()
        answers = [first]
        if first.status != 200:  # a failure before the first token is retried: script what follows
            answers.append(self._reply())
        self.server.enqueue(*answers)
        return list(range(self.replies - len(answers) + 1, self.replies + 1))

    def _expect(self, pattern: Any, timeout: float | None = None) -> int:
        """child.expect, keeping everything that went by in `screen`."""
        index = self.child.expect(pattern, timeout=-1 if timeout is None else timeout)
        after = self.child.after if isinstance(self.child.after, str) else ""
        self.screen += str(self.child.before) + after
        if self.child.after is pexpect.TIMEOUT:  # pexpect keeps what it read for the next expect: drop it
            self.child._before = self.child.buffer_type()
            self.child.buffer = self.child.string_type()
        return int(index)

    def _read(self) -> None:
        """Wait for `You:` again; the chat must still be there."""
        try:
            self._expect("You: ")
            if self.pressed:
                # A Ctrl-C that reached `You:` is seen by readline only at the next key:
                # Enter brings its hint out, a second Enter (an empty line is nothing)
                # starts the count of presses at the prompt afresh.
                for _ in range(2):
                    time.sleep(0.2)
                    self.child.send("\r")
                    self._expect(pexpect.TIMEOUT, timeout=0.3)
                assert self.screen.endswith("You: "), f"no prompt after {self.log[-3:]}: {self.screen[-800:]}"
                self.pressed = False
        except (pexpect.EOF, pexpect.TIMEOUT) as exc:
            self.screen += str(self.child.before)
            raise AssertionError(f"no prompt after {self.log[-3:]}: {type(exc).__name__}\n{self.screen[-1500:]}")
        self.prompt_ctrl_c = self.log[-1] == "^C at You:"  # its hint is out: one more would leave

    def step(self, i: int) -> None:
        self.step_start = len(self.screen)
        with self.server._cond:  # replies an earlier step did not use are not this one's
            self.server._queue.clear()
        kinds = ["message"] * 5 + ["command"] * 3 + ["block", "latin1_paste", "paste"] + (
            [] if self.prompt_ctrl_c else ["ctrl_c_idle"])
        kind = self.rng.choice(kinds)
        if kind == "message":
            self._message(f"m{i} {self.rng.choice(WORDS)}")
        elif kind == "block":
            self._block(i)
        elif kind == "latin1_paste":  # a bracketed paste of Latin-1 bytes: they arrive as U+FFFD
            tags = self._enqueue()
            self.typed.append(f"p{i} caf\ufffd au lait")
            self.log.append(f"p{i} caf\\xe9 au lait (pasted)")
            os.write(self.child.child_fd, f"\x1b[200~p{i} caf".encode() + b"\xe9 au lait\x1b[201~\r")
            self._maybe_interrupt(tags)
        elif kind == "paste":  # a block pasted as a terminal sends it (readline asked for bracketed paste)
            tags = self._enqueue()
            lines = [f"q{i} line {n}" for n in range(self.rng.randint(2, 40))]
            self.typed.append("\n".join(lines))
            self.log.append(f"q{i} paste of {len(lines)} lines")
            self.child.send("\x1b[200~" + "\n".join(lines) + "\n\x1b[201~")
            time.sleep(0.05)
            self.child.send("\r")
            self._maybe_interrupt(tags)
        elif kind == "command":
            line = self.rng.choice(PTY_COMMANDS).format(tmp=self.tmp)
            self.log.append(line)
            if line in ("/retry", "/continue"):
                tags = self._enqueue()
                self.child.sendline(line)
                self._maybe_interrupt(tags)
            else:
                self.child.sendline(line)
                if line.startswith(("/history show", "/tree", "/switch")):  # "You: ..." lines: wait for quiet
                    self._expect(pexpect.TIMEOUT, timeout=0.5)
                    assert self.screen.endswith("You: "), f"no prompt after {line}: {self.screen[-500:]}"
                    self.prompt_ctrl_c = False
                    return
        else:
            self.log.append("^C at You:")
            time.sleep(0.3)  # readline sees a SIGINT only once it waits for keys
            self.child.sendintr()
        self._read()

    def _message(self, text: str) -> None:
        tags = self._enqueue()
        self.typed.append(text)
        self.log.append(text)
        self.child.sendline(text)
        self._maybe_interrupt(tags)

    def _block(self, i: int) -> None:
        """A \"\"\" block ended by Ctrl-D: it is sent."""
        tags = self._enqueue()
        lines = [f"b{i} one", f"b{i} two"]
        self.typed.append("\n".join(lines))
        self.log.append(f'""" {lines} ^D')
        self.child.sendline('"""')
        for line in lines:
            self._expect(r"\.\.\. ")
            self.child.sendline(line)
        self._expect(r"\.\.\. ")
        self.child.sendeof()
        self._maybe_interrupt(tags)

    def _maybe_interrupt(self, tags: list[int]) -> None:
        """Ctrl-C, or not: as the turn starts (its label is out, the request may
        not be), while the reply streams, or just as its last chunk is shown.
        (Not while the line is being typed: readline then sees the press only
        at the next key, a CPython limitation.)"""
        when = self.rng.choice(["none", "none", "sent", "streaming", "end"])
        self.log[-1] += f" [{when}] replies {tags}"
        if when == "none":
            return
        chunks = self.scripted[tags[-1]]
        mark = {"sent": "Claude: ", "streaming": chunks[0].strip(), "end": chunks[-1].strip()}[when]
        if self._expect([mark, "You: "]) == 1:  # the turn ended before that point: nothing to interrupt
            self.child.sendline("/stats")
            return
        self.pressed = True
        self.child.sendintr()

    def finish(self) -> int:
        """Leave: `quit` (0), or, for odd seeds, close the terminal at the prompt (SIGHUP: 129)."""
        if self.seed % 2:
            self.log.append("terminal closed")
            self._expect(pexpect.TIMEOUT, timeout=0.3)
            self.child.ptyproc.fileobj.close()
            deadline = time.monotonic() + 30  # a chat that hangs at exit fails here, not the whole run
            while time.monotonic() < deadline:
                pid, status = os.waitpid(self.child.pid, os.WNOHANG)
                if pid:
                    return os.waitstatus_to_exitcode(status)
                time.sleep(0.05)
            os.kill(self.child.pid, signal.SIGKILL)
            os.waitpid(self.child.pid, 0)
            raise AssertionError("chinwag did not exit within 30 s of its terminal closing")
        self.child.sendline("quit")
        self.child.expect(pexpect.EOF)
        self.screen += str(self.child.before)
        self.child.close()
        return self.child.exitstatus if self.child.exitstatus is not None else 128 + (self.child.signalstatus or 0)


def _shown_counts(screen: str) -> dict[int, int]:
    """For each scripted reply, how many of its chunks reached the screen."""
    counts: dict[int, int] = {}
    for j, k in TOKEN.findall(screen):
        counts[int(j)] = max(counts.get(int(j), 0), int(k) + 1)
    return counts


@pytest.mark.parametrize("seed", PTY_SEEDS)
def test_the_installed_chat_survives_a_random_walk_in_a_terminal(scripted_server: ScriptedServer,
                                                                 tmp_path: Path, seed: int) -> None:
    started = time.monotonic()
    walk = PtyWalk(scripted_server, tmp_path, seed)
    for i in range(PTY_STEPS):
        walk.step(i)
        assert walk.child.isalive(), f"chinwag ended after {walk.log[-3:]}"
    code = walk.finish()
    assert "Traceback" not in walk.screen, walk.screen[walk.screen.index("Traceback") - 500:][:3000]
    assert code == (129 if walk.log[-1] == "terminal closed" else 0), f"{walk.log[-1]} gave exit code {code}"

    store = Store.open(database_file(walk.env), read_only=True)
    try:
        rows = [m for c in sorted(store.list_conversations(limit=1000), key=lambda c: c.id)
                for m in store.messages(c.id)]
    finally:
        store.close()
    saved_users = [m.content for m in rows if m.role == "user"]
    received = [r.json["messages"][-1]["content"] for r in scripted_server.requests
                if r.json is not None and r.json["messages"][-1]["role"] == "user"]  # (not one Ctrl-C cut short)
    history = f"walk: {walk.log}\nsaved: {[(m.role, m.content, m.status) for m in rows]}"
    # Every message the server got was saved first; nothing saved was not typed; the order is kept.
    for text in received:
        assert any(text == u or text.endswith("\n\n" + u) for u in saved_users) or text in saved_users, (
            f"the server got {text!r} but it is not in the history\n{history}")
    # (A Ctrl-C pressed as a line is typed may send the part readline had: a prefix.)
    it = iter(walk.typed)
    assert all(any(t.startswith(u) for t in it) for u in saved_users), (
        f"saved user messages not in typed order\n{history}")
    assert not [m for m in rows if m.status == "streaming"], f"a reply was left 'streaming' after quit\n{history}"
    # Each saved reply holds, for each scripted reply in it, exactly the chunks that were shown.
    shown = _shown_counts(walk.screen)
    for m in (m for m in rows if m.role == "assistant"):
        tokens = [(int(j), int(k)) for j, k in TOKEN.findall(m.content)]
        for j in {j for j, _ in tokens}:
            ks = [k for jj, k in tokens if jj == j]
            assert ks == list(range(len(ks))), f"reply {j} saved out of order: {m.content!r}\n{history}"
            assert len(ks) == shown.get(j, 0), (
                f"reply {j}: {shown.get(j, 0)} chunks shown, {len(ks)} saved ({m.content!r}, {m.status})\n{history}")
    runtime = time.monotonic() - started
    print(f"\nterminal walk: {PTY_STEPS} steps, {walk.replies} scripted replies, {len(scripted_server.requests)}"
          f" requests, {sum('paste of' in e for e in walk.log)} pastes, ended by {walk.log[-1]!r}, {runtime:.1f} s")


def test_a_ctrl_c_that_lands_in_a_finalizer_is_kept_not_printed(capsys: pytest.CaptureFixture[str]) -> None:
    """The terminal walk pressed Ctrl-C as httpx closed a dropped generator:
    Python printed "Exception ignored ... Traceback ... KeyboardInterrupt"."""
    from chinwag.interrupts import InterruptGuard

    class Finalized:
        def __del__(self) -> None:
            raise KeyboardInterrupt  # as the SIGINT handler does when the press lands here

    guard = InterruptGuard()
    with guard.guarded():
        Finalized()  # dropped at once
        with pytest.raises(KeyboardInterrupt), guard.allowed():
            pass  # the press is delivered here, where it can stop the turn
    assert "Traceback" not in capsys.readouterr().err
