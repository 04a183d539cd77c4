"""A Ctrl-C that no wait of the main thread sees is handled at once all the same (wakeup.py).

CPython runs a signal's handler in the main thread when a wait there is
interrupted, or at its next bytecode. A press that lands while that thread
is in C code just before it blocks (readline between echoing a key and its
select(); the network layer between chunks), or that the kernel hands to
another thread, interrupts nothing: the handler waited for the next key or
the server's next byte.

The presses here are real SIGINTs handed to another thread (pthread_kill,
tgkill): the kernel delivers a process's signal there when the main thread
has another pending or blocks signals for a moment, and for the main thread
it is the same as a press just before it blocked: its wait is not
interrupted. The hang guards (10 s, 20 s) only end a test that would
otherwise wait forever; the kicks come within 2.5 s.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pexpect
import pytest

from chinwag.interrupts import InterruptGuard, kicker
from chinwag.wakeup import KICK
from tests.cli_helpers import anthropic_env, leave_chat, start_chat
from tests.fakes.reply import Reply
from tests.fakes.server import ScriptedServer
from tests.procs import wait_until_reading_keys


def test_a_press_another_thread_took_stops_the_main_threads_wait() -> None:
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the guard takes SIGINT only from it
    guard = InterruptGuard()
    read, write = os.pipe()
    woken_by_hang_guard = threading.Event()

    def hang_guard() -> None:
        woken_by_hang_guard.set()
        os.write(write, b"x")

    ends_it = threading.Timer(10, hang_guard)
    presses = threading.Timer(0.2, lambda: signal.pthread_kill(threading.get_ident(), signal.SIGINT))
    try:
        ends_it.start()
        presses.start()
        with pytest.raises(KeyboardInterrupt), guard.guarded(), guard.allowed():
            os.read(read, 1)  # a pipe no one writes to: a wait only a signal ends
        assert not woken_by_hang_guard.is_set(), "the press was handled only when the wait ended by itself"
    finally:
        ends_it.cancel()
        presses.join()
        os.close(read)
        os.close(write)
    assert signal.getsignal(KICK) is signal.SIG_DFL  # as it was: a late kick is ignored
    assert signal.set_wakeup_fd(-1) == -1  # the wakeup fd is no one's again


def test_ctrl_c_at_the_prompt_that_another_thread_took_is_seen_at_once(
        scripted_server: ScriptedServer, tmp_path: Path) -> None:
    """The installed chat at `You:`: a SIGINT handed to a thread other than the
    main one shows the hint now, not at the next key."""
    scripted_server.enqueue(Reply(chunks=["Hello!"]))
    child = start_chat(anthropic_env(tmp_path, scripted_server.base_url))
    child.sendline("Hi")
    child.expect("Hello!")
    child.expect("You: ")
    wait_until_reading_keys(child.pid)
    others = [int(task) for task in os.listdir(f"/proc/{child.pid}/task") if int(task) != child.pid]
    assert others, "the chat has no thread besides the main one"
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.tgkill(child.pid, others[0], signal.SIGINT) == 0, os.strerror(ctypes.get_errno())
    child.expect("press Ctrl-C again", timeout=20)
    leave_chat(child)


PRESS_IN_A_HOOK = r"""
import os, signal, sys
from chinwag.cli.reader import Leave, LineReader, set_up_line_editing
from chinwag.interrupts import InterruptGuard, kicker

guard = InterruptGuard()
def first_prompt_drawn():  # readline's pre-input hook: a Ctrl-C lands while it runs
    os.kill(os.getpid(), signal.SIGINT)
set_up_line_editing(None, lambda text, state: None, first_prompt_drawn, guard)
reader = LineReader(sys.stdout, guard=guard)
with guard.guarded():
    print("read:", reader.read())
"""


def test_ctrl_c_while_readline_runs_a_hook_is_not_lost() -> None:
    """readline drops what its callbacks raise: a press raised in one was lost,
    and, the guard counting it as used, every press after it until Enter. Real
    readline in a pseudo-terminal, a real SIGINT from inside its hook."""
    child = pexpect.spawn(sys.executable, ["-c", PRESS_IN_A_HOOK], encoding="utf-8", timeout=20)
    child.expect("You: ")
    child.expect("press Ctrl-C again")  # now, before any key
    child.sendline("typed after")
    child.expect("read: typed after")
    child.expect(pexpect.EOF)


def test_a_turn_on_another_thread_leaves_the_main_threads_guard_alone() -> None:
    """The Python API used from a worker thread while the main thread waits in an
    `allowed()` section: the worker's guard sections change nothing, so a press
    meanwhile still stops the main thread's wait. (They set the shared flag to
    "held back", and the press was kept for later instead.)"""
    guard = InterruptGuard()
    read, write = os.pipe()
    worker_in_turn, press_sent = threading.Event(), threading.Event()

    def worker_turn() -> None:
        with guard.guarded():
            with guard.allowed():
                pass
            worker_in_turn.set()
            press_sent.wait(10)

    def press() -> None:
        worker_in_turn.wait(10)
        handled = kicker.handled
        os.kill(os.getpid(), signal.SIGINT)
        while kicker.handled == handled and ends_it.is_alive():  # the worker's turn goes on until it is handled
            time.sleep(0.01)
        press_sent.set()

    ends_it = threading.Timer(10, os.write, (write, b"x"))
    threads = [threading.Thread(target=worker_turn), threading.Thread(target=press)]
    try:
        ends_it.start()
        with pytest.raises(KeyboardInterrupt), guard.guarded(), guard.allowed():
            for thread in threads:
                thread.start()
            os.read(read, 1)
        assert ends_it.is_alive(), "the press was held back for later: the wait ended by itself"
    finally:
        ends_it.cancel()
        press_sent.set()
        for thread in threads:
            thread.join()
        os.close(read)
        os.close(write)
