"""Run every chinwag benchmark and write bench/RESULTS.md.

    python bench/run.py            # the full suite, a few minutes on 2 cores
    python bench/run.py --quick    # fewer repetitions, for a fast check
    python bench/run.py --only startup,first_token   # some of them
    python bench/run.py --out /tmp/RESULTS.md         # write elsewhere

Each bench module exposes `run(quick: bool = False) -> str`, a markdown
section with its table, its targets (PASS/FAIL) and the command that
reproduces it; each can also be run alone (`python bench/bench_startup.py
[--quick]`). bench_render.py and bench_store.py are included when present.

Rules every benchmark here follows: public tools only (the standard library,
pexpect, time.perf_counter/monotonic, resource, /proc); every figure is a
ratio against a baseline measured in the same run, with A and B alternated;
medians with min and max; only 127.0.0.1; each chinwag run gets a fresh
CHINWAG_HOME and an environment without ANTHROPIC_*/OPENAI_* variables.

This module also holds the helpers the bench modules share (they import it
as `run`, from the bench/ directory).
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import os
import platform
import select
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
BIN = Path(sys.executable).parent
CHINWAG = str(BIN / "chinwag")  # the installed script itself, never a pyenv shim
LLM = str(BIN / "llm")
PYTHON = sys.executable

# In the order they run and appear in RESULTS.md; (module, title for errors).
MODULES = [
    ("bench_startup", "Start-up"),
    ("bench_startup_pty", "Start-up through a bare pseudo-terminal"),
    ("bench_first_token", "One-shot time to first token"),
    ("bench_repl_latency", "REPL latency"),
    ("bench_local_decode", "Local decode"),
    ("bench_memory", "Memory of a long session"),
    ("bench_render", "Render cost"),
    ("bench_markdown_latency", "Markdown vs plain: first text on screen"),
    ("bench_store", "History store"),
    ("bench_save_overhead", "Cost of saving the conversation"),
    ("bench_storage_faults", "Storage faults: full or locked history"),
    ("bench_interrupt", "Ctrl-C mid-reply"),
    ("bench_continue", "/continue on the bundled model"),
    ("bench_connection_reuse", "Turn-2 first token: connection reuse over TLS"),
    ("bench_web", "chinwag serve: the page against the terminal"),
    ("bench_attachments", "Attachments: a 20 MB file"),
    ("bench_serve_memory", "chinwag serve: memory under hostile uploads"),
    ("bench_device_reads", "Refusing /dev/zero: peak memory"),
    ("bench_tools", "Tool use: loop overhead, MCP start-up, Ctrl-C in a tool"),
    ("bench_search_bound", "A hostile search against opening a conversation"),
    ("bench_tree", "Conversation trees: /tree, /switch, /undo, resume, growth"),
    ("bench_tree_view", "/tree in the chat: read and drawn"),
    ("bench_completion", "Tab completion: the values entry point"),
    ("bench_templates_startup", "Start-up with 100 templates present"),
    ("bench_schema_grammar", "Structured output: the bundled model under a grammar"),
    ("bench_costs", "Costs and budgets: turn end, budget check, launch"),
    ("bench_usage", "chinwag usage over 100,000 replies"),
    ("bench_mcp_startup", "Start-up with five MCP servers configured"),
    ("bench_mcp_results", "MCP results: progress on screen, an image result's memory"),
]
STRIPPED_PREFIXES = ("ANTHROPIC_", "OPENAI_", "CHINWAG_", "LLM_")
STRIPPED = {"NO_COLOR", "PYTHONUNBUFFERED", "PYTHONSTARTUP", "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX"}
# Children run from compiled bytecode, as after a normal `pip install` (which
# writes .pyc files). This machine sets PYTHONDONTWRITEBYTECODE=1, which would
# make every launch recompile the modules of editable installs (chinwag's ~25);
# the cache lives outside the repository, and each bench's untimed first run fills it.
PYCACHE = Path(tempfile.gettempdir()) / "chinwag-bench-pycache"


# -- shared helpers ---------------------------------------------------------

def repo_on_path() -> None:
    """Make `tests.fakes` (the scripted server) importable."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def clean_env(home: str | Path | None = None, **extra: str) -> dict[str, str]:
    """The environment for a child: no provider keys or URLs from the caller's
    shell, a private CHINWAG_HOME (and LLM_USER_PATH for `llm`), a terminal
    that answers no cursor-position query."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(STRIPPED_PREFIXES) and k not in STRIPPED}
    home = str(home) if home is not None else tempfile.mkdtemp(prefix="chinwag-bench-")
    env.update({
        "CHINWAG_HOME": home,
        "LLM_USER_PATH": str(Path(home) / "llm"),
        "PROMPT_TOOLKIT_NO_CPR": "1",
        "TERM": "xterm-256color",
        "PYTHONPYCACHEPREFIX": str(PYCACHE),
    })
    env.update(extra)
    return env


def summary(samples: Sequence[float]) -> dict[str, float]:
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples), "n": len(samples)}


def ms(seconds: float, digits: int = 1) -> str:
    return f"{seconds * 1000:.{digits}f}"


def ms_range(samples: Sequence[float], digits: int = 1) -> str:
    """`median (min–max)` in milliseconds."""
    s = summary(samples)
    return f"{ms(s['median'], digits)} ({ms(s['min'], digits)}–{ms(s['max'], digits)})"


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("**PASS**" if ok else "**FAIL**")


def alternate(n: int, *names: str) -> list[str]:
    """A, B, C, then B, C, A, ...: each takes each position equally often."""
    order = []
    for i in range(n):
        k = i % len(names)
        order += list(names[k:]) + list(names[:k])
    return order


def alternated(names: Sequence[str], reps: int, once: Callable[[str], float]) -> dict[str, list[float]]:
    """`once(name)` for each contender first, untimed (it fills the bytecode cache,
    PYCACHE), then `reps` rounds in `alternate` order: the timed results by name."""
    for name in names:
        once(name)
    times: dict[str, list[float]] = {}
    for name in alternate(reps, *names):
        times.setdefault(name, []).append(once(name))
    return times


def run_to_exit(argv: list[str], env: dict[str, str], timeout: float = 60) -> float:
    """Seconds from spawning `argv` (output discarded) to its exit; RuntimeError, with
    the end of its stderr, when it fails."""
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[1:])} failed: {done.stderr.decode(errors='replace')[-400:]}")
    return took


def rows_against(times: dict[str, list[float]], floor: str) -> list[tuple[str, str, str, str]]:
    """A table row per contender: its name, ms median (min–max), × the median of `floor`,
    and the ms it adds to that ("" on the floor's own row)."""
    base = summary(times[floor])["median"]
    rows = []
    for name, samples in times.items():
        median = summary(samples)["median"]
        rows.append((name, ms_range(samples), f"{median / base:.2f}×",
                     "" if name == floor else f"{(median - base) * 1000:+.1f}"))
    return rows


class PtyReader:
    """Reads everything a pexpect child writes, timestamping each read with
    time.monotonic(), so a benchmark can ask when a given text first appeared.

    `spawn` is started with pexpect in bytes mode; reading is a select+read loop
    on the pty (no pexpect `expect`, whose polling would blur the timings)."""

    def __init__(self, child: Any) -> None:
        self.child = child
        self.fd = child.child_fd
        self.buf = bytearray()
        self.reads: list[tuple[float, int]] = []  # (time, len(buf) after the read)

    def _read_once(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], max(timeout, 0))
        if not ready:
            return False
        try:
            data = os.read(self.fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            data = b""
        now = time.monotonic()
        if not data:
            raise EOFError(f"the program ended; it wrote: {bytes(self.buf[-600:])!r}")
        self.buf += data
        self.reads.append((now, len(self.buf)))
        return True

    def wait_for(self, text: bytes, start: int, timeout: float = 30) -> tuple[float, int]:
        """Read until `text` occurs in the output at or after index `start`;
        returns (monotonic time of the read that completed it, index just after it)."""
        deadline = time.monotonic() + timeout
        while True:
            i = self.buf.find(text, start)
            if i >= 0:
                end = i + len(text)
                return self.time_of(end), end
            if time.monotonic() > deadline:
                raise TimeoutError(f"{text!r} did not appear; the program wrote: {bytes(self.buf[start:][-600:])!r}")
            self._read_once(deadline - time.monotonic())

    def time_of(self, end: int) -> float:
        """When the byte just before index `end` arrived."""
        for t, length in self.reads:
            if length >= end:
                return t
        raise ValueError(end)

    def drain(self, quiet: float = 0.05) -> None:
        while self._read_once(quiet):
            pass


def sigint_for_children() -> None:
    """Started from a background job, SIGINT is ignored here, and exec would pass that on
    to every child: the Ctrl-C benchmarks' chinwag would never see its Ctrl-C. A handler
    (unlike SIG_IGN) is reset to the default in each child."""
    import signal

    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def spawn(command: str, args: list[str], env: dict[str, str], cwd: str | None = None,
          size: tuple[int, int] = (24, 200)) -> Any:
    import pexpect

    sigint_for_children()
    child = pexpect.spawn(command, args, env=env, cwd=cwd, timeout=30, dimensions=size)
    child.delaybeforesend = None  # pexpect sleeps 50 ms before each send by default
    return child


def kill(child: Any) -> None:
    try:
        child.close(force=True)
    except Exception:  # noqa: BLE001
        pass


class PtyProgram:
    """A chat-like program on a pseudo-terminal (`spawn`), read by a PtyReader up to
    its first `You: `; `pos` is the index just after the latest prompt read."""

    def __init__(self, command: str, args: list[str], env: dict[str, str], cwd: str | None = None) -> None:
        self.child = spawn(command, args, env, cwd=cwd)
        self.reader = PtyReader(self.child)
        _, self.pos = self.reader.wait_for(b"You: ", 0, timeout=60)

    def close(self) -> None:
        kill(self.child)


def scripted_env(home: str | Path, server: Any, **extra: str) -> dict[str, str]:
    """`clean_env` for chinwag on the Anthropic path at a scripted server (tests/fakes/server.py)."""
    return clean_env(home, ANTHROPIC_API_KEY="test", ANTHROPIC_BASE_URL=server.base_url, **extra)


def rss_mb(kb: int) -> str:
    return f"{kb / 1024:.1f}"


# -- the header of RESULTS.md -------------------------------------------------

def _cpu() -> str:
    model, cores = platform.processor() or "unknown CPU", os.cpu_count()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {cores} logical cores"


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"


def header(quick: bool, seconds: float | None = None) -> str:
    dists = ["chinwag", "httpx2", "anthropic", "openai", "llama-cpp-python", "rich", "llm", "pexpect"]
    versions = ", ".join(f"{d} {_version(d)}" for d in dists)
    lines = [
        "# chinwag benchmark results",
        "",
        f"- Date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"- Machine: {_cpu()}; {platform.system()} {platform.release()}",
        f"- Python: {platform.python_version()} ({sys.executable})",
        f"- Versions: {versions}",
        f"- Command: `python bench/run.py{' --quick' if quick else ''}`"
        + (f" (took {seconds:.0f} s)" if seconds is not None else ""),
        "",
        "Every figure is a ratio against a baseline measured in the same run, A and B",
        "alternated; times are medians with (min–max). Only 127.0.0.1 is contacted.",
        "",
    ]
    return "\n".join(lines)


def _summary_table(sections: list[str]) -> str:
    """One row per target: the lines of each section that carry PASS/FAIL."""
    rows = []
    for section in sections:
        title = next((l[3:].strip() for l in section.splitlines() if l.startswith("## ")), "?")
        for line in section.splitlines():
            if line.startswith("- ") and ("**PASS**" in line or "**FAIL**" in line):
                rows.append((title, line[2:]))
    if not rows:
        return ""
    return "## Summary\n\n" + table(["Benchmark", "Target"], rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--only", help="comma-separated names, e.g. startup,first_token")
    parser.add_argument("--out", default=str(BENCH / "RESULTS.md"))
    args = parser.parse_args(argv)
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    repo_on_path()
    wanted = {f"bench_{n.strip()}" for n in args.only.split(",")} if args.only else None

    started = time.perf_counter()
    sections = []
    failed = False
    for name, title in MODULES:
        if wanted is not None and name not in wanted:
            continue
        if not (BENCH / f"{name}.py").exists():
            continue
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        try:
            module = importlib.import_module(name)
            section = module.run(quick=args.quick)
        except Exception:  # noqa: BLE001 - one broken benchmark must not hide the others
            failed = True
            section = (f"## {title}\n\n**The benchmark itself failed** (`{name}`):\n\n```\n"
                       f"{traceback.format_exc()}```\n")
        print(f"[bench] {name} done in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
        sections.append(section.rstrip() + "\n")
    seconds = time.perf_counter() - started
    text = header(args.quick, seconds) + "\n" + _summary_table(sections) + "\n" + "\n".join(sections)
    Path(args.out).write_text(text, encoding="utf-8")
    print(text)
    print(f"[bench] wrote {args.out} in {seconds:.0f} s", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
