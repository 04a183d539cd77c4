"""Every consumer of the turn's events handles each one (`match` + `assert_never`):
adding an event to either union and forgetting a consumer fails `mypy --strict`.

The proof runs mypy on a copy of the package: first as it is (clean), then with
one new event added to `TurnEvent` and one to `ProviderEvent`; each consumer
(`accumulate`, the terminal's and --json's sinks, the store's sink, the page)
must then be reported."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import chinwag

# accumulate; the store's sink; TerminalSink and JsonSink (--json); the page; sorted.
CONSUMERS = ["chinwag/history/recorder.py", "chinwag/sinks.py", "chinwag/sinks.py", "chinwag/turn.py", "chinwag/web/live.py"]

NEW_EVENTS = '''

@dataclass(frozen=True)
class {name}:
    """An event added and handled nowhere yet."""

    text: str

'''


def mypy(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-error-summary",
                           "--cache-dir", str(root / ".mypy_cache"), "chinwag"],
                          cwd=root, capture_output=True, text=True, timeout=600)


def unhandled(output: str, name: str) -> list[str]:
    """The files (once per `assert_never` reached) where event `name` is not handled."""
    return sorted(line.split(":", 1)[0] for line in output.splitlines()
                  if '"assert_never"' in line and re.search(rf"\b{name}\b", line))


def add_event(events: Path, union: str, name: str) -> None:
    """A new event class, and the union `union` with it (so `Event` too)."""
    head, tail = events.read_text().split("\nProviderEvent = Union[", 1)
    text = head + NEW_EVENTS.format(name=name) + "\nProviderEvent = Union[" + tail
    assert f"\n{union} = Union[" in text
    events.write_text(text.replace(f"\n{union} = Union[", f"\n{union} = Union[{name}, "))


def test_an_event_nobody_handles_fails_mypy_in_every_consumer(tmp_path: Path) -> None:
    shutil.copytree(Path(chinwag.__file__).parent, tmp_path / "chinwag",
                    ignore=shutil.ignore_patterns("__pycache__", "static"))
    clean = mypy(tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr

    events = tmp_path / "chinwag" / "events.py"
    add_event(events, "TurnEvent", "Forgotten")
    add_event(events, "ProviderEvent", "AlsoForgotten")
    broken = mypy(tmp_path)
    assert broken.returncode == 1
    for name in ("Forgotten", "AlsoForgotten"):
        assert unhandled(broken.stdout, name) == CONSUMERS, broken.stdout
