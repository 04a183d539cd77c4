"""What chinwag reads is bounded by the bytes it reads, not by the size a file
reports: a device (/dev/zero) or a FIFO named by -a, -f or /attach is refused
in one line before anything is read, and never hangs; stdin that does not end
(`</dev/zero`) is refused at 32 MB; a slow source gives way to Ctrl-C at once;
`-a -` on a terminal says what it waits for, an empty stdin attaches nothing
and says so; a Latin-1 text file is sent as text, its encoding named; a URL
that cannot be fetched is a network failure (exit 1).

Every chinwag started here runs under an address-space limit (RLIMIT_AS,
1.5 GB), so a read that is not bounded ends in a MemoryError, not in a
machine that swaps; the devices, FIFOs, signals and terminals are real.
"""

from __future__ import annotations

import os
import resource
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, NamedTuple

import pexpect
import pytest

from tests.cli_helpers import CHINWAG, anthropic_env, finish, leave_chat
from tests.fakes.server import ScriptedServer

ADDRESS_SPACE = 1536 * 1024 * 1024


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def run_limited(args: list[str], env: dict[str, str], stdin: int | IO[bytes] | None = subprocess.DEVNULL,
                input: bytes | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([CHINWAG, *args], env=env, stdin=None if input is not None else stdin, input=input,
                          capture_output=True, timeout=60, preexec_fn=_limited)
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode(errors="replace"),
                                       done.stderr.decode(errors="replace"))


def errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if not line.startswith("chinwag: using")]


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe"
    os.mkfifo(path)  # nobody ever writes to it: opening it for reading would block
    return path


@pytest.mark.parametrize("flag", ["-a", "-f"])
@pytest.mark.parametrize("source,kind", [("/dev/zero", "character device"), ("fifo", "FIFO")])
def test_a_device_or_fifo_is_refused_in_one_line_before_reading(
        scripted_server: ScriptedServer, tmp_path: Path, fifo: Path, flag: str, source: str, kind: str) -> None:
    path = str(fifo) if source == "fifo" else source
    started = time.monotonic()
    result = run_limited([flag, path, "what is this?"], anthropic_env(tmp_path / "home", scripted_server.base_url))
    assert result.returncode == 2, result.stderr
    lines = errors(result.stderr)
    assert len(lines) == 1 and kind in lines[0] and "not a regular file" in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert time.monotonic() - started < 30  # no hang on the FIFO
    assert scripted_server.requests == []


@pytest.mark.parametrize("args", [["what is this?"], ["-a", "-", "what is this?"]])
def test_stdin_that_never_ends_is_refused_at_32_mb(scripted_server: ScriptedServer, tmp_path: Path,
                                                   args: list[str]) -> None:
    with open("/dev/zero", "rb") as zero:
        result = run_limited(args, anthropic_env(tmp_path / "home", scripted_server.base_url), stdin=zero)
    assert result.returncode == 2, result.stderr
    assert errors(result.stderr) == ["chinwag: standard input is over 32.0 MB, the most chinwag reads."]
    assert scripted_server.requests == []


def test_in_the_chat_a_device_and_a_fifo_are_refused_and_the_chat_goes_on(
        scripted_server: ScriptedServer, tmp_path: Path, fifo: Path) -> None:
    child = pexpect.spawn(CHINWAG, [], env=anthropic_env(tmp_path / "home", scripted_server.base_url),
                          encoding="utf-8", timeout=20, dimensions=(24, 200), preexec_fn=_limited)
    child.expect("You: ")
    child.sendline("/attach /dev/zero")
    child.expect("cannot attach /dev/zero: it is a character device, not a regular file")
    child.expect("You: ")
    child.sendline(f"/attach {fifo}")
    child.expect("it is a FIFO \\(named pipe\\), not a regular file")
    child.sendline("/attach")
    child.expect("Nothing attached")
    leave_chat(child)


class Trickle(NamedTuple):
    url: str
    reading: threading.Event  # set once the client has been sent a few bytes


@pytest.fixture
def trickle() -> Iterator[Trickle]:
    """An http server on 127.0.0.1 whose body comes one byte every 0.2 s, for a minute."""
    reading = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("content-type", "text/plain")
            self.end_headers()
            try:
                for sent in range(300):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    if sent == 3:
                        reading.set()
                    time.sleep(0.2)
            except OSError:
                pass  # the client gave up

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield Trickle(f"http://127.0.0.1:{server.server_address[1]}/slow.txt", reading)
    server.shutdown()
    server.server_close()


def test_ctrl_c_ends_a_slow_attach_at_once_and_the_chat_goes_on(
        scripted_server: ScriptedServer, tmp_path: Path, trickle: Trickle) -> None:
    child = pexpect.spawn(CHINWAG, [], env=anthropic_env(tmp_path / "home", scripted_server.base_url),
                          encoding="utf-8", timeout=20, dimensions=(24, 200), preexec_fn=_limited)
    child.expect("You: ")
    child.sendline(f"/attach {trickle.url}")
    assert trickle.reading.wait(20)  # reading, a byte at a time
    child.sendintr()  # a real SIGINT from the terminal
    child.expect(r"\(cancelled\)", timeout=3)
    child.expect("You: ")
    child.sendline("/attach")
    child.expect("Nothing attached")
    leave_chat(child)


def test_attach_stdin_on_a_terminal_says_what_it_waits_for(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    child = pexpect.spawn(CHINWAG, ["-a", "-", "what is this?"],
                          env=anthropic_env(tmp_path / "home", scripted_server.base_url),
                          encoding="utf-8", timeout=20, dimensions=(24, 200), preexec_fn=_limited)
    child.expect("reading the attachment from standard input; end it with Ctrl-D")
    child.sendintr()
    assert finish(child) == 130
    assert scripted_server.requests == []


def test_an_empty_stdin_attaches_nothing_and_says_so(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    result = run_limited(["-a", "-", "what is this?"], anthropic_env(tmp_path / "home", scripted_server.base_url),
                         input=b"")
    assert result.returncode == 0, result.stderr
    assert "chinwag: standard input is empty; nothing attached." in result.stderr
    assert scripted_server.requests[0].json["messages"][-1]["content"] in ("what is this?",
                                                                          [{"type": "text", "text": "what is this?"}])


def test_a_latin1_text_file_is_sent_as_text_with_its_encoding_named(
        scripted_server: ScriptedServer, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_bytes("Le café est fermé à midi.\nÇa ira.\n".encode("latin-1"))
    result = run_limited(["-a", str(notes), "translate this"], anthropic_env(tmp_path / "home",
                                                                                scripted_server.base_url))
    assert result.returncode == 0, result.stderr
    assert "📎 notes.txt · text/plain · 34 B · 2 lines · decoded from Latin-1" in result.stderr
    assert "Le café est fermé à midi." in str(scripted_server.requests[0].json["messages"][-1]["content"])


def test_a_url_that_cannot_be_fetched_exits_1(scripted_server: ScriptedServer, tmp_path: Path,
                                              refused_url: str) -> None:
    result = run_limited(["-a", f"{refused_url}/notes.txt", "what is this?"],
                         anthropic_env(tmp_path / "home", scripted_server.base_url))
    assert result.returncode == 1, result.stderr
    assert errors(result.stderr)[-1].startswith(f"chinwag: cannot attach {refused_url}/notes.txt:")
    assert scripted_server.requests == []
