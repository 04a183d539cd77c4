"""The suite itself: markers put on from what a test uses, and programs it starts
getting Ctrl-C even when pytest runs as a background job (`pytest &`)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _collected(marker: str, *files: str) -> set[str]:
    """Node ids (parameters left out) that `pytest -m marker` collects from `files`."""
    done = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                           "-m", marker, *files], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode in (0, 5), done.stdout + done.stderr  # 5: nothing collected
    return {line.split("[")[0] for line in done.stdout.splitlines() if "::" in line}


def test_markers_come_from_what_each_test_uses() -> None:
    files = ("tests/test_cli_robustness.py", "tests/test_store.py", "tests/test_local_model.py")
    pty = _collected("pty", *files)
    local = _collected("local", *files)
    slow = _collected("slow", *files)
    # start_chat reaches pexpect through tests/cli_helpers.py: no marker in the file.
    assert "tests/test_cli_robustness.py::test_ctrl_c_inside_a_triple_quote_block_drops_it_and_the_chat_goes_on" in pty
    assert not any(node.startswith("tests/test_store.py::") for node in pty | local)
    assert "tests/test_local_model.py::test_two_turns_send_the_first_turn_back_to_the_model" in local
    assert "tests/test_local_model.py::test_two_turns_send_the_first_turn_back_to_the_model" in slow  # tests/slow.txt
    assert "tests/test_store.py::test_chats_started_together_on_a_new_database_all_open_it" in slow
    assert "tests/test_store.py::test_reopening_does_not_run_migrations_again" not in slow


def test_programs_the_suite_starts_get_ctrl_c() -> None:
    """Run from a background job (`bash -c 'pytest … &'`), pytest starts with
    SIGINT ignored, which exec passes on to every program a test starts: then
    the Ctrl-C tests' chinwag never sees its Ctrl-C. conftest undoes that; this
    checks what a child starts with. (It passes in the foreground either way.)"""
    child = subprocess.run([sys.executable, "-c", "import signal; print(signal.getsignal(signal.SIGINT) is "
                            "signal.default_int_handler)"], capture_output=True, text=True, timeout=60)
    assert child.stdout.strip() == "True", child.stdout + child.stderr
    assert signal.getsignal(signal.SIGINT) is not signal.SIG_IGN
