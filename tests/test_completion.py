"""Shell completion (issue 24): `chinwag completion bash|zsh|fish`, driven in
the real shells, and the values it asks for at Tab.

bash: the script is sourced in a real `bash`, and the function it registered
with `complete -F` is called the way readline calls it (COMP_LINE, COMP_POINT;
COMP_WORDS split at ':' as COMP_WORDBREAKS splits them). zsh: a real
interactive zsh on a pty (pexpect), Tab pressed, the listing read back. fish:
`complete -C`, fish's own query of what Tab would offer.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pexpect
import pytest

from chinwag.cli import build_parser
from chinwag.history.store import Store

CACHED_MODELS = {"openai": ["gpt-4o", "gpt-4o-mini"], "anthropic": ["claude-sonnet-4-5"]}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A CHINWAG_HOME with three conversations (the second renamed), two
    templates and a fresh model cache, as a user who has used chinwag has."""
    home = tmp_path / "home"
    home.mkdir()
    with closing(Store.open(home / "history.db")) as store:
        for question in ("Explain how a CPU works", "What is a cache?", "Write a haiku about tea"):
            cid = store.start_conversation(model="m")
            store.add_message(cid, "user", question)
            time.sleep(0.01)  # distinct updated_at: newest first is by time
        store.rename_conversation(2, "Caches, renamed")
    (home / "templates").mkdir()
    for name in ("reviewer", "summarise"):
        (home / "templates" / f"{name}.toml").write_text('system = "x"\n')
    (home / "templates" / "notes.txt").write_text("not a template")
    _write_cache(home, written=time.time())
    return home


def _write_cache(home: Path, written: float) -> None:
    (home / "completion-models.json").write_text(json.dumps(
        {"written": written, "prefixes": ["anthropic:", "openai:", "local:", "local"], "models": CACHED_MODELS}))


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "OPENAI_", "CHINWAG_"))}
    return {**env, "CHINWAG_HOME": str(home), "HOME": str(home), **extra}


def _script(shell: str, env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-m", "chinwag", "completion", shell], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


# -- bash ---------------------------------------------------------------------

BASH_DRIVER = r"""
source "$1"
shift
function=$(complete -p chinwag | sed -E 's/.* -F ([^ ]+) .*/\1/')
for line in "$@"; do
  COMP_LINE=$line
  COMP_POINT=${#line}
  # the words as readline hands them over: split at white space and ':' (COMP_WORDBREAKS)
  read -ra COMP_WORDS <<< "$(sed -E 's/:/ : /g' <<< "$line")"
  [[ $line == *" " ]] && COMP_WORDS+=("")
  COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
  COMPREPLY=()
  "$function"
  printf '%s\n' "${COMPREPLY[*]}"
done
"""


def _bash(home: Path, *lines: str) -> list[list[str]]:
    env = _env(home)
    script = home / "chinwag.bash"
    script.write_text(_script("bash", env))
    done = subprocess.run(["bash", "--norc", "--noprofile", "-c", BASH_DRIVER, "driver", str(script), *lines],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and not done.stderr, done.stderr
    return [line.split() for line in done.stdout.splitlines()]


def test_bash_completes_flags_and_subcommands_from_the_parser(home: Path) -> None:
    resume, model, commands, history, export = _bash(
        home, "chinwag --res", "chinwag --mod", "chinwag ", "chinwag history ", "chinwag history export --f")
    assert resume == ["--resume"]
    assert model == ["--model"]
    assert {"history", "models", "serve", "completion"} <= set(commands)
    assert history == ["list", "show", "search", "export", "delete", "check"]
    assert export == ["--format"]


def test_bash_completes_model_specs_after_the_colon(home: Path) -> None:
    prefixes, after_colon, short = _bash(home, "chinwag -m ", "chinwag -m openai:gpt", "chinwag --model=ignored -m ant")
    assert {"anthropic:", "openai:", "local", "openai:gpt-4o", "anthropic:claude-sonnet-4-5"} <= set(prefixes)
    # bash keeps what is before the ':' of the word; the candidates are what follows it
    assert after_colon == ["gpt-4o", "gpt-4o-mini"]
    assert short == ["anthropic:", "anthropic:claude-sonnet-4-5"]


def test_bash_completes_conversation_ids_newest_first_and_tool_names(home: Path) -> None:
    resume, show, delete, tools = _bash(home, "chinwag --resume ", "chinwag history show ",
                                        "chinwag history delete 2", "chinwag -T ")
    assert resume == show == ["3", "2", "1"]
    assert delete == ["2"]
    assert tools == ["read_file", "list_files", "fetch_url", "shell"]


def test_every_option_that_takes_listed_values_completes_them(home: Path) -> None:
    """Picked from the parser: an option added later (-t NAME, the templates
    one) is covered here as soon as OPTION_VALUES names it."""
    from chinwag.completion.script import OPTION_VALUES

    expected = {"models": "openai:gpt-4o", "tools": "shell", "conversations": "3", "templates": "reviewer"}
    options = [o for action in build_parser()._actions for o in action.option_strings if o in OPTION_VALUES]
    assert {"--model", "--tool", "--resume"} <= set(options)
    for option, candidates in zip(options, _bash(home, *(f"chinwag {o} " for o in options))):
        assert expected[OPTION_VALUES[option]] in candidates, (option, candidates)
    assert _bash(home, "chinwag completion ")[0] == ["bash", "zsh", "fish"]


def test_every_flag_and_subcommand_of_the_parsers_is_in_the_script(home: Path) -> None:
    """Generated from the parsers, not by hand: a flag added to any of them is completed."""
    script = _script("bash", _env(home))
    flags = [o for action in build_parser()._actions for o in action.option_strings]
    assert len(flags) > 20
    for flag in flags:
        assert f" {flag}" in script or f"({flag}" in script, flag
    for word in ("list", "show", "search", "export", "delete", "check", "--limit", "--output", "--port", "--open"):
        assert word in script, word


# -- zsh ----------------------------------------------------------------------

def _zsh_tab(home: Path, *lines: str) -> list[str]:
    """What zsh shows after each line and a Tab (the line completed, or its listing), screen text."""
    env = _env(home, TERM="dumb", PS1="%% ")
    functions = home / "zfunc"
    functions.mkdir(exist_ok=True)
    (functions / "_chinwag").write_text(_script("zsh", env))  # where the README says to put it
    shell = pexpect.spawn("zsh", ["-f", "-i"], env=env, encoding="utf-8", dimensions=(50, 200), timeout=30)
    seen = []
    try:
        shell.sendline(f"fpath=({functions} $fpath); autoload -U compinit && compinit -u -D; echo READY")
        shell.expect("READY\r\n")
        shell.expect("% ")
        for line in lines:
            shell.send(line + "\t")
            # the completion is done when zsh has drawn the line again (after a listing) or completed it
            shell.expect([re.escape(line) + r"[^\r\n]*\S[^\r\n]*$", r"\r\n.*\r\n.*" + re.escape(line.strip())])
            time.sleep(0.3)  # and anything still being drawn
            try:
                rest = shell.read_nonblocking(100000, timeout=0.5)
            except pexpect.TIMEOUT:
                rest = ""
            seen.append(_plain(shell.before + shell.after + rest))
            shell.sendcontrol("c")
            shell.expect("% ")
    finally:
        shell.close(force=True)
    return seen


def _plain(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|[\x07\x08]", "", text)


def test_zsh_completes_flags_models_and_ids_with_their_titles(home: Path) -> None:
    flag, models, ids = _zsh_tab(home, "chinwag --resu", "chinwag -m ", "chinwag history show ")
    assert "chinwag --resume" in flag
    for spec in ("anthropic:", "openai:gpt-4o", "openai:gpt-4o-mini", "anthropic:claude-sonnet-4-5", "local"):
        assert spec in models, models
    # each id with its title, newest first; the renamed one by the name it was given
    titles = [ids.index(text) for text in ("Write a haiku about tea", "Caches, renamed", "Explain how a CPU works")]
    assert titles == sorted(titles), ids
    assert re.search(r"3\s+--\s+Write a haiku about tea", ids), ids


# -- fish ---------------------------------------------------------------------

def _fish(home: Path, line: str) -> list[str]:
    env = _env(home)
    script = home / "chinwag.fish"
    script.write_text(_script("fish", env))
    done = subprocess.run(["fish", "--no-config", "-c", f"source {script}; complete -C '{line}'"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_fish_completes_ids_with_titles_newest_first_and_model_specs(home: Path) -> None:
    assert _fish(home, "chinwag --resume ") == ["3\tWrite a haiku about tea", "2\tCaches, renamed",
                                                "1\tExplain how a CPU works"]
    assert {"openai:gpt-4o", "local"} <= {line.split("\t")[0] for line in _fish(home, "chinwag -m ")}
    assert "--resume" in {line.split("\t")[0] for line in _fish(home, "chinwag --res")}


# -- the values entry point ---------------------------------------------------

def _values(home: Path, kind: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chinwag.completion.values", kind], env=_env(home, **extra),
                          capture_output=True, text=True, timeout=60)


def test_template_names_are_the_toml_files_of_the_templates_folder(home: Path) -> None:
    done = _values(home, "templates")
    assert done.returncode == 0 and done.stdout == "reviewer\t\nsummarise\t\n"


def test_listing_conversations_without_a_history_creates_nothing(tmp_path: Path) -> None:
    done = _values(tmp_path, "conversations")
    assert done.returncode == 0 and done.stdout == "" and done.stderr == ""
    assert list(tmp_path.iterdir()) == []


def test_a_broken_history_lists_nothing_and_prints_no_traceback(home: Path) -> None:
    (home / "history.db").write_bytes(b"not a database" * 100)
    for suffix in ("-wal", "-shm"):
        (home / f"history.db{suffix}").unlink(missing_ok=True)
    done = _values(home, "conversations")
    assert done.returncode == 1 and done.stdout == "" and done.stderr == ""


class _ModelsServer:
    """/v1/models on 127.0.0.1, held back until `release` is set: a server slower than any Tab."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.asked = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                server.asked.set()
                server.release.wait(30)
                body = json.dumps({"data": [{"id": "slow-model-1"}, {"id": "slow-model-2"}]}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def slow_server() -> Iterator[_ModelsServer]:
    server = _ModelsServer()
    yield server
    server.close()


def test_a_stale_cache_is_refreshed_in_the_background_and_tab_never_waits(
        home: Path, slow_server: _ModelsServer) -> None:
    """Tab answers from the day-old cache while the server has not answered
    (it is held until Tab is done); the refresh, started in the background,
    then writes the server's models, and the next Tab offers them."""
    _write_cache(home, written=time.time() - 2 * 24 * 3600)
    extra = {"OPENAI_BASE_URL": slow_server.url, "OPENAI_API_KEY": "test"}
    done = _values(home, "models", **extra)
    assert done.returncode == 0, done.stderr
    assert "openai:gpt-4o\t" in done.stdout  # the old listing, while the server has not answered
    assert not slow_server.release.is_set()
    assert slow_server.asked.wait(30), "the background refresh never asked the server"
    again = _values(home, "models", **extra)  # a Tab during the refresh starts no second one
    assert "slow-model" not in again.stdout
    slow_server.release.set()
    cache = home / "completion-models.json"
    deadline = time.monotonic() + 30
    while "slow-model-1" not in cache.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    listed = _values(home, "models", **extra).stdout.splitlines()
    assert "openai:slow-model-1\t" in listed and "openai:slow-model-2\t" in listed
    assert "openai:gpt-4o\t" not in listed  # the day-old listing is replaced, not kept
    assert "anthropic:\t" in listed and "local\t" in listed


def test_with_no_cache_tab_offers_the_registry_prefixes_and_starts_a_refresh(
        tmp_path: Path, slow_server: _ModelsServer) -> None:
    done = _values(tmp_path, "models", OPENAI_BASE_URL=slow_server.url, OPENAI_API_KEY="test")
    assert done.returncode == 0
    assert [line.split("\t")[0] for line in done.stdout.splitlines()] == ["anthropic:", "openai:", "local:", "local"]
    assert slow_server.asked.wait(30)


def test_completion_without_a_shell_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "chinwag", "completion", "tcsh"], env=_env(tmp_path),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stdout == "" and done.stderr == "chinwag: say which shell: chinwag completion bash|zsh|fish\n"
