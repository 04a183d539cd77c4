"""The two provider wires the tool tests run on, Anthropic's and the OpenAI-compatible
one: the environment that points the installed `chinwag` at the scripted server
(tests/fakes/server.py) on each, and a scripted reply that calls tools on each."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.cli_helpers import anthropic_env, chinwag_env
from tests.fakes.server import Reply, ScriptedServer
from tests.fakes.tool_wire import Call, anthropic_calls, openai_calls


def env_for(wire: str, home: Path, server: ScriptedServer) -> dict[str, str]:
    """`chinwag`'s environment for `wire` ("anthropic" or "openai") against `server`."""
    if wire == "anthropic":
        return anthropic_env(home, server.base_url)
    return chinwag_env(home, OPENAI_API_KEY="test-key", OPENAI_BASE_URL=server.base_url + "/v1",
                       CHINWAG_MODEL="openai:gpt-test")


def calls(wire: str, *items: Call, **kw: Any) -> Reply:
    """A reply that calls the tools in `items` ((id, name, arguments)), on `wire`."""
    return anthropic_calls(items, **kw) if wire == "anthropic" else openai_calls(items, **kw)
