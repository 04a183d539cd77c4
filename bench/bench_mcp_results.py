"""MCP results (issue 22): how soon a server's progress is on screen, and what an image
result costs in memory.

1. Progress on screen. One chinwag REPL on a pseudo-terminal with tests/mcp_servers/demo.py
   over stdio; the scripted model calls its `beacon` tool, which sends a progress
   notification every 300 ms (more than the 100 ms redraw limit apart), each message
   stamped with time.monotonic() as the server sent it (CLOCK_MONOTONIC: one clock for
   every process on the machine). Latency = when the pty read that completed the stamped
   line `⚙ demo_beacon … k/N sent T` − T. Baseline, alternated in the same run: a plain
   Python program on a pty printing the same stamped lines every 300 ms, read the same
   way (what the pty and this reader cost by themselves).
2. Memory of an image result. In this process, with tracemalloc: a CallToolResult holding
   a 3 MB PNG (noise, within every provider's limits) as the server's base64 (the
   baseline: one base64 copy, its size measured here), turned into chinwag's ToolOutput
   (`tool_output`): the memory the conversion peaks at, and what stays (the image's
   bytes, kept for the model and the history); then the Anthropic request body built
   from the conversation (`json.dumps` of the wire form), whose base64 is the copy sent.
   Each as a ratio to the base64's size.

Targets (issue 22): a progress notification on screen within 50 ms (median, with the
baseline's pty cost shown); the conversion adds at most one base64 copy (peak ≤ 1.0×),
and what stays is at most one (≤ 1.0×: raw bytes are 0.75×).
Run alone: `python bench/bench_mcp_results.py [--quick]`.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as common  # noqa: E402

TARGET_PROGRESS_MS = 50.0
TARGET_COPIES = 1.0
EVERY = 0.3
PRINTER = ("import time\ninput('You: ')\n"
           "for i in range(1, {n} + 1):\n"
           "    time.sleep({every})\n"
           "    print(f'\\r⚙ printer … {{i}}/{n} sent {{time.monotonic():.6f}}', end='', flush=True)\n"
           "print()\ninput('You: ')\n")


def progress_round(server: object, env: dict[str, str], cwd: str, config: str, count: int) -> list[float]:
    from tests.fakes.server import Reply
    from tests.fakes.tool_wire import anthropic_calls

    server.enqueue(anthropic_calls([("toolu_1", "demo_beacon", {"count": count, "every": EVERY})]),  # type: ignore[attr-defined]
                   Reply(chunks=["Done."]))
    child = common.spawn(common.CHINWAG, ["--mcp-config", config], env, cwd=cwd)
    try:
        reader = common.PtyReader(child)
        _, pos = reader.wait_for(b"You: ", 0, timeout=60)
        child.sendline("go")
        latencies = first_per_stamp(reader, pos, count, b"demo_beacon")
        _, done = reader.wait_for(b"Done.", pos, timeout=60)
        reader.wait_for(b"You: ", done, timeout=60)  # the turn's end: nothing is left queued for the next run
        return latencies
    finally:
        common.kill(child)


def printer_round(env: dict[str, str], cwd: str, count: int) -> list[float]:
    child = common.spawn(common.PYTHON, ["-c", PRINTER.format(n=count, every=EVERY)], env, cwd=cwd)
    try:
        reader = common.PtyReader(child)
        _, pos = reader.wait_for(b"You: ", 0, timeout=60)
        child.sendline("")
        return first_per_stamp(reader, pos, count, b"printer")
    finally:
        common.kill(child)


def first_per_stamp(reader: common.PtyReader, start: int, count: int, name: bytes) -> list[float]:
    """For each stamp, when it was first on screen minus when it was sent."""
    reader.wait_for(f"{count}/{count} sent ".encode(), start, timeout=60)
    reader.drain(0.1)
    first: dict[bytes, float] = {}
    pattern = re.compile(rb"\xe2\x9a\x99 " + re.escape(name) + rb" \xe2\x80\xa6 (\d+)/(\d+) sent (\d+\.\d+)")
    for match in pattern.finditer(bytes(reader.buf), start):
        stamp = match.group(3)
        if stamp not in first:
            first[stamp] = reader.time_of(match.end()) - float(stamp)
    return list(first.values())


def image_memory() -> dict[str, float]:
    """Ratios to the base64's size: the conversion's peak, what stays, the request body's peak."""
    import base64
    import gc
    import random
    import tracemalloc

    import mcp_types

    from chinwag.providers.anthropic import _content
    from chinwag.records import Message, ToolResult
    from chinwag.tools.mcp_results import ResultContext, tool_output
    from tests.mcp_servers.demo import _png

    side = 1000
    png = _png(side, side, random.Random(3).randbytes(side * side * 3))
    data = base64.b64encode(png).decode("ascii")
    del png
    result = mcp_types.CallToolResult(content=[mcp_types.ImageContent(type="image", data=data,
                                                                     mime_type="image/png")])
    b64 = len(data)
    tiny = base64.b64encode(_png(2, 2, bytes(12))).decode("ascii")
    tool_output(mcp_types.CallToolResult(content=[mcp_types.ImageContent(type="image", data=tiny, mime_type="image/png")]),
                32_768)  # uncounted: the modules it imports on first use are not the image's cost
    gc.collect()
    tracemalloc.start()
    before, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    output = tool_output(result, 32_768, ResultContext("demo", "image"))
    after, peak = tracemalloc.get_traced_memory()
    message = Message.of("user", (ToolResult("c1", output.content, "ok"), *output.attachments))
    gc.collect()
    ready, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    body = json.dumps({"messages": [{"role": "user", "content": _content(message)}]})
    _, wire_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert output.attachments and len(body) > b64
    return {"base64 (MB)": b64 / 2**20, "conversion peak": (peak - before) / b64, "kept": (after - before) / b64,
            "request body peak": (wire_peak - ready) / b64}


def run(quick: bool = False) -> str:
    common.repo_on_path()
    from tests.fakes.server import ScriptedServer
    from tests.mcp_reference import write_mcp_json
    from chinwag.tools import McpServerConfig

    rounds = 2 if quick else 5
    count = 5 if quick else 10
    cwd = tempfile.mkdtemp(prefix="chinwag-bench-mcp-")
    config = str(write_mcp_json(Path(cwd) / "mcp.json", {"demo": McpServerConfig(
        "demo", command=common.PYTHON, args=("-m", "tests.mcp_servers.demo"), env={"PYTHONPATH": str(common.ROOT)})}))
    samples: dict[str, list[float]] = {"chinwag": [], "printer": []}
    with ScriptedServer() as server:
        env = common.clean_env(tempfile.mkdtemp(prefix="chinwag-bench-home-"),
                               ANTHROPIC_API_KEY="bench", ANTHROPIC_BASE_URL=server.base_url)
        progress_round(server, env, cwd, config, 2)  # uncounted: fills the bytecode cache
        for name in common.alternate(rounds, "chinwag", "printer"):
            if name == "chinwag":
                samples[name] += progress_round(server, env, cwd, config, count)
            else:
                samples[name] += printer_round(env, cwd, count)
    memory = image_memory()
    chinwag_ms = common.summary(samples["chinwag"])["median"] * 1000
    progress_ok = chinwag_ms <= TARGET_PROGRESS_MS
    memory_ok = memory["conversion peak"] <= TARGET_COPIES and memory["kept"] <= TARGET_COPIES
    rows = [
        ["progress: sent → on screen, chinwag", common.ms_range(samples["chinwag"]), f"≤ {TARGET_PROGRESS_MS:g} ms",
         common.verdict(progress_ok)],
        ["progress: sent → on screen, plain printer (baseline)", common.ms_range(samples["printer"]), "", ""],
        ["difference (medians)", common.ms(common.summary(samples["chinwag"])["median"]
                                           - common.summary(samples["printer"])["median"]), "", ""],
        [f"image result ({memory['base64 (MB)']:.1f} MB of base64): conversion peak",
         f"{memory['conversion peak']:.2f}× the base64", f"≤ {TARGET_COPIES:g}×", common.verdict(memory_ok)],
        ["image result: kept after the conversion", f"{memory['kept']:.2f}× the base64", f"≤ {TARGET_COPIES:g}×",
         common.verdict(memory["kept"] <= TARGET_COPIES)],
        ["Anthropic request body built (the copy sent)", f"{memory['request body peak']:.2f}× the base64", "reported",
         ""],
    ]
    return "\n".join([
        "## MCP results: progress on screen, an image result's memory",
        "",
        f"{len(samples['chinwag'])} progress notifications through chinwag, {len(samples['printer'])} printed lines; "
        "medians (min–max). Memory by tracemalloc, in this process.",
        "",
        common.table(["Measure", "Result", "Target", ""], rows),
        "",
        "Reproduce: `python bench/bench_mcp_results.py" + (" --quick" if quick else "") + "`",
        "",
    ])


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
