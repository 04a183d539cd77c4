"""The set-up contract: README.md opens with the two commands a new user
runs, both build llama.cpp portably, and CI (.ci/run) runs exactly the
README's test command."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from chinwag.providers.child import PORTABLE_CMAKE_ARGS, REBUILD_COMMAND

ROOT = Path(__file__).resolve().parent.parent
# A `-march=native` build dies with SIGILL on VMs whose CPU reports AMX; these
# pin an AVX2/FMA/F16C baseline instead, and skip the multimodal library.
PORTABLE_FLAGS = ("-DGGML_NATIVE=OFF", "-DGGML_AVX=ON", "-DGGML_AVX2=ON", "-DGGML_FMA=ON",
                  "-DGGML_F16C=ON", "-DGGML_BMI2=ON", "-DLLAVA_BUILD=OFF")


def _first_section() -> str:
    return (ROOT / "README.md").read_text(encoding="utf-8").split("## Using it", 1)[0]


def _readme_commands() -> list[str]:
    return re.findall(r"```sh\n(.+?)\n```", _first_section())


def _cmake_args(command: str) -> list[str]:
    words = shlex.split(command)
    assignment = next(w for w in words if w.startswith("CMAKE_ARGS="))
    return assignment.removeprefix("CMAKE_ARGS=").split()


def test_readme_opens_with_exactly_two_commands_install_and_chat_then_tests() -> None:
    commands = _readme_commands()
    assert len(commands) == 2
    chat, tests = commands
    assert 'pip install -e ".[local]"' in chat and chat.endswith("&& chinwag")
    assert 'pip install -e ".[local,test]"' in tests and tests.endswith("&& python -m pytest")


def test_both_commands_build_llama_cpp_portably_and_keep_the_wheel_cache() -> None:
    for command in _readme_commands():
        assert _cmake_args(command) == list(PORTABLE_FLAGS), command
        assert "CMAKE_BUILD_PARALLEL_LEVEL=2" in command
        assert "--no-cache-dir" not in command  # later installs reuse the built wheel


def test_readme_gives_the_rebuild_command_for_an_old_native_wheel() -> None:
    assert PORTABLE_CMAKE_ARGS.split() == list(PORTABLE_FLAGS)
    section = " ".join(_first_section().split())
    assert REBUILD_COMMAND in section
    assert "pip install --force-reinstall --no-cache-dir llama-cpp-python" in REBUILD_COMMAND


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert _readme_commands()[1] in ci.splitlines()


def test_the_test_command_installs_the_mcp_reference_servers_pinned() -> None:
    """Issue 22: a fresh machine runs the reference-server tests: npm ci installs the two npm
    servers at the versions in the lockfile, and the test extra brings the two PyPI ones."""
    import json
    import tomllib

    command = _readme_commands()[1]
    assert "npm ci --no-audit --no-fund --prefix tests/mcp_servers" in command
    assert command.index("npm ci") < command.index("python -m pytest")
    lock = json.loads((ROOT / "tests" / "mcp_servers" / "package-lock.json").read_text(encoding="utf-8"))
    wanted = json.loads((ROOT / "tests" / "mcp_servers" / "package.json").read_text(encoding="utf-8"))["dependencies"]
    for package, version in wanted.items():
        assert re.fullmatch(r"\d[\d.]*", version), f"{package} must be pinned exactly"
        assert lock["packages"][f"node_modules/{package}"]["version"] == version
    assert set(wanted) == {"@modelcontextprotocol/server-everything", "@modelcontextprotocol/server-filesystem"}
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]["test"]
    assert {re.split(r"[<>=]", req)[0] for req in extra} >= {"mcp-server-time", "mcp-server-git"}
