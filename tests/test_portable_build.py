"""The installed llama.cpp is the portable build the README's commands make.

A `-march=native` build (llama-cpp-python's default) compiles in every
instruction set the build machine reports: AVX-512, AVX-VNNI, AMX. On a cloud
VM whose CPU reports AMX but cannot run it, the model then dies with SIGILL.
llama.cpp's own system-info line says what was compiled in; anything beyond
the AVX2/FMA/F16C baseline means a native wheel, most likely an old one from
pip's cache. It is read in a child process, so llama_cpp is not imported here.
"""

from __future__ import annotations

import platform
import re
import subprocess
import sys

from chinwag.providers.child import REBUILD_COMMAND

BASELINE = {"SSE3", "SSSE3", "AVX", "AVX2", "FMA", "F16C", "BMI2"}
BEYOND_BASELINE = re.compile(r"^(AVX512.*|AMX.*|AVX_?VNNI.*|AVX10.*|APX.*)$")
NATIVE_BUILD_LINE = ("CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX_VNNI = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | "
                     "BMI2 = 1 | AVX512 = 1 | AVX512_VBMI = 1 | AVX512_VNNI = 1 | AVX512_BF16 = 1 | AMX_INT8 = 1 | "
                     "LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 |")


def _enabled(system_info: str) -> set[str]:
    return {name for name, value in re.findall(r"([A-Z][A-Z0-9_]*)\s*=\s*(\d+)", system_info) if value != "0"}


def _beyond_baseline(system_info: str) -> list[str]:
    return sorted(name for name in _enabled(system_info) if BEYOND_BASELINE.match(name))


def _installed_system_info() -> str:
    code = "import llama_cpp, sys; sys.stdout.write(llama_cpp.llama_print_system_info().decode())"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, (
        f"reading llama.cpp's system info failed (exit {result.returncode}): {result.stderr[-500:]}\n"
        f"rebuild llama-cpp-python portably: {REBUILD_COMMAND}")
    return result.stdout


def test_the_check_recognises_a_native_build() -> None:
    assert _beyond_baseline(NATIVE_BUILD_LINE) == ["AMX_INT8", "AVX512", "AVX512_BF16", "AVX512_VBMI",
                                                   "AVX512_VNNI", "AVX_VNNI"]
    assert _beyond_baseline(NATIVE_BUILD_LINE.replace("= 1", "= 0")) == []


def test_installed_llama_cpp_uses_no_instructions_beyond_the_portable_baseline() -> None:
    info = _installed_system_info()
    assert "CPU :" in info, info
    extra = _beyond_baseline(info)
    assert not extra, (
        f"llama.cpp was built for this CPU ({', '.join(extra)} compiled in): it dies with SIGILL on machines "
        f"without them. Rebuild it portably:\n    {REBUILD_COMMAND}\nsystem info: {info}")
    if platform.machine().lower() in ("x86_64", "amd64"):
        missing = BASELINE - _enabled(info)
        assert not missing, (f"llama.cpp was built without the baseline's {', '.join(sorted(missing))}: rebuild "
                             f"it with the README's flags:\n    {REBUILD_COMMAND}\nsystem info: {info}")
