"""A local model's context_size past what the model was trained on: the model's own length, not gigabytes.

Found by trying huge numeric config values: `context_size = 99999999999999999999999`
passed the config check (a whole number of at least 1) and the runner asked
llama.cpp for that context; its RSS passed 7 GB in 8 s. Driven with the real
bundled model and the installed `chinwag`, under a real address-space limit
(RLIMIT_AS, inherited by the model's process) so that the failure before the
fix is a refused allocation rather than a machine out of memory.
"""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_helpers import CHINWAG, chinwag_env

LIMIT = 3 * 1024**3  # bytes of address space: the 135M model, llama.cpp and Python fit well inside


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))


@pytest.mark.parametrize("size", ["99999999999999999999999", "4000000000"])
def test_a_huge_context_size_gives_the_models_own_length(tmp_path: Path, size: str) -> None:
    (tmp_path / "config.toml").write_text(f"context_size = {size}\n")
    done = subprocess.run([CHINWAG, "-m", "local", "--max-tokens", "8", "say hi"], env=chinwag_env(tmp_path),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
                          preexec_fn=_limited)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip(), done.stderr


def test_the_trained_length_is_read_from_the_models_header() -> None:
    """In a child: the test process never loads llama.cpp (test_local_model asserts it)."""
    code = ("from chinwag.providers.local import bundled_model_path\n"
            "from chinwag.providers.runner import trained_length\n"
            "print(trained_length(str(bundled_model_path())))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "8192"  # SmolLM2-135M-Instruct
