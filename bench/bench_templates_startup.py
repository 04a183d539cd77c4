"""Launch to `You: ` with 100 templates against none (issue 24: templates are
read when named, never at start-up).

Both contenders are chinwag on the Anthropic path (a scripted server on
127.0.0.1; nothing is sent before the first turn), started on a bare pty as in
bench_startup_pty.py, alternated run by run, each after one untimed run, with a
fresh CHINWAG_HOME each time: empty, or holding templates/ with 100 templates
(99 valid, one broken TOML: were any parsed at start, that chat would not start,
so reaching `You: ` at all also shows none was read).

Target: with 100 templates ≤ 1.10× without (medians), i.e. unchanged within
the noise of a shared 2-core machine; the difference in ms is shown too. As
timing on a loaded machine is noisy, one more launch (untimed) runs under
strace (file system calls): the calls that name the templates folder or a file
in it before `You: ` must be 0.

Run alone: `python bench/bench_templates_startup.py [--quick]`.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as common  # noqa: E402
from pty_launch import launch_to_prompt, time_launches  # noqa: E402

common.repo_on_path()

TEMPLATES = 100
TARGET = 1.10
TEMPLATE = '''\
system = "You review $lang code for team {n}."
model = "anthropic:claude-sonnet-4-5"
temperature = 0.2
max_tokens = 1000
prompt = """Review this $lang code:
$input"""

[defaults]
lang = "Python"
'''


def _add_templates(home: str) -> None:
    folder = Path(home) / "templates"
    folder.mkdir()
    for n in range(TEMPLATES - 1):
        (folder / f"review-{n:03}.toml").write_text(TEMPLATE.format(n=n), encoding="utf-8")
    (folder / "broken.toml").write_text('system = "unclosed\n', encoding="utf-8")


def measure(reps: int, base_url: str) -> dict[str, list[float]]:
    def setup(name: str, home: str) -> tuple[list[str], dict[str, str]]:
        if name != "no templates":
            _add_templates(home)
        return [common.CHINWAG], common.clean_env(home, ANTHROPIC_API_KEY="test", ANTHROPIC_BASE_URL=base_url)

    return time_launches(["no templates", f"{TEMPLATES} templates"], reps, setup)


def template_calls(base_url: str) -> int | None:
    """File system calls naming CHINWAG_HOME/templates before `You: `, under strace; None without strace."""
    strace = shutil.which("strace")
    if strace is None:
        return None
    cwd = tempfile.mkdtemp(prefix="chinwag-bench-cwd-")
    home = tempfile.mkdtemp(prefix="chinwag-bench-home-")
    _add_templates(home)
    log = Path(cwd) / "strace.log"
    try:
        env = common.clean_env(home, ANTHROPIC_API_KEY="test", ANTHROPIC_BASE_URL=base_url)
        launch_to_prompt([strace, "-f", "-qq", "-e", "trace=%file,getdents64", "-o", str(log), common.CHINWAG],
                         env, b"You: ", cwd)
        folder = str(Path(home) / "templates")
        return sum(1 for line in log.read_text(errors="replace").splitlines() if folder in line)
    finally:
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(cwd, ignore_errors=True)


def run(quick: bool = False) -> str:
    from tests.fakes.server import ScriptedServer

    reps = 7 if quick else 21
    with ScriptedServer() as server:
        times = measure(reps, server.base_url)
        sent = len(server.requests)
        calls = template_calls(server.base_url)
    med = {name: common.summary(t)["median"] for name, t in times.items()}
    base, many = med["no templates"], med[f"{TEMPLATES} templates"]
    ratio = many / base
    rows = [(name, common.ms_range(t), f"{med[name] / base:.2f}×") for name, t in times.items()]
    return "\n".join([
        "## Start-up with 100 templates present",
        "",
        f"chinwag (Anthropic path) on a bare pty to `You: `, {reps} alternated runs each after one untimed run,"
        " fresh CHINWAG_HOME each time; one of the 100 templates is broken TOML, so reaching the prompt"
        " shows none is parsed at start.",
        "",
        common.table(["CHINWAG_HOME", "ms: median (min–max)", "× no templates"], rows),
        "",
        f"- with {TEMPLATES} templates ≤ {TARGET}× without: {ratio:.2f}× {common.verdict(ratio <= TARGET)}"
        f" (difference {common.ms(many - base)} ms)",
        f"- file system calls naming the templates folder before `You: ` (strace): "
        + (f"{calls} {common.verdict(calls == 0)}" if calls is not None else "n/a (no strace)"),
        f"- requests sent before the first turn: {sent} (should be 0)",
        "",
        "Reproduce: `python bench/bench_templates_startup.py" + (" --quick" if quick else "") + "`",
    ]) + "\n"


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
