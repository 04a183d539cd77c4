"""Scripted servers speaking the Anthropic and OpenAI wire formats on
127.0.0.1, with fault injection.

    from tests.fakes.server import ScriptedServer, Reply

Nothing is imported here, so `python -m tests.fakes.server` runs cleanly.
"""
