"""Tools the model may call: the built-ins and the tools of MCP servers, behind one Toolbox.

The chat loop asks the toolbox what is on offer (`specs`), how a call must be
approved (`verdict`, then `approval.Approvals.decide`), and runs approved
calls (`run`). `run` never raises for a tool's failure: an unknown tool, bad
input, a dead server all come back as an error `ToolOutput` for the model.
It does let KeyboardInterrupt through, after stopping the tool at once.

Built-ins are each off until enabled:

    read_file    runs without asking inside the working directory; asks outside
                 it and for likely secrets (.env, keys, .gitignored files)
    list_files   runs without asking; never leaves the working directory
    fetch_url    always asks: it sends data out
    shell        always asks: it runs a command

MCP tools are named SERVER_TOOL. They run without asking when the server
marks them read-only and not open-world; everything else asks, unless the
`allow` config names it. Nothing here imports `mcp`, httpx2 or subprocess
machinery until a tool needs it.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chinwag.tools.config import (BUILTIN_TOOLS, McpServerConfig, check_tool_names, load_mcp_json,
                                  mcp_servers_from_config)
from chinwag.tools.output import ToolOutput, Verdict, one_line

if TYPE_CHECKING:
    import threading

    from chinwag.records import ToolCall, ToolSpec

    from chinwag.tools.progress import Progress
    from chinwag.tools.mcp import McpHub

__all__ = ["BUILTIN_TOOLS", "McpServerConfig", "ToolOutput", "Toolbox", "Verdict", "load_mcp_json",
           "mcp_servers_from_config"]

DEFAULT_SHELL_TIMEOUT = 30.0
DEFAULT_FETCH_TIMEOUT = 20.0


@dataclass(frozen=True)
class _Builtin:
    spec: ToolSpec
    approval: str  # for /tools


def _builtins() -> dict[str, _Builtin]:
    from chinwag.records import ToolSpec
    from chinwag.tools.fetch import FETCH_URL_SCHEMA
    from chinwag.tools.files import LIST_FILES_SCHEMA, READ_FILE_SCHEMA
    from chinwag.tools.shell import SHELL_SCHEMA

    return {
        "read_file": _Builtin(ToolSpec(
            "read_file", "Read a UTF-8 text file in the working directory (optionally a range of lines). "
            "Long files are cut; reading outside the working directory or likely secrets needs the "
            "user's approval.", READ_FILE_SCHEMA),
            "runs without asking inside the working directory; asks outside it or for likely secrets"),
        "list_files": _Builtin(ToolSpec(
            "list_files", "List the files and folders in the working directory that match a glob "
            "(folders end in '/'). Patterns may not leave the working directory.", LIST_FILES_SCHEMA),
            "runs without asking"),
        "fetch_url": _Builtin(ToolSpec(
            "fetch_url", "Fetch a web page or other text resource with an HTTP GET and return its text, "
            "following redirects. Binary content is refused; long bodies are cut. Asks the user first.",
            FETCH_URL_SCHEMA), "asks (sends data out)"),
        "shell": _Builtin(ToolSpec(
            "shell", "Run a shell command (/bin/sh -c) in the working directory and return its exit status "
            "and combined stdout/stderr (long output is cut). It has no stdin and a timeout. "
            "Asks the user first.", SHELL_SCHEMA), "asks (runs a command)"),
    }


class Toolbox:
    """The tools of one chat. See the module docstring for the contract."""

    def __init__(self, enabled: Sequence[str], mcp_servers: Mapping[str, McpServerConfig], cwd: Path, *,
                 allow: Sequence[str] = (), max_output: int = 32_768, environ: Mapping[str, str] | None = None,
                 shell_timeout: float = DEFAULT_SHELL_TIMEOUT, fetch_timeout: float = DEFAULT_FETCH_TIMEOUT) -> None:
        check_tool_names(enabled)
        self.cwd = cwd
        self.allow = frozenset(allow)
        self.max_output = max_output
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        self.shell_timeout, self.fetch_timeout = shell_timeout, fetch_timeout
        self._enabled = tuple(name for name in BUILTIN_TOOLS if name in enabled)
        self._builtins: dict[str, _Builtin] | None = None
        from chinwag.tools.mcp import McpHub

        self._hub = McpHub(mcp_servers, cwd, self.environ)

    @property
    def mcp(self) -> McpHub:
        """The MCP servers' sessions: prompts, resources, completions, elicitation."""
        return self._hub

    def start(self) -> None:
        """Start the MCP servers in the background; returns at once."""
        self._hub.start()

    def specs(self) -> tuple[ToolSpec, ...]:
        """The tools available now: the enabled built-ins, then the tools of the MCP servers that are up."""
        builtins = self._builtin_table()
        return tuple(builtins[name].spec for name in self._enabled) + tuple(
            tool.spec for tool in self._hub.tools().values())

    def starting(self) -> bool:
        """True while an MCP server is still starting: its tools are not offered yet."""
        return any(state == "starting" for _, state, _ in self._hub.states())

    def verdict(self, call: ToolCall) -> Verdict:
        """How `call` must be approved: ask=True when a person must say yes, with the reason."""
        if call.name in self.allow:
            return Verdict(False, "allowed by config")
        if call.name == "read_file" and call.name in self._enabled:
            from chinwag.tools.files import read_verdict

            path = call.input.get("path")
            try:
                return read_verdict(self.cwd, path) if isinstance(path, str) else Verdict(False, "bad input")
            except (ValueError, OSError):  # a NUL in the path, a loop of links: run() reports it
                return Verdict(False, "bad input")
        if call.name == "list_files" and call.name in self._enabled:
            return Verdict(False, "lists names inside the working directory")
        if call.name == "fetch_url" and call.name in self._enabled:
            return Verdict(True, "sends data out")
        if call.name == "shell" and call.name in self._enabled:
            return Verdict(True, "runs a command")
        tool = self._hub.tools().get(call.name)
        if tool is None:
            return Verdict(False, "unknown tool")  # run() refuses it
        if tool.read_only:
            return Verdict(False, f"read-only (MCP server {tool.server})")
        return Verdict(True, f"may change things or reach outside (MCP server {tool.server})")

    def run(self, call: ToolCall) -> ToolOutput:
        """Run `call`. Never raises, except KeyboardInterrupt after stopping the tool."""
        try:
            return self._run(call)
        except Exception as exc:  # a tool's bug must not end the chat; the model sees what went wrong
            return ToolOutput.error(f"{call.name} failed: {type(exc).__name__}: {exc}")

    def calling(self, call: ToolCall, stopping: threading.Event | None = None
                ) -> Generator[Progress, None, ToolOutput]:
        """`run`, yielding the progress an MCP server reports as the call runs (built-ins report
        none). `stopping` set (the page's Stop) cancels an MCP call; so does closing the generator."""
        tool = self._hub.tools().get(call.name) if call.name not in self._enabled else None
        if tool is None:
            return self.run(call)
        try:
            return (yield from self._hub.calling(tool, call.input, self.max_output, stopping))
        except Exception as exc:  # a tool's bug must not end the chat; the model sees what went wrong
            return ToolOutput.error(f"{call.name} failed: {type(exc).__name__}: {exc}")

    def describe(self, allowed_now: Mapping[str, str] | None = None) -> list[str]:
        """One line per tool for /tools: name, where it comes from, how it is approved.
        `allowed_now`: tools the person allowed in this chat, and how it reads
        ("allowed for this session ([a]lways)"); they no longer ask."""
        now = allowed_now or {}
        builtins = self._builtin_table()
        lines = [f"{name} · built-in · " + ("allowed by config" if name in self.allow
                                            else now.get(name) or builtins[name].approval)
                 for name in self._enabled]
        tools = self._hub.tools()
        for name, tool in tools.items():
            how = ("allowed by config" if name in self.allow
                   else "runs without asking" if tool.read_only else now.get(name) or "asks")
            lines.append(f"{name} · MCP server {tool.server} · {how}")
        for server, state, detail in self._hub.states():
            lines.append(one_line(f"MCP server {server}: {state}" + (f" ({detail})" if detail else "")))
        return lines

    def take_notices(self) -> list[str]:
        """One-line notices since the last call: servers that failed to start or died."""
        return self._hub.take_notices()

    def close(self) -> None:
        """End MCP sessions and server processes."""
        self._hub.close()

    def _builtin_table(self) -> dict[str, _Builtin]:
        if self._builtins is None:
            self._builtins = _builtins()
        return self._builtins

    def _run(self, call: ToolCall) -> ToolOutput:
        if call.name in self._enabled:
            problem = _check_input(self._builtin_table()[call.name].spec.input_schema, call.input)
            if problem:
                return ToolOutput.error(f"bad input for {call.name}: {problem}")
            return self._run_builtin(call.name, call.input)
        tool = self._hub.tools().get(call.name)
        if tool is None:
            offered = ", ".join(spec.name for spec in self.specs()) or "none"
            return ToolOutput.error(f"unknown tool {call.name!r} (tools available now: {offered})")
        return self._hub.call(tool, call.input, self.max_output)

    def _run_builtin(self, name: str, args: Mapping[str, Any]) -> ToolOutput:
        if name == "read_file":
            from chinwag.tools.files import read_file

            return read_file(self.cwd, args, self.max_output)
        if name == "list_files":
            from chinwag.tools.files import list_files

            return list_files(self.cwd, args)
        if name == "fetch_url":
            from chinwag.tools.fetch import fetch_url

            return fetch_url(args, self.max_output, self.fetch_timeout)
        from chinwag.tools.shell import run_shell

        return run_shell(self.cwd, args, self.max_output, self.shell_timeout, self.environ)


_JSON_TYPES: dict[str, tuple[type, ...]] = {"string": (str,), "integer": (int,), "number": (int, float),
                                            "boolean": (bool,), "object": (dict,), "array": (list,)}


def _check_input(schema: Mapping[str, Any], data: Mapping[str, Any]) -> str | None:
    """What is wrong with `data` for a built-in's flat object schema, or None."""
    properties: Mapping[str, Any] = schema.get("properties", {})
    for key in schema.get("required", ()):
        if key not in data:
            return f"{key!r} is required"
    for key, value in data.items():
        if key not in properties:
            return f"unknown field {key!r} (fields: {', '.join(properties)})"
        kind = properties[key].get("type")
        expected = _JSON_TYPES.get(kind, (object,))
        if not isinstance(value, expected) or (kind in ("integer", "number") and isinstance(value, bool)):
            return f"{key!r} must be {'an' if kind == 'integer' else 'a'} {kind}"
        if kind in ("integer", "number") and value < properties[key].get("minimum", value):
            return f"{key!r} must be at least {properties[key]['minimum']}"
        if kind == "number" and "exclusiveMinimum" in properties[key] and value <= properties[key]["exclusiveMinimum"]:
            return f"{key!r} must be more than {properties[key]['exclusiveMinimum']}"
    return None
