"""`chinwag serve` in headless Chromium (Debian's, through Playwright), against
the terminal chat on the same scripted Anthropic server, all on 127.0.0.1.

1. First token: Enter → the first text of the reply. On the page, from the
   `keydown` of Enter to a MutationObserver seeing the text in the reply's
   DOM (both `performance.now()` in the page); in the terminal, from writing
   the line to the pty to reading the text back (`run.PtyReader`). Turns 2+
   of one conversation each, alternated; the server waits 20 ms before its
   first byte. Target: the page adds ≤ 10 ms (median).
2. Linear cost: 16 KB and 64 KB markdown replies (bench_render.make_reply,
   in 24-character chunks 2 ms apart), alternated. Server CPU: user+system
   time of the `chinwag serve` process (/proc/PID/stat) from Enter to the
   end of the reply. Browser main thread: the busy time of the page's main
   thread (CrRendererMain's top-level tasks) in a Chromium trace of the same
   span. Target: 64 KB ≤ 4.4× 16 KB (linear is 4×), judged on the median
   of the ratios of back-to-back runs (the load of a shared machine drifts);
   the ratio of medians and of the fastest runs are shown too.
3. Stop: the Stop button clicked in the page while the server holds the
   rest of the reply → the scripted server sees the connection close
   (`wait_closed`). Target: ≤ 100 ms (median).
4. Memory: RSS of `chinwag serve` (VmRSS) after 10, 50, 100 and 200
   conversations, each created with a streamed 2 KB reply and opened, listed
   and searched over HTTP. The first 50 fill caches (SQLite's page cache,
   the list's 50 entries). Target: flat, 200 vs 50 conversations ≤ 1.10×.

(The terminal chat's start-up is unchanged by all this: it imports nothing of
the server, asserted by tests/test_web_imports.py; bench_startup measures it.)

Run alone: `python bench/bench_web.py [--quick]`.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as common  # noqa: E402

common.repo_on_path()
from tests.procs import cpu_seconds  # noqa: E402

ADDED_TARGET_MS = 10.0
LINEAR_TARGET = 4.4
STOP_TARGET_MS = 100.0
MEMORY_TARGET = 1.10
MEMORY_POINTS = (10, 50, 100, 200)  # RSS is read after this many conversations; the first 50 warm caches up
SERVER_DELAY = 0.020
CHUNK, CHUNK_DELAY = 24, 0.002
THINK = 0.3  # seconds between a reply's end and the next question, as a person pauses (both sides)

# In the page: time Enter's keydown → the marker in the last reply's DOM.
FIRST_TOKEN_PROBE = """(marker) => {
  const input = document.getElementById('input');
  let sent = null;
  input.addEventListener('keydown', (e) => { if (e.key === 'Enter') sent = performance.now(); },
                         { capture: true, once: true });
  window.__firstToken = new Promise((resolve) => {
    const observer = new MutationObserver(() => {
      const bodies = document.querySelectorAll('.msg.assistant .body');
      const last = bodies[bodies.length - 1];
      if (sent !== null && last && last.textContent.includes(marker)) {
        observer.disconnect();
        resolve(performance.now() - sent);
      }
    });
    observer.observe(document.getElementById('messages'), { subtree: true, childList: true, characterData: true });
  });
}"""


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def _wait_end(page: Any, timeout: float = 180) -> None:
    last = page.locator(".msg.assistant").last.locator(".meta").filter(has_text="to first token")
    last.wait_for(timeout=timeout * 1000)
    page.locator("#send:visible").wait_for(timeout=timeout * 1000)


def _page_turn(page: Any, server: Any, n: int) -> float:
    from tests.fakes.server import Reply

    marker = f"Marker{n}x"
    server.enqueue(Reply(chunks=[marker, " and", " the rest."], delay_first_byte=SERVER_DELAY))
    page.fill("#input", f"question {n}")
    time.sleep(THINK)  # the page refreshes its conversation list after each reply
    page.evaluate(FIRST_TOKEN_PROBE, marker)
    page.keyboard.press("Enter")
    elapsed_ms = float(page.evaluate("() => window.__firstToken"))
    _wait_end(page)
    return elapsed_ms / 1000


class Terminal(common.PtyProgram):
    def __init__(self, server: Any, home: str, cwd: str) -> None:
        self.server = server
        super().__init__(common.CHINWAG, [], common.scripted_env(home, server), cwd)

    def turn(self, n: int) -> float:
        from tests.fakes.server import Reply

        marker = f"Marker{n}y"
        self.server.enqueue(Reply(chunks=[marker, " and", " the rest."], delay_first_byte=SERVER_DELAY))
        time.sleep(THINK)
        self.reader.drain(0.001)
        start = len(self.reader.buf)
        sent = time.monotonic()
        self.child.send(f"question {n}\r")
        seen, end = self.reader.wait_for(marker.encode(), start, timeout=30)
        _, self.pos = self.reader.wait_for(b"You: ", end, timeout=30)
        return seen - sent


def _first_token(page: Any, server: Any, home: str, cwd: str, turns: int) -> tuple[list[float], list[float]]:
    terminal = Terminal(server, home, cwd)
    web: list[float] = []
    term: list[float] = []
    try:
        _page_turn(page, server, 0)  # turn 1 of each, not counted: connections and imports warm up
        terminal.turn(0)
        for n in range(1, turns + 1):
            order = ("web", "term") if n % 2 else ("term", "web")
            for name in order:
                if name == "web":
                    web.append(_page_turn(page, server, n))
                else:
                    term.append(terminal.turn(n))
    finally:
        terminal.close()
    return web, term


def _main_thread_ms(trace: bytes) -> float:
    """Busy time of the page's main thread (CrRendererMain): the union of its
    top-level tasks in a Chromium trace."""
    data = json.loads(trace)
    events = data["traceEvents"] if isinstance(data, dict) else data
    main = {(e["pid"], e["tid"]) for e in events
            if e.get("name") == "thread_name" and e.get("args", {}).get("name") == "CrRendererMain"}
    spans = sorted((e["ts"], e["ts"] + e["dur"]) for e in events
                   if e.get("ph") == "X" and e.get("name") == "RunTask" and "dur" in e
                   and (e.get("pid"), e.get("tid")) in main)
    busy, end = 0.0, float("-inf")
    for start, stop in spans:
        if stop > end:
            busy += stop - max(start, end)
            end = stop
    return busy / 1000


def _long_reply(browser: Any, page: Any, server: Any, pid: int, text: str) -> tuple[float, float, float]:
    """Server CPU seconds, browser main-thread seconds and wall seconds (Enter →
    the end on the page) for one streamed reply.
    The page is driven by keyboard and script only: a parked mouse would add
    hover hit-testing after every scroll, which is not the page's work."""
    from tests.fakes.server import Reply

    chunks = [text[i:i + CHUNK] for i in range(0, len(text), CHUNK)]
    server.enqueue(Reply(chunks=chunks, chunk_delay=CHUNK_DELAY))
    page.evaluate("() => document.getElementById('new-chat').click()")
    page.fill("#input", "a long answer please")
    browser.start_tracing(page=page, categories=["toplevel", "devtools.timeline", "disabled-by-default-devtools.timeline"])
    cpu0, started = cpu_seconds(pid), time.monotonic()
    page.keyboard.press("Enter")
    _wait_end(page)
    cpu, wall = cpu_seconds(pid) - cpu0, time.monotonic() - started
    return cpu, _main_thread_ms(browser.stop_tracing()) / 1000, wall


def _stop_latency(page: Any, server: Any, runs: int) -> list[float]:
    from tests.fakes.server import Reply

    times = []
    for n in range(runs):
        held = Reply(chunks=[f"Held{n}", " never"], hold_after=1)
        server.enqueue(held)
        closed = server.closed_connections
        page.evaluate("() => document.getElementById('new-chat').click()")
        page.fill("#input", "stop me")
        page.keyboard.press("Enter")
        page.locator(".msg.assistant .body").last.filter(has_text=f"Held{n}").wait_for()
        start = time.monotonic()
        page.evaluate("() => document.getElementById('stop').click()")
        if not server.wait_closed(closed + 1, timeout=5):
            raise RuntimeError("Stop did not close the upstream connection")
        times.append(time.monotonic() - start)
        page.locator(".msg.assistant .meta.stopped").wait_for()
        held.release.set()
    return times


def _memory(served: Any, server: Any, total: int) -> dict[int, int]:
    from bench_render import make_reply
    from tests.fakes.server import Reply

    text = make_reply(2048, seed=7)
    chunks = [text[i:i + CHUNK] for i in range(0, len(text), CHUNK)]
    rss: dict[int, int] = {}
    for n in range(1, total + 1):
        server.enqueue(Reply(chunks=chunks))
        status, _, body = served.request("POST", "/api/chat", body=json.dumps({"text": f"conversation {n}"}).encode())
        if status != 200 or b'"status": "complete"' not in body:
            raise RuntimeError(f"conversation {n}: {status} {body[-300:]!r}")
        cid = json.loads(body.split(b"\n", 1)[0][6:])["id"]
        for path in (f"/api/conversations/{cid}", "/api/conversations", "/api/conversations?q=model"):
            if served.request("GET", path)[0] != 200:
                raise RuntimeError(path)
        if n in MEMORY_POINTS or n == total:
            time.sleep(0.3)  # let the writer threads of closed sessions finish
            rss[n] = _rss_kb(served.process.pid)
    return rss


def run(quick: bool = False) -> str:
    from bench_render import make_reply
    from tests.fakes.server import ScriptedServer
    from tests.test_web_support import chromium, serve

    turns, reps, stops, conversations = (6, 2, 5, 200) if quick else (30, 4, 15, 200)
    cwd = tempfile.mkdtemp(prefix="chinwag-bench-cwd-")
    homes = [tempfile.mkdtemp(prefix="chinwag-bench-home-") for _ in range(3)]
    sizes = {16: make_reply(16 * 1024), 64: make_reply(64 * 1024)}
    cpu: dict[int, list[float]] = {16: [], 64: []}
    task: dict[int, list[float]] = {16: [], 64: []}
    wall: dict[int, list[float]] = {16: [], 64: []}
    with ScriptedServer() as server, chromium() as browser:
        env = common.clean_env(homes[0], ANTHROPIC_API_KEY="test", ANTHROPIC_BASE_URL=server.base_url)
        with serve(env) as served:
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            page = context.new_page()
            page.goto(served.url)
            page.locator("#model option").first.wait_for(state="attached")
            web, term = _first_token(page, server, homes[1], cwd, turns)
            _long_reply(browser, page, server, served.process.pid, sizes[16])  # untimed
            for kb in [k for i in range(reps) for k in ((16, 64) if i % 2 == 0 else (64, 16))]:
                c, t, w = _long_reply(browser, page, server, served.process.pid, sizes[kb])
                cpu[kb].append(c)
                task[kb].append(t)
                wall[kb].append(w)
            stop_times = _stop_latency(page, server, stops)
            context.close()
        env = common.clean_env(homes[2], ANTHROPIC_API_KEY="test", ANTHROPIC_BASE_URL=server.base_url)
        with serve(env) as served:
            rss = _memory(served, server, conversations)
    for path in (cwd, *homes):
        shutil.rmtree(path, ignore_errors=True)
    return _report(quick, turns, web, term, (cpu, task, wall), stop_times, rss)


def _report(quick: bool, turns: int, web: list[float], term: list[float],
            long: tuple[dict[int, list[float]], ...], stop_times: list[float], rss: dict[int, int]) -> str:
    cpu, task, wall = long
    def med(xs: list[float]) -> float:
        return common.summary(xs)["median"]

    added = (med(web) - med(term)) * 1000
    # Linearity: the median of the ratios of runs made back to back (16 KB and
    # 64 KB alternate), so the load on a shared machine, which drifts, weighs
    # on both sides of each ratio alike. Other estimates shown beside it.
    cpu_ratio, task_ratio = (med([b / a for a, b in zip(x[16], x[64])]) for x in (cpu, task))
    cpu_median, task_median = med(cpu[64]) / med(cpu[16]), med(task[64]) / med(task[16])
    cpu_fastest, task_fastest = min(cpu[64]) / min(cpu[16]), min(task[64]) / min(task[16])
    stop_ms = med(stop_times) * 1000
    counts = sorted(rss)
    base = 50 if 50 in rss else counts[0]
    memory_ratio = rss[counts[-1]] / rss[base]
    lines = [
        "## chinwag serve: the page against the terminal",
        "",
        f"Headless Chromium (Debian's) driving `chinwag serve`; the terminal chat on a pseudo-terminal; one "
        f"scripted Anthropic server ({SERVER_DELAY * 1000:.0f} ms before its first byte). Turns 2–{turns + 1}, "
        "alternated. Page: Enter's keydown → the text in the reply's DOM (MutationObserver, performance.now); "
        "terminal: the line written to the pty → the text read back.",
        "",
        common.table(["Where", "Enter → first token ms: median (min–max)"],
                     [("page (chinwag serve)", common.ms_range(web)), ("terminal (chinwag)", common.ms_range(term))]),
        "",
        f"Long replies (bench_render's markdown, {CHUNK}-character chunks {CHUNK_DELAY * 1000:g} ms apart), "
        "server CPU (/proc user+system of `chinwag serve`) and the browser's main-thread busy time (a Chromium "
        "trace: CrRendererMain's top-level tasks):",
        "",
        common.table(["Reply", "server CPU ms: median (min–max)", "browser main thread ms: median (min–max)",
                      "Enter → end ms (the stream's own length)"],
                     [(f"{kb} KB", common.ms_range(cpu[kb]), common.ms_range(task[kb]), common.ms_range(wall[kb], 0))
                      for kb in (16, 64)]),
        "",
        f"Stop (in the page, the server holding the rest) → the server sees the connection closed, "
        f"{len(stop_times)} runs: {common.ms_range(stop_times, 2)} ms.",
        "",
        "Memory of `chinwag serve` (VmRSS) after N conversations, each created with a streamed 2 KB reply, then "
        "opened, listed and searched:",
        "",
        common.table(["Conversations", "RSS MB"], [(n, common.rss_mb(rss[n])) for n in counts]),
        "",
        f"- the page adds ≤ {ADDED_TARGET_MS:g} ms to the first token (median): {added:+.1f} ms "
        f"{common.verdict(added <= ADDED_TARGET_MS)}",
        f"- server CPU, 64 KB ÷ 16 KB ≤ {LINEAR_TARGET:g} (median of back-to-back pairs): {cpu_ratio:.2f}× "
        f"{common.verdict(cpu_ratio <= LINEAR_TARGET)} ({cpu_median:.2f}× on medians, {cpu_fastest:.2f}× fastest runs)",
        f"- browser main thread, 64 KB ÷ 16 KB ≤ {LINEAR_TARGET:g} (median of back-to-back pairs): "
        f"{task_ratio:.2f}× {common.verdict(task_ratio <= LINEAR_TARGET)} "
        f"({task_median:.2f}× on medians, {task_fastest:.2f}× fastest runs)",
        f"- Stop → upstream connection closed ≤ {STOP_TARGET_MS:g} ms (median): {stop_ms:.1f} ms "
        f"(slowest {max(stop_times) * 1000:.1f} ms) {common.verdict(stop_ms <= STOP_TARGET_MS)}",
        f"- memory flat: RSS after {counts[-1]} ÷ after {base} conversations ≤ {MEMORY_TARGET:g}: "
        f"{memory_ratio:.2f}× {common.verdict(memory_ratio <= MEMORY_TARGET)}",
        "",
        "Reproduce: `python bench/bench_web.py" + (" --quick" if quick else "") + "`",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
