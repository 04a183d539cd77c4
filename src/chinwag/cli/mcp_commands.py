"""The chat's MCP commands: /prompts, /resources, /SERVER_PROMPT, and `mcp:SERVER:URI`
attachments (`-a`, `/attach`), with Tab completion through the servers' completion/complete.

A prompt's messages are the server's words, not the user's: they are shown
sanitized, dimmed under a line naming the prompt, and then sent as the user's
next message, which the model answers. Every failure (no such server, a server
that died, a missing argument, a refusal) is one line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chinwag.attach.mcp_resource import NO_SERVERS
from chinwag.attach.mcp_resource import load_resource as load_resource  # `-a mcp:SERVER:URI` takes it from here
from chinwag.errors import UsageError
from chinwag.render.sanitize import sanitize

if TYPE_CHECKING:
    from chinwag.attach import Attachment
    from chinwag.cli.repl import Repl
    from chinwag.toolloop import ToolUse
    from chinwag.tools.mcp import McpHub
    from chinwag.tools.mcp_prompts import McpPrompt


def _hub(tool_use: ToolUse | None) -> McpHub:
    if tool_use is None:
        raise UsageError(NO_SERVERS)
    return tool_use.toolbox.mcp


def show_prompts(repl: Repl, arg: str) -> None:
    _show(repl, "prompts")


def show_resources(repl: Repl, arg: str) -> None:
    _show(repl, "resources")


def _show(repl: Repl, kind: str) -> None:
    from chinwag.tools.mcp_prompts import listing_lines

    tool_use = repl.session.tool_use
    hub = _hub(tool_use)
    assert tool_use is not None
    tool_use.wait_for_servers()
    lines = listing_lines(hub.listings(), kind)
    for line in lines:
        repl.out.write(sanitize(line) + "\n")
    for server, state, detail in hub.states():
        if state != "up":
            repl.out.write(repl.dim(sanitize(f"MCP server {server}: {state}" + (f" ({detail})" if detail else "")))
                           + "\n")
    if not lines:
        repl.out.write(f"(no {kind} offered by the MCP servers up now)\n")
    elif kind == "prompts":
        repl.out.write(repl.dim("Run one as /SERVER_PROMPT with key=value or positional arguments; Tab completes.")
                       + "\n")
    else:
        repl.out.write(repl.dim("Attach one with /attach mcp:SERVER:URI (a template's {parameters} filled in).")
                       + "\n")


def prompts_of(tool_use: ToolUse | None) -> list[McpPrompt]:
    if tool_use is None:
        return []
    return [p for listing in tool_use.toolbox.mcp.listings().values() for p in listing.prompts]


def find_prompt(repl: Repl, name: str) -> McpPrompt | None:
    """The prompt `/SERVER_PROMPT` names, or None."""
    return next((p for p in prompts_of(repl.session.tool_use) if f"/{p.command}" == name), None)


def run_prompt(repl: Repl, prompt: McpPrompt, arg: str) -> None:
    """Get the prompt with its arguments, show its messages, and send them: the model answers."""
    from chinwag.tools import mcp_prompts

    arguments = mcp_prompts.parse_arguments(prompt, arg)
    run = mcp_prompts.run_prompt(_hub(repl.session.tool_use), prompt, arguments, repl.session.provider.name)
    repl.out.write(repl.dim(sanitize(run.line)) + "\n")
    for line in sanitize(run.text).splitlines():
        repl.out.write(repl.dim(f"│ {line}") + "\n")
    for block in run.blocks:
        from chinwag.attach import describe

        repl.out.write(repl.dim(sanitize(describe(block))) + "\n")
    repl.send(run.text, run.blocks)


def attach_in_chat(repl: Repl, spec: str, as_text: bool) -> Attachment:
    return load_resource(spec, repl.session.provider.name, repl.session.tool_use, as_text=as_text)


# -- Tab ---------------------------------------------------------------------------

def complete_prompt_names(repl: Repl, text: str) -> list[str]:
    return [f"/{p.command}" for p in prompts_of(repl.session.tool_use) if f"/{p.command}".startswith(text)]


def complete_prompt_arguments(repl: Repl, prompt: McpPrompt, rest: str) -> list[str]:
    """Argument names (`city=`), or values through the server's completion/complete."""
    from chinwag.tools.mcp_prompts import completing

    target = completing(prompt, rest)
    matches = list(target.names)
    if target.argument and (not matches or target.prefix):
        import mcp_types

        hub = _hub(repl.session.tool_use)
        ref = mcp_types.PromptReference(type="ref/prompt", name=prompt.name)
        values = hub.complete(prompt.server, ref, target.argument, target.value, target.given)
        # Each ends in a space (readline here adds none), ready for the next argument.
        matches += [f"{target.prefix}{v} " for v in values if " " not in v]
    return matches


def complete_resources(repl: Repl, text: str) -> list[str]:
    """`mcp:SERVER:URI` for /attach; a template's parameter through completion/complete."""
    tool_use = repl.session.tool_use
    if tool_use is None:
        return []
    listings = tool_use.toolbox.mcp.listings()
    found = [f"mcp:{server}:{r.uri}" for server, listing in listings.items() for r in listing.resources
             if not r.template and f"mcp:{server}:{r.uri}".startswith(text)]
    for server, listing in listings.items():
        for r in listing.resources:
            if not r.template:
                continue
            head = f"mcp:{server}:{r.uri.split('{')[0]}"
            if head.startswith(text):
                found.append(head)
            elif text.startswith(head) and r.uri.count("{") == 1 and r.uri.endswith("}"):
                import mcp_types

                name = r.uri[r.uri.index("{") + 1:-1]
                ref = mcp_types.ResourceTemplateReference(type="ref/resource", uri=r.uri)
                values = tool_use.toolbox.mcp.complete(server, ref, name, text[len(head):], {})
                found += [head + v for v in values]
    return found

