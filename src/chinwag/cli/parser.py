"""The argument parser every chinwag command line is read with: a usage error
is chinwag's one line (`chinwag: MESSAGE (see ... --help)`, exit 2, through
UsageError), never argparse's usage dump and SystemExit."""

from __future__ import annotations

import argparse
from typing import Any, NoReturn, TextIO

from chinwag.errors import UsageError


class ParserExit(Exception):
    """The parser is done after printing what was asked (`--help`): `code` is the exit code."""

    def __init__(self, code: int) -> None:
        self.code = code


class OneLineErrorParser(argparse.ArgumentParser):
    """Help goes to `out`; errors become UsageError (one line, exit 2), never SystemExit."""

    def __init__(self, *args: Any, out: TextIO, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._out = out

    def print_help(self, file: Any = None) -> None:
        super().print_help(file or self._out)

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise ParserExit(status)
