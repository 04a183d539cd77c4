"""The hand-over of an MCP server's question (elicitation) from the hub's loop thread
to the thread waiting on that server, which asks the person (tools/mcp_elicit.py).

Kept apart from mcp_elicit so the hub, made before the prompt is drawn, imports
nothing more than this: the question's records are imported when one comes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chinwag.tools.mcp_elicit import Elicit, ElicitAnswer, Elicitation


class Questions:
    """Elicitations handed from the MCP loop's thread to the thread waiting on the
    server (a tool call, a prompt, a resource), which asks the person and answers.
    A question that comes while no one waits (the server asks out of the blue) is
    declined: there is no moment at which the person expects it."""

    def __init__(self) -> None:
        import queue
        import threading

        self.elicit: Elicit | None = None  # None: no one to ask (piped, --json, the API without on_elicit)
        self._queue: queue.SimpleQueue[tuple[Elicitation, Any]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._waiting = 0

    async def ask(self, request: Elicitation) -> ElicitAnswer:
        """On the loop: the answer, or decline at once when no one can give it."""
        import asyncio
        import concurrent.futures

        with self._lock:
            if request.unsupported is not None or self.elicit is None or self._waiting == 0:
                return _decline()
            answered: concurrent.futures.Future[ElicitAnswer] = concurrent.futures.Future()
            self._queue.put((request, answered))
        return await asyncio.wrap_future(answered)

    def wait(self, future: Any, slice_seconds: float) -> Any:
        """The result of `future` (a concurrent.futures.Future), asking each question
        that arrives meanwhile; short slices, so a Ctrl-C lands at once."""
        import concurrent.futures

        with self.waiting():
            while True:
                self.answer_waiting()
                try:
                    return future.result(slice_seconds)
                except concurrent.futures.TimeoutError:
                    continue

    @contextmanager
    def waiting(self) -> Iterator[None]:
        """While this thread waits on a server: its questions are put to this thread
        (`answer_waiting`); after, any left over are declined, never left hanging."""
        with self._lock:
            self._waiting += 1
        try:
            yield
        finally:
            with self._lock:
                self._waiting -= 1
                last = self._waiting == 0
            if last:
                self._drain()

    def answer_waiting(self) -> None:
        """Ask each question that came (on the thread that waits, inside `waiting`)."""
        for request, answered in self._taken():
            elicit = self.elicit
            try:
                answer = elicit(request) if elicit is not None else _decline()
            except KeyboardInterrupt:
                from chinwag.tools.mcp_elicit import ElicitAnswer

                answered.set_result(ElicitAnswer("cancel"))
                raise
            except Exception:  # noqa: BLE001  an asker's failure declines; the call goes on
                answer = _decline()
            answered.set_result(answer)

    def _drain(self) -> None:
        for _request, answered in self._taken():
            answered.set_result(_decline())

    def _taken(self) -> Iterator[tuple[Elicitation, Any]]:
        """Each question come so far, taken off the queue as it is handled."""
        import queue

        while True:
            try:
                yield self._queue.get_nowait()
            except queue.Empty:
                return


def elicitation_callback(server: str, questions: Questions, note: Callable[[str], None]) -> Any:
    """The Client's elicitation_callback for `server`: the request read (tools/mcp_elicit.py)
    and put to whoever waits on the server; one that cannot be asked is declined, with a notice."""
    async def elicit(context: Any, params: Any) -> Any:
        from mcp_types import ElicitResult

        from chinwag.tools.mcp_elicit import read_request

        request = read_request(server, params)
        if request.unsupported is not None:
            note(f"MCP server {server} asked for something chinwag cannot ask ({request.unsupported}); declined.")
        answer = await questions.ask(request)
        return ElicitResult(action=answer.action, content=dict(answer.content) if answer.action == "accept" else None)

    return elicit


def _decline() -> ElicitAnswer:
    from chinwag.tools.mcp_elicit import ElicitAnswer

    return ElicitAnswer.decline()
