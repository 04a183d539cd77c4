"""The argument parser every chinwag command line is read with: a usage error
is chinwag's one line (`chinwag: MESSAGE (see ... --help)`, exit 2, through
UsageError), never argparse's usage dump."""

from __future__ import annotations

import argparse
import sys
from typing import Any, NoReturn, TextIO

from chinwag.errors import UsageError


class ParserExit(SystemExit):
    """The parser is done after printing what was asked (`--help`, `--version`).

    A SystemExit, as argparse's own: uncaught, the process ends with `code`.
    A caller that must go on (the chat's `/history --help`) catches it."""

    code: int

    def __init__(self, code: int) -> None:
        super().__init__(code)


class OneLineErrorParser(argparse.ArgumentParser):
    """Errors become UsageError (one line, exit 2); `--help` goes to `out`
    (standard output when none is given)."""

    def __init__(self, *args: Any, out: TextIO | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._out = out

    def print_help(self, file: Any = None) -> None:
        super().print_help(file or self._out)

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help)")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:  # as argparse's exit does; its error() passes one, and ours raises instead
            self._print_message(message, sys.stderr)
        raise ParserExit(status)
