"""What a scripted server is told to send (`Reply`) and what it saw (`RecordedRequest`).

A `Reply` describes one response to one POST, in wire-neutral terms: the text
chunks, usage, stop reason, and the faults to inject. The wire modules
(`anthropic_wire`, `openai_wire`) turn it into each API's bytes.

Fault counters (`drop_after`, `error_after`, `malformed_after`, `hold_after`)
count *text* chunks: N means "after the N-th text event has been written";
0 means before the first one.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@dataclass
class Reply:
    chunks: list[str] = field(default_factory=lambda: ["Hello", "!"])
    input_tokens: int = 12
    output_tokens: int | None = None  # None: one token per chunk
    stop_reason: str = "end_turn"  # Anthropic spelling; mapped for OpenAI
    model: str | None = None  # None: echo the request's model
    # Prompt caching and reasoning, as the APIs report them: `input_tokens` is the
    # uncached input (Anthropic's sense); the OpenAI wire adds cache reads to its
    # prompt_tokens and names them in prompt_tokens_details (it has no cache writes).
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int | None = None  # OpenAI wire: completion_tokens_details.reasoning_tokens

    hang_up: bool = False  # read the request, then close the connection without a response
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)  # extra response headers
    error_type: str | None = None  # None: the API's usual type for `status`
    error_message: str | None = None
    error_code: str | None = None  # OpenAI wire: the error's `code` (None: the usual one for `status`)
    error_json: Any = None  # an error status's whole JSON body, as a server of another shape sends it

    delay_first_byte: float = 0.0  # seconds before the status line
    chunk_delay: float = 0.0  # seconds between text events
    drop_after: int | None = None  # close the socket, no terminating chunk
    error_after: int | None = None  # in-stream error, then end the body
    malformed_after: int | None = None  # a data line that is not JSON, then carry on
    no_stop: bool = False  # end cleanly without message_stop / finish_reason + [DONE]
    hold_after: int | None = None  # wait for `release` (or the client leaving)
    release: threading.Event = field(default_factory=threading.Event)
    unknown_events: bool = False  # events a client must ignore
    fragment: int | None = None  # split every event into HTTP chunks of this many bytes

    raw: str | None = None  # a verbatim SSE body (see `from_fixture`); no fault counters

    def __post_init__(self) -> None:
        counters = (self.drop_after, self.error_after, self.malformed_after, self.hold_after)
        if self.raw is not None and any(c is not None for c in counters):
            raise ValueError("fault counters count text chunks; a raw transcript has none")

    @property
    def text(self) -> str:
        return "".join(self.chunks)

    @property
    def completion_tokens(self) -> int:
        return len(self.chunks) if self.output_tokens is None else self.output_tokens

    @classmethod
    def from_fixture(cls, name: str, **kwargs: Any) -> Reply:
        """A reply that replays tests/fixtures/<name> byte for byte, one SSE event
        per HTTP chunk (chunk_delay applies between events)."""
        raw = (FIXTURES / name).read_bytes().decode("utf-8")
        return cls(raw=raw, **kwargs)


@dataclass
class RecordedRequest:
    method: str
    path: str  # without the query string
    query: str
    headers: dict[str, str]  # lower-case keys
    body: bytes
    json: Any  # the parsed body, or None
    received_at: float  # time.monotonic()
    # time.monotonic() at which each text event was handed to the socket;
    # benchmarks compare these with when the text reached the terminal.
    text_sent_at: list[float] = field(default_factory=list)
