"""Turn-2 first token over TLS with network round trips: does chinwag keep its
connection alive between turns, as the official SDK's client does?

The scripted Anthropic server (tests.fakes.server, in this process) sits
behind two small proxies on 127.0.0.1:

    client --TLS--> delay proxy --TLS--> TLS terminator --HTTP--> ScriptedServer
                    (ONE_WAY each way)   (trustme certificate)

The delay proxy holds every chunk ONE_WAY seconds in each direction (a round
trip of 2 x ONE_WAY), and holds the first bytes of each new connection one
round trip more: loopback's kernel answers the TCP handshake at once, and
this stands in for it. A new connection therefore costs what it costs on a
real network, TCP handshake + TLS 1.3 handshake (one round trip each), before
the request leaves. The client trusts the test CA through SSL_CERT_FILE,
which chinwag's TLS context honours (as does httpx2's default).

Contenders, each a fresh client per sample, alternated (A B C, B C A, ...):
- chinwag with reuse: AnthropicProvider.stream() for turn 1, then turn 2 on
  the same provider (its one kept-alive client);
- chinwag without reuse: the same, but provider.close() after turn 1, so
  turn 2 builds a fresh client and connection (chinwag before this change);
- the official SDK: anthropic.Anthropic(http_client=DefaultHttpxClient(...)),
  client.messages.stream(...) twice on the same client.
Measured: the time from starting the turn (the call that sends the request)
to its first text, with time.perf_counter; turn 1 is measured too (every
contender connects then). Both turns are read to the end.

Target (the issue): chinwag's turn-2 first token <= the SDK's (median).
Run alone: `python bench/bench_connection_reuse.py [--quick]`.
"""

from __future__ import annotations

import os
import queue
import select
import socket
import ssl
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as common  # noqa: E402

common.repo_on_path()

ONE_WAY = 0.025  # seconds each direction: a 50 ms round trip
MODEL = "claude-sonnet-4-20250514"
REUSE, FRESH, SDK = "chinwag, connection reused", "chinwag, new connection per turn", "anthropic SDK"
TURN_1 = [{"role": "user", "content": "Hi"}]
TURN_2 = [*TURN_1, {"role": "assistant", "content": "Hello there!"}, {"role": "user", "content": "Again?"}]


# -- the network: a TLS terminator behind a delaying TCP proxy -----------------

def _listen() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _serve(sock: socket.socket, handle: Callable[[socket.socket], None]) -> None:
    def accept_loop() -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:  # the listening socket was closed
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    threading.Thread(target=accept_loop, daemon=True).start()


class DelayProxy:
    """Forwards TCP to `port`, holding each chunk `one_way` seconds per direction
    (latency, not bandwidth: chunks keep flowing while earlier ones wait)."""

    def __init__(self, port: int, one_way: float) -> None:
        self.target, self.one_way = port, one_way
        self.sock = _listen()
        self.port = self.sock.getsockname()[1]
        _serve(self.sock, self._handle)

    def _handle(self, client: socket.socket) -> None:
        upstream = _connect(self.target)
        handshake = 2 * self.one_way  # the TCP handshake's round trip, before the first bytes
        for src, dst, extra in ((client, upstream, handshake), (upstream, client, 0.0)):
            pending: queue.Queue[tuple[float, bytes]] = queue.Queue()
            threading.Thread(target=self._read, args=(src, pending, extra), daemon=True).start()
            threading.Thread(target=self._write, args=(dst, pending, (client, upstream)), daemon=True).start()

    def _read(self, src: socket.socket, pending: queue.Queue[tuple[float, bytes]], extra: float) -> None:
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            pending.put((time.monotonic() + self.one_way + extra, data))
            extra = 0.0
            if not data:
                return

    def _write(self, dst: socket.socket, pending: queue.Queue[tuple[float, bytes]],
               both: tuple[socket.socket, socket.socket]) -> None:
        while True:
            due, data = pending.get()
            time.sleep(max(0.0, due - time.monotonic()))
            try:
                if not data:
                    dst.shutdown(socket.SHUT_WR)  # pass the close on
                    return
                dst.sendall(data)
            except OSError:
                for sock in both:
                    sock.close()
                return

    def close(self) -> None:
        self.sock.close()


class TlsTerminator:
    """Accepts TLS with `context`, relays the plain bytes to `port`."""

    def __init__(self, port: int, context: ssl.SSLContext) -> None:
        self.target, self.context = port, context
        self.sock = _listen()
        self.port = self.sock.getsockname()[1]
        _serve(self.sock, self._handle)

    def _handle(self, raw: socket.socket) -> None:
        try:
            tls = self.context.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):
            raw.close()
            return
        upstream = _connect(self.target)
        try:
            self._relay(tls, upstream)
        except OSError:
            pass
        finally:
            tls.close()
            upstream.close()

    @staticmethod
    def _relay(tls: ssl.SSLSocket, upstream: socket.socket) -> None:
        # One thread per connection: an SSL socket must not be read and written at once.
        while True:
            ready = [tls] if tls.pending() else select.select([tls, upstream], [], [])[0]
            for sock in ready:
                data = sock.recv(65536)
                if not data:
                    return
                (upstream if sock is tls else tls).sendall(data)

    def close(self) -> None:
        self.sock.close()


# -- the contenders -------------------------------------------------------------

def _chinwag_turns(base_url: str, reuse: bool) -> tuple[float, float]:
    from chinwag.events import TextDelta
    from chinwag.providers.anthropic import AnthropicProvider
    from chinwag.records import ChatRequest, Message

    provider = AnthropicProvider(api_key="test-key", base_url=base_url, max_retries=0)
    times = []
    try:
        for messages in (TURN_1, TURN_2):
            if not reuse and messages is TURN_2:
                provider.close()  # the next turn builds a new client, as every turn did before
            request = ChatRequest(model=MODEL, messages=tuple(Message(m["role"], m["content"]) for m in messages),
                                  max_tokens=100)
            start, first = time.perf_counter(), None
            for event in provider.stream(request):
                if first is None and isinstance(event, TextDelta):
                    first = time.perf_counter()
            assert first is not None, "no text"
            times.append(first - start)
    finally:
        provider.close()
    return times[0], times[1]


def _sdk_turns(base_url: str, ca_file: str) -> tuple[float, float]:
    import anthropic

    http_client = anthropic.DefaultHttpxClient(verify=ssl.create_default_context(cafile=ca_file))
    times = []
    with anthropic.Anthropic(api_key="test-key", base_url=base_url, max_retries=0, http_client=http_client) as client:
        for messages in (TURN_1, TURN_2):
            start, first = time.perf_counter(), None
            with client.messages.stream(model=MODEL, max_tokens=100, messages=messages) as stream:  # type: ignore
                for text in stream.text_stream:
                    if first is None and text:
                        first = time.perf_counter()
            assert first is not None, "no text"
            times.append(first - start)
    return times[0], times[1]


def run(quick: bool = False) -> str:
    try:
        import trustme
    except ImportError:
        return ("## Turn-2 first token: connection reuse over TLS\n\nNot measured: needs `trustme` "
                "(`pip install -e \".[test]\"`).\n")
    from tests.fakes.server import Reply, ScriptedServer

    reps = 5 if quick else 20
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server_context)
    ca_file = os.path.join(tempfile.mkdtemp(prefix="chinwag-bench-ca-"), "ca.pem")
    ca.cert_pem.write_to_path(ca_file)
    saved = os.environ.get("SSL_CERT_FILE")
    os.environ["SSL_CERT_FILE"] = ca_file  # chinwag's TLS context honours it, as a user behind a proxy sets it

    samples: dict[str, list[tuple[float, float]]] = {REUSE: [], FRESH: [], SDK: []}
    try:
        with ScriptedServer(default_reply=lambda: Reply(chunks=["Hello", " there", "!"])) as server:
            port = int(server.base_url.rsplit(":", 1)[1])
            tls = TlsTerminator(port, server_context)
            delay = DelayProxy(tls.port, ONE_WAY)
            base_url = f"https://127.0.0.1:{delay.port}"
            contenders: dict[str, Callable[[], tuple[float, float]]] = {
                REUSE: lambda: _chinwag_turns(base_url, reuse=True),
                FRESH: lambda: _chinwag_turns(base_url, reuse=False),
                SDK: lambda: _sdk_turns(base_url, ca_file),
            }
            for one in contenders.values():  # untimed: imports, first TLS contexts
                one()
            for name in common.alternate(reps, *contenders):
                samples[name].append(contenders[name]())
            delay.close()
            tls.close()
    finally:
        if saved is None:
            os.environ.pop("SSL_CERT_FILE", None)
        else:
            os.environ["SSL_CERT_FILE"] = saved
    return _section(samples, reps, quick)


def _section(samples: dict[str, list[tuple[float, float]]], reps: int, quick: bool) -> str:
    def median(name: str, turn: int) -> float:
        return common.summary([s[turn] for s in samples[name]])["median"]

    sdk2 = median(SDK, 1)
    rows: list[Any] = []
    for name in samples:
        turn1 = [s[0] for s in samples[name]]
        turn2 = [s[1] for s in samples[name]]
        rows.append((name, common.ms_range(turn1), common.ms_range(turn2), f"{median(name, 1) / sdk2:.2f}×",
                     f"{median(name, 1) / median(name, 0):.2f}×"))
    ratio = median(REUSE, 1) / sdk2
    saved = median(FRESH, 1) - median(REUSE, 1)
    rtt = 2 * ONE_WAY
    lines = [
        "## Turn-2 first token: connection reuse over TLS",
        "",
        f"Scripted Anthropic server behind a TLS terminator and a proxy adding {ONE_WAY * 1000:.0f} ms each way "
        f"({rtt * 1000:.0f} ms round trip; a new connection's first bytes wait one round trip more, for the "
        "TCP handshake). Time from starting a turn to its first text; each sample is a fresh client doing "
        f"turn 1 then turn 2; {reps} alternated samples each after one untimed.",
        "",
        common.table(["Client", "turn 1 ms: median (min–max)", "turn 2 ms: median (min–max)",
                      "turn 2 × SDK", "turn 2 ÷ turn 1"], rows),
        "",
        f"Reusing the connection saves {saved * 1000:.0f} ms on turn 2 ({saved / rtt:.1f} round trips: "
        "TCP + TLS 1.3 handshakes).",
        "",
        f"- chinwag's turn-2 first token ≤ the SDK's: {ratio:.2f}× {common.verdict(ratio <= 1.0)}",
        "",
        "Reproduce: `python bench/bench_connection_reuse.py" + (" --quick" if quick else "") + "`",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
