"""Scripted servers speaking the Anthropic and OpenAI wire formats on
127.0.0.1, with fault injection. See `server.py`."""

from tests.fakes.reply import RecordedRequest, Reply
from tests.fakes.server import ScriptedServer

__all__ = ["RecordedRequest", "Reply", "ScriptedServer"]
