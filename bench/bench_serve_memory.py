"""`chinwag serve`'s memory under hostile uploads (issue 18.5), against the same
server idle, in one run.

The server is the real `chinwag serve` (127.0.0.1, a scripted Anthropic server
behind it, nothing sent to it). Its RSS (VmRSS in /proc/PID/status) is sampled
every 5 ms by a thread here while the worst case runs, all at once, each
request on its own connection:

- 10 uploads of 33 MB with Content-Length (refused before the body is read);
- 10 uploads of 33 MB chunked, no Content-Length (cut off past 32 MB);
- six 88-megapixel PNGs (10800×8100 RGB, just under Pillow's bomb limit);
- six 88-megapixel JPEGs (decoded reduced, `draft`);
- six 39-megapixel PNGs (7200×5400 RGB, just under chinwag's decode limit:
  decoded whole, one at a time);
- 32 PDFs of 32 MB, uploaded and never sent (held on disk).

Peak = the highest sample and VmHWM (the kernel's high-water mark, which
no sampling can miss). Settle = VmRSS once it has not moved for 2 s after the
load. Idle = VmRSS of the same server before the load, after one small image
was uploaded (Pillow imported and one image decoded: what any server that
took a photo holds). Cold = VmRSS right after start, for scale.

Targets (issue 18.5): peak < 400 MB; settle within 50 MB of idle.
Run alone: `python bench/bench_serve_memory.py [--quick]`.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as common  # noqa: E402

common.repo_on_path()

MB = 1024 * 1024
PEAK_TARGET_MB = 400
SETTLE_TARGET_MB = 50
MODEL = "anthropic:claude-bench"


def _rss_kb(pid: int, key: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


class Sampler:
    """VmRSS of `pid` every 5 ms, in a thread, until stopped."""

    def __init__(self, pid: int) -> None:
        self.pid, self.samples = pid, []  # type: ignore[var-annotated]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(_rss_kb(self.pid))
            time.sleep(0.005)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _headers(served: Any) -> dict[str, str]:
    """What the page sends: the cookie, the Origin, and the session key where there is one."""
    headers = {"Host": f"127.0.0.1:{served.port}", "Cookie": served.cookie, "Origin": served.base}
    if getattr(served, "session", ""):
        headers["X-Chinwag-Session"] = served.session
    return headers


def upload(served: Any, name: str, body: bytes, chunked: bool = False) -> str:
    """POST /api/attach; the status, or how the connection ended."""
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=120)
    path = f"/api/attach?name={name}&model={MODEL}"
    try:
        conn.putrequest("POST", path, skip_host=True, skip_accept_encoding=True)
        for key, value in _headers(served).items():
            conn.putheader(key, value)
        conn.putheader("Transfer-Encoding" if chunked else "Content-Length", "chunked" if chunked else str(len(body)))
        conn.endheaders()
        try:
            for start in range(0, len(body), MB):
                piece = body[start:start + MB]
                conn.send(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            if chunked:
                conn.send(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered and closed without reading the rest (413)
        response = conn.getresponse()
        response.read()
        return str(response.status)
    except OSError as exc:
        return type(exc).__name__
    finally:
        conn.close()


def make_bodies(quick: bool) -> dict[str, bytes]:
    from PIL import Image

    def encoded(size: tuple[int, int], fmt: str) -> bytes:
        buffer = io.BytesIO()
        Image.new("RGB", size, (40, 120, 200)).save(buffer, fmt, **({"compress_level": 1} if fmt == "PNG" else {}))
        return buffer.getvalue()

    return {
        "big": b"x" * (33 * MB),
        "png88": encoded((10800, 8100), "PNG"),
        "jpeg88": encoded((10800, 8100), "JPEG"),
        "png39": encoded((7200, 5400), "PNG"),
        "pdf": b"%PDF-1.4\n" + os.urandom(32 * MB - 64) + b"\n%%EOF\n",
        "small": encoded((3000, 2000), "PNG"),
    }


def worst_case(served: Any, bodies: dict[str, bytes], pdfs: int) -> dict[str, list[str]]:
    jobs: list[tuple[str, str, bytes, bool]] = []
    jobs += [("33 MB, Content-Length", f"big{i}.bin", bodies["big"], False) for i in range(10)]
    jobs += [("33 MB, chunked", f"chunked{i}.bin", bodies["big"], True) for i in range(10)]
    jobs += [("88 MP PNG", f"huge{i}.png", bodies["png88"], False) for i in range(6)]
    jobs += [("88 MP JPEG", f"huge{i}.jpg", bodies["jpeg88"], False) for i in range(6)]
    jobs += [("39 MP PNG", f"large{i}.png", bodies["png39"], False) for i in range(6)]
    jobs += [("32 MB PDF, unsent", f"report{i}.pdf", bodies["pdf"], False) for i in range(pdfs)]
    outcomes: dict[str, list[str]] = {kind: [] for kind, *_ in jobs}
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        for (kind, *_), status in zip(jobs, pool.map(lambda job: upload(served, job[1], job[2], job[3]), jobs)):
            outcomes[kind].append(status)
    return outcomes


def settled(pid: int, quiet: float = 2.0, limit: float = 30.0) -> int:
    """VmRSS once it has not moved by more than 1 MB for `quiet` seconds."""
    deadline, last, since = time.monotonic() + limit, _rss_kb(pid), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = _rss_kb(pid)
        if abs(now - last) > 1024:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
    return _rss_kb(pid)


def _bytes_under(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def _serving(home: str, base_url: str) -> Any:
    """The server, with a temp dir of its own (TMPDIR) so its upload folder can be weighed."""
    from tests.test_web_support import serve

    (Path(home) / "tmp").mkdir()
    env = common.clean_env(home, ANTHROPIC_API_KEY="bench", ANTHROPIC_BASE_URL=base_url, TMPDIR=f"{home}/tmp")
    return serve(env, cwd=Path(home))


def run(quick: bool = False) -> str:
    from tests.fakes.server import ScriptedServer

    bodies = make_bodies(quick)
    pdfs = 32
    home = tempfile.mkdtemp(prefix="chinwag-bench-serve-")
    try:
        with ScriptedServer() as fake, _serving(home, fake.base_url) as served:
            pid = served.process.pid
            cold = settled(pid, quiet=1.0)
            assert upload(served, "warm.png", bodies["small"]) == "200"  # Pillow imported, one image decoded
            idle = settled(pid)
            started = time.monotonic()
            with Sampler(pid) as sampler:
                outcomes = worst_case(served, bodies, pdfs)
            seconds = time.monotonic() - started
            hwm = _rss_kb(pid, "VmHWM")
            after = settled(pid)
            on_disk = _bytes_under(Path(home) / "tmp")
        gone = _bytes_under(Path(home) / "tmp")  # after shutdown
    finally:
        shutil.rmtree(home, ignore_errors=True)
    peak = max(max(sampler.samples), hwm)
    rows = [[kind, len(statuses), ", ".join(f"{s} ×{statuses.count(s)}" for s in sorted(set(statuses)))]
            for kind, statuses in outcomes.items()]
    mb = lambda kb: f"{kb / 1024:.0f}"  # noqa: E731
    lines = [
        "## chinwag serve: memory under hostile uploads",
        "",
        "The real `chinwag serve`; its VmRSS sampled every 5 ms while all of these run at once "
        f"({sum(len(s) for s in outcomes.values())} connections, {seconds:.1f} s):",
        "",
        common.table(["upload", "n", "answers"], rows),
        "",
        common.table(["", "RSS MB", "vs idle MB"], [
            ["cold (just started)", mb(cold), f"{(cold - idle) / 1024:+.0f}"],
            ["idle (after one small image)", mb(idle), "–"],
            [f"peak (max of {len(sampler.samples)} samples, VmHWM)", mb(peak), f"{(peak - idle) / 1024:+.0f}"],
            ["settled after the load", mb(after), f"{(after - idle) / 1024:+.0f}"],
        ]),
        "",
        f"The {pdfs} unsent PDFs are held on disk ({on_disk / MB:.0f} MB in the server's private upload folder), "
        f"not in memory; after shutdown {gone / MB:.0f} MB remain there.",
        "",
        f"- peak RSS under the worst case < {PEAK_TARGET_MB} MB: {mb(peak)} MB "
        f"{common.verdict(peak / 1024 < PEAK_TARGET_MB)}",
        f"- settles within {SETTLE_TARGET_MB} MB of idle: {(after - idle) / 1024:+.0f} MB "
        f"{common.verdict((after - idle) / 1024 < SETTLE_TARGET_MB)}",
        "",
        "Reproduce: `python bench/bench_serve_memory.py" + (" --quick" if quick else "") + "`",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
