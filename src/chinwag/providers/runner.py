"""The local model's own process: llama-cpp-python behind two pipes.

`LocalProvider` starts `python -m chinwag.providers.runner PATH N_CTX THREADS
PARENT_PID` in a session of its own, as Ollama runs its llama.cpp runners,
so a native crash (SIGILL, SIGSEGV, an abort, the OOM killer) ends this
process and never the chat. Only this process imports llama_cpp; it imports
nothing of chinwag but grammar.py, which is its own (a --schema's grammar).

The protocol is JSON, one object per line; every message after the first
carries the `id` of the request it answers.

    child -> parent   {"t": "ready", "window": 8192}   the model is loaded
                      {"t": "error", "message": "could not load X: ..."}, then exit
    parent -> child   {"op": "chat", "id": 1, "messages": [...], "max_tokens": 40,
                       "temperature": 0.0 (optional)}
    child -> parent   {"id": 1, "t": "text", "x": "Hello"}      one per token
                      {"id": 1, "t": "usage", "in": 31, "out": 12}
                      {"id": 1, "t": "stop", "reason": "end_turn"}
                   or {"id": 1, "t": "error", "message": "..."}
                          ("overflow": true when the prompt did not fit the window)
                   or {"id": 1, "t": "cancelled"}
                      "continue": true (optional): the last message is the assistant's
                       partial reply, to be continued, not answered
                      "schema": {...} (optional): a JSON Schema; the reply is decoded under
                       the llama.cpp grammar built from it, so it can only be matching JSON
    parent -> child   {"op": "cancel", "id": 1}    stop between tokens; acknowledged
                                                   by "cancelled" (or the reply's end)
    parent -> child   {"op": "count", "id": 2, "text": "..."}
    child -> parent   {"id": 2, "t": "count", "n": 3}

A reader thread takes the parent's lines as they come (so a cancel reaches
a reply being generated) and exits the process when stdin reaches EOF: the
parent closed it, or died. On Linux the process also asks for SIGKILL when
its parent goes (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import json
import os
import queue
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

STOP_REASONS = {"stop": "end_turn", "length": "max_tokens"}
# llama-cpp-python's ValueError for a prompt longer than the window:
# "Requested tokens (N) exceed context window of M".
OVERFLOW_WORDS = "exceed context window"
PR_SET_PDEATHSIG = 1

Send = Callable[[dict[str, Any]], None]


def send(message: dict[str, Any]) -> None:
    """One line, one write(2): lines up to the pipe's atomic size arrive whole."""
    data = (json.dumps(message) + "\n").encode("ascii")
    while data:
        data = data[os.write(1, data):]


def die_with_parent(parent: int) -> None:
    """Linux: SIGKILL when the parent (the thread that forked us) ends; then make
    sure it had not already gone before we asked."""
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:
        os._exit(0)


def read_commands(commands: queue.Queue[dict[str, Any]], cancelled: set[int]) -> None:
    """The stdin thread: cancels take effect at once, the rest queue up in order.
    EOF (the parent closed the pipe, or died) ends the process there and then."""
    for line in sys.stdin.buffer:
        try:
            command = json.loads(line)
        except ValueError:
            break  # the parent speaks the protocol or nothing
        if command.get("op") == "cancel":
            cancelled.add(command["id"])
        else:
            commands.put(command)
    os._exit(0)


def load(path: str, n_ctx: int, threads: int) -> Any:
    from llama_cpp import Llama

    if n_ctx > 0:  # never past what the model was trained on: a typo'd context_size would allocate gigabytes
        n_ctx = min(n_ctx, trained_length(path) or n_ctx)
    return Llama(model_path=path, n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads, verbose=False)


def trained_length(path: str) -> int | None:
    """The context length the model was trained with, from its GGUF header
    (`<architecture>.context_length`; no weights are read); None if it has none."""
    import ctypes

    import llama_cpp

    params = llama_cpp.llama_model_default_params()
    params.vocab_only = True
    model = llama_cpp.llama_model_load_from_file(path.encode(), params)
    if not model:
        return None  # the real load says why
    try:
        arch, value = ctypes.create_string_buffer(128), ctypes.create_string_buffer(32)
        if llama_cpp.llama_model_meta_val_str(model, b"general.architecture", arch, len(arch)) < 0:
            return None
        if llama_cpp.llama_model_meta_val_str(model, arch.value + b".context_length", value, len(value)) < 0:
            return None
        return int(value.value) if value.value.isdigit() else None
    finally:
        llama_cpp.llama_model_free(model)


def chat(llama: Any, command: dict[str, Any], cancelled: set[int], out: Send = send) -> None:
    """Stream one reply, a line per token, stopping between tokens when cancelled."""
    rid = command["id"]
    options: dict[str, Any] = {"max_tokens": command["max_tokens"], "stream": True}
    if command.get("temperature") is not None:
        options["temperature"] = command["temperature"]
    mask = None
    if command.get("schema") is not None:  # decoded under the schema's grammar (grammar.py)
        from llama_cpp import LogitsProcessorList

        from chinwag.providers.grammar import GrammarMask, grammar_text

        mask = GrammarMask(llama, grammar_text(command["schema"]), greedy=command.get("temperature") == 0)
        options["logits_processor"] = LogitsProcessorList([mask])
    produced, finish = 0, "stop"
    chunks: Iterator[dict[str, Any]] | None = None
    try:
        if rid in cancelled:
            out({"id": rid, "t": "cancelled"})
            return
        if command.get("continue"):
            prompt, stop = continuation(llama, command["messages"])
            chunks = llama.create_completion(prompt=prompt, stop=stop, **options)
        else:
            chunks = llama.create_chat_completion(messages=command["messages"], **options)
        for chunk in chunks:
            if rid in cancelled:
                out({"id": rid, "t": "cancelled"})
                return
            choice = chunk["choices"][0]
            text = choice.get("delta", {}).get("content") if "delta" in choice else choice.get("text")
            if text:
                produced += 1  # llama-cpp-python streams one token per chunk
                out({"id": rid, "t": "text", "x": text})
            finish = choice.get("finish_reason") or finish
    except ValueError as exc:  # e.g. the prompt is longer than the context
        what = "failed" if produced else "refused the prompt"
        # llama-cpp-python says so only in words (its own server matches them too).
        overflow = not produced and OVERFLOW_WORDS in str(exc)
        out({"id": rid, "t": "error", "message": f"the local model {what}: {exc}", "overflow": overflow})
        return
    finally:
        cancelled.discard(rid)
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
        if mask is not None:
            mask.close()
    out({"id": rid, "t": "usage", "in": max(llama.n_tokens - produced, 0), "out": produced})
    out({"id": rid, "t": "stop", "reason": STOP_REASONS.get(finish, finish)})


def continuation(llama: Any, messages: list[dict[str, Any]]) -> tuple[str, list[str]]:
    """The prompt that continues the assistant's partial reply (the last
    message): the conversation before it in the model's own chat template,
    with the assistant's opening, then the partial text exactly, and no
    end-of-turn token. llama.cpp reuses the evaluated prefix, so only the new
    tokens cost anything. Also the stop strings the template's turn ends with."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    template = llama.metadata.get("tokenizer.chat_template")
    if not template:
        raise ValueError("this model has no chat template to continue a reply with")

    def text_of(token: int) -> str:
        return bytes(llama.detokenize([token], special=True)).decode("utf-8", "replace")

    formatter = Jinja2ChatFormatter(template=template, eos_token=text_of(llama.token_eos()),
                                    bos_token=text_of(llama.token_bos()), add_generation_prompt=True)
    rendered = formatter(messages=messages[:-1])  # type: ignore[arg-type]  # plain dicts of that shape
    stop = rendered.stop if isinstance(rendered.stop, list) else [rendered.stop] if rendered.stop else []
    return rendered.prompt + messages[-1]["content"], stop


def count(llama: Any, command: dict[str, Any], out: Send = send) -> None:
    tokens = llama.tokenize(command["text"].encode("utf-8"), add_bos=False, special=True)
    out({"id": command["id"], "t": "count", "n": len(tokens)})


def main(argv: list[str]) -> int:
    path, n_ctx, threads, parent = argv[0], int(argv[1]), int(argv[2]), int(argv[3])
    die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    commands: queue.Queue[dict[str, Any]] = queue.Queue()
    cancelled: set[int] = set()
    threading.Thread(target=read_commands, args=(commands, cancelled), name="stdin", daemon=True).start()
    try:
        llama = load(path, n_ctx, threads)
    except ImportError:
        send({"t": "error", "message": "the local model needs llama-cpp-python; run: pip install 'chinwag[local]'"})
        return 1
    except Exception as exc:  # llama-cpp-python raises ValueError, RuntimeError, OSError, ...
        reason = " ".join(str(exc).split()) or type(exc).__name__
        send({"t": "error", "message": f"could not load {os.path.basename(path)}: {reason}"})
        return 1
    # llama.cpp pads its context to a multiple of 256, but llama-cpp-python
    # sizes its token buffer to what was asked for: the smaller one is the limit.
    send({"t": "ready", "window": min(llama.n_ctx(), len(llama.input_ids))})
    while True:
        command = commands.get()
        try:
            if command["op"] == "chat":
                chat(llama, command, cancelled)
            elif command["op"] == "count":
                count(llama, command)
        except Exception as exc:  # a bug here must end one request, not the process
            send({"id": command.get("id"), "t": "error", "message": f"the local model failed: {exc}"})


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
