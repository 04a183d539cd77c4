"""Tab completion: what a completion script's Tab costs (issue 24: <= 100 ms).

A Tab that needs values runs `python -m chinwag.completion.values KIND`; this
times that process, spawn to exit, for each kind, against the floor any
Python helper pays, `python -c pass`, alternated run by run in the same run
(each run once first, untimed, so nobody pays for compiling .pyc files).

The data directory is a user's after some use: 200 saved conversations, 100
templates, a model cache with 200 models. "models, stale cache" has a
day-old cache and a configured server (127.0.0.1) that accepts and never
answers: the Tab starts the background refresh and must not wait for it.

A second table times chinwag's own part inside a fresh interpreter (from the
first import to the values listed), which the machine's load disturbs less.

Targets: what chinwag adds to the Python floor (median difference) <= 100 ms
for every kind; the ratio is shown too. The absolute time includes the
interpreter's own start, which on a loaded 2-core machine is itself far over
100 ms, so it is reported, not judged.

Run alone: `python bench/bench_completion.py [--quick]`.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as common  # noqa: E402

common.repo_on_path()

TARGET_ADDED_MS = 100.0
KINDS = ("models", "templates", "tools", "conversations")


def _home() -> Path:
    from chinwag.history.store import Store

    home = Path(tempfile.mkdtemp(prefix="chinwag-bench-completion-"))
    with closing(Store.open(home / "history.db")) as store:
        for i in range(200):
            cid = store.start_conversation(model="m")
            store.add_message(cid, "user", f"question number {i} about something worth asking")
    (home / "templates").mkdir()
    for i in range(100):
        (home / "templates" / f"template-{i:03}.toml").write_text('system = "You review code."\n')
    _cache(home, time.time())
    return home


def _cache(home: Path, written: float) -> None:
    models = {"openai": [f"model-{i}" for i in range(150)], "anthropic": [f"claude-{i}" for i in range(50)]}
    (home / "completion-models.json").write_text(json.dumps(
        {"written": written, "prefixes": ["anthropic:", "openai:", "local:", "local"], "models": models}))


# chinwag's own part of a Tab, timed inside a fresh interpreter: the imports and the listing.
INSIDE = """
import io, os, sys, time
start = time.perf_counter()
from chinwag.completion.values import main
main([sys.argv[1]], os.environ, io.StringIO())
print(time.perf_counter() - start)
"""


def _inside(kind: str, env: dict[str, str]) -> float:
    done = subprocess.run([common.PYTHON, "-c", INSIDE, kind], env=env, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} failed: {done.stderr[-400:]}")
    return float(done.stdout)


def run(quick: bool = False) -> str:
    reps = 7 if quick else 21
    home = _home()
    stale_home = Path(tempfile.mkdtemp(prefix="chinwag-bench-completion-stale-"))
    silent = socket.socket()  # accepts (the kernel's backlog) and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)
    silent_url = f"http://127.0.0.1:{silent.getsockname()[1]}/v1"
    try:
        contenders = {"python -c pass": (["-c", "pass"], common.clean_env(home))}
        for kind in KINDS:
            contenders[kind] = (["-m", "chinwag.completion.values", kind], common.clean_env(home))
        contenders["models, stale cache"] = (
            ["-m", "chinwag.completion.values", "models"],
            common.clean_env(stale_home, OPENAI_BASE_URL=silent_url, OPENAI_API_KEY="test"))

        def once(name: str) -> float:
            if name == "models, stale cache":  # each Tab finds the cache stale and no refresh under way
                _cache(stale_home, time.time() - 2 * 24 * 3600)
                (stale_home / "completion-models.json.refreshing").unlink(missing_ok=True)
            args, env = contenders[name]
            return common.run_to_exit([common.PYTHON, *args], env)

        times = common.alternated(list(contenders), reps, once)
        inside = {kind: [_inside(kind, common.clean_env(home)) for _ in range(reps)] for kind in KINDS}
    finally:
        silent.close()  # the background refreshes waiting on it end now
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(stale_home, ignore_errors=True)
    floor = common.summary(times["python -c pass"])["median"]
    rows = common.rows_against(times, "python -c pass")
    verdicts = []
    for name, samples in times.items():
        added = (common.summary(samples)["median"] - floor) * 1000
        if name != "python -c pass":
            verdicts.append(f"- {name}: adds {added:.1f} ms to python -c pass (≤ {TARGET_ADDED_MS:.0f} ms)"
                            f" {common.verdict(added <= TARGET_ADDED_MS)}")
    lines = [
        "## Tab completion: the values entry point",
        "",
        f"`python -m chinwag.completion.values KIND`, spawn to exit, {reps} runs each, alternated with"
        " `python -c pass`; 200 conversations, 100 templates, 200 cached models. \"models, stale cache\":"
        " a day-old cache and a configured server that never answers (the refresh runs in the background).",
        "",
        common.table(["Values", "ms: median (min–max)", "× python -c pass", "ms added"], rows),
        "",
        *verdicts,
        "",
        "chinwag's own part, timed inside a fresh interpreter (imports and listing; no interpreter start):",
        "",
        common.table(["Values", "ms: median (min–max)"], [(k, common.ms_range(v)) for k, v in inside.items()]),
        "",
        "Reproduce: `python bench/bench_completion.py" + (" --quick`" if quick else "`"),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv[1:]))
