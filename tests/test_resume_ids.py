"""`--resume ID` with an ID no conversation can have: one line, exit 2, never a traceback.

Found by trying every numeric flag with out-of-range values: SQLite's integers
stop at 2**63 - 1, and a larger ID reached the query (OverflowError).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_helpers import chinwag_env, run_chinwag


@pytest.mark.parametrize("ident", ["99999999999999999999999", "9223372036854775808", "0", "-3", "x"])
def test_resume_with_an_impossible_id_is_one_line_and_exit_2(tmp_path: Path, ident: str) -> None:
    done = run_chinwag(["--resume", ident, "hi"], chinwag_env(tmp_path, ANTHROPIC_API_KEY="k"))
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "conversation" in done.stderr
