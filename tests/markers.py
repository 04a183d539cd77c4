"""The suite's markers (registered in pyproject.toml), put on each test from what it uses (tests/conftest.py calls `mark`).

- browser: drives headless Chromium (asks for the `browser` fixture, directly or
  through another fixture);
- pty: runs a program in a terminal: pexpect, tmux (tests/tmux.py's Pane) or the
  standard library's pty, reached from the test or from any test helper or
  fixture it calls;
- local: runs the bundled SmolLM2 model (LocalProvider, bundled_model_path or
  llama_cpp reached the same way, or in LOCAL_FILES);
- slow: listed in tests/slow.txt (`file.py::test_name`), found with
  `pytest --durations=0` on a 2-core machine. `pytest -m "not slow"` is the
  fast subset.

So no test file carries a marker: a new test that spawns chinwag in a terminal
is marked `pty` because it calls spawn_chinwag (which reaches pexpect).
"""

from __future__ import annotations

import inspect
import pty
import sys
import types
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pexpect
import pytest

# Files that run the bundled model as a whole.
LOCAL_FILES = frozenset({"test_local_model.py", "test_local_runner.py"})
SLOW_LIST = Path(__file__).with_name("slow.txt")


def _slow_list() -> frozenset[str]:
    """tests/slow.txt's entries: `file.py::test_name` (or a whole `file.py`)."""
    lines = (line.strip() for line in SLOW_LIST.read_text().splitlines())
    return frozenset(line for line in lines if line and not line.startswith("#"))


def _pty_targets() -> tuple[object, ...]:
    from tests.tmux import Pane

    return (pexpect, pexpect.spawn, pty, Pane)


def _local_targets() -> tuple[object, ...]:
    from chinwag.providers import local

    found: list[object] = [local, local.LocalProvider, local.bundled_model_path]
    if "llama_cpp" in sys.modules:  # imported by a test module that uses it; never imported here
        found.append(sys.modules["llama_cpp"])
    return tuple(found)


def _codes(code: types.CodeType) -> Iterable[types.CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _codes(const)


TESTS = Path(__file__).resolve().parent


def _in_tests(obj: object) -> bool:
    """Defined in a module under tests/ (pytest may import a test file as `test_x`, not `tests.test_x`)."""
    module = sys.modules.get(str(getattr(obj, "__module__", "") or ""))
    file = getattr(module, "__file__", None)
    return file is not None and Path(file).resolve().is_relative_to(TESTS)


class _Reach:
    """Which objects a test's code reaches: the global names its functions use,
    followed through functions and classes defined in tests/ (helpers, fixtures),
    not into chinwag or libraries."""

    def __init__(self) -> None:
        self._memo: dict[int, frozenset[int]] = {}

    def reaches(self, roots: Iterable[object], targets: tuple[object, ...]) -> bool:
        wanted = {id(t) for t in targets}
        return any(wanted & self._reached(root) for root in roots)

    def _reached(self, root: object) -> frozenset[int]:
        if id(root) in self._memo:
            return self._memo[id(root)]
        seen: dict[int, object] = {}
        stack = [root]
        while stack:
            obj = stack.pop()
            if id(obj) in seen:
                continue
            seen[id(obj)] = obj
            stack.extend(self._uses(obj))
        reached = frozenset(seen)
        self._memo[id(root)] = reached
        return reached

    @staticmethod
    def _uses(obj: object) -> list[object]:
        if isinstance(obj, (staticmethod, classmethod)):
            return [obj.__func__]
        if isinstance(obj, property):
            return [f for f in (obj.fget, obj.fset) if f is not None]
        if not _in_tests(obj):
            return []
        if isinstance(obj, type):
            return list(vars(obj).values())
        func = inspect.unwrap(obj) if callable(obj) else obj
        code = getattr(func, "__code__", None)
        if code is None:
            return []
        names = getattr(func, "__globals__", {})
        found: list[object] = []
        for each in _codes(code):
            found += [names[n] for n in each.co_names if n in names]
            if "openpty" in each.co_names:  # os.openpty: a pty with no module of its own to find
                found.append(pty)
        return found


def _roots(item: pytest.Item) -> list[Any]:
    """The test function and every fixture function it asks for (its closure)."""
    roots: list[Any] = [getattr(item, "function", None)]
    info = getattr(item, "_fixtureinfo", None)
    if info is not None:
        for defs in info.name2fixturedefs.values():
            roots += [d.func for d in defs]
    return [r for r in roots if r is not None]


def _key(item: pytest.Item) -> str:
    """`file.py::test_name` (or `file.py::Class::test_name`), parameters left out."""
    return "::".join([item.path.name, *item.nodeid.split("::")[1:]]).split("[")[0]


def mark(items: list[pytest.Item]) -> None:
    reach = _Reach()
    slow = _slow_list()
    pty_targets, local_targets = _pty_targets(), _local_targets()
    for item in items:
        file = item.path.name
        roots = _roots(item)
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)
        if reach.reaches(roots, pty_targets):
            item.add_marker(pytest.mark.pty)
        if file in LOCAL_FILES or reach.reaches(roots, local_targets):
            item.add_marker(pytest.mark.local)
        if file in slow or _key(item) in slow:
            item.add_marker(pytest.mark.slow)


SLOW_HEADER = """\
# Slow tests, for the `slow` marker (tests/markers.py reads this): `file.py::name`
# marks one test, all its cases. Made from a whole run's durations on 2 cores
# (`pytest -q -p no:cacheprovider --durations=0 > LOG`): every test whose cases'
# setup, call and teardown add up to half a second or more. Regenerate with
# `python -m tests.markers LOG > tests/slow.txt`."""


def slow_list(durations_log: str, threshold: float = 0.5) -> list[str]:
    """tests/slow.txt's entries from a durations log: every test whose cases' setup,
    call and teardown add up to `threshold` seconds or more."""
    times: dict[str, float] = {}
    for line in Path(durations_log).read_text().splitlines():
        parts = line.split(maxsplit=2)  # a case's id may hold spaces
        if len(parts) == 3 and parts[0].endswith("s") and parts[1] in ("setup", "call", "teardown"):
            file, _, rest = parts[2].partition("::")
            key = f"{Path(file).name}::{rest}".split("[")[0]
            times[key] = times.get(key, 0.0) + float(parts[0][:-1])
    return sorted(key for key, seconds in times.items() if seconds >= threshold)


if __name__ == "__main__":
    print("\n".join([SLOW_HEADER, *slow_list(sys.argv[1])]))
