"""--schema on the local model: decoding under a llama.cpp grammar, in the runner.

Run inside the runner process (runner.py), like it importing nothing of chinwag.

`grammar_text` turns a JSON Schema into GBNF with llama-cpp-python's own
converter (`json_schema_to_gbnf`), properties in the schema's order.

`GrammarMask` is how the grammar is applied, as a logits processor. Handed to
llama-cpp-python as `grammar=`, the grammar sampler checks every token of the
vocabulary (49,152 for SmolLM2) against the grammar at every step: measured
at about half the free decode speed (bench/bench_schema_grammar.py). llama.cpp's own samplers (common/sampling.cpp)
check the likeliest token first and the whole vocabulary only when it is
refused; the mask does the same: the likeliest token is checked first
(greedy decoding takes it when allowed), then the TOP likeliest one by one
(greedy decoding stops at the first allowed), and only when none is allowed
is the whole vocabulary checked. Every token left unmasked is one the
grammar allows, so whatever the later samplers pick is too; the mask feeds
each chosen token to the grammar itself (the chain's custom samplers are not
told). With top_k 40 (llama-cpp-python's default), the mask keeps the allowed
tokens among those 40: for greedy decoding exactly what the grammar sampler
would pick.
"""

from __future__ import annotations

import ctypes
import json
import math
from typing import Any

TOP = 40  # tokens checked one by one before the whole vocabulary (llama-cpp-python's top_k)
_TEXTS: dict[str, str] = {}  # GBNF by schema text: a chat sends the same schema every turn


def property_names(node: Any) -> list[str]:
    """Every property name in `node`, in the order the schema gives them (once each)."""
    names: dict[str, None] = {}

    def walk(item: Any) -> None:
        if isinstance(item, dict):
            properties = item.get("properties")
            if isinstance(properties, dict):
                names.update(dict.fromkeys(properties))
            for value in item.values():
                walk(value)
        elif isinstance(item, list):
            for value in item:
                walk(value)

    walk(node)
    return list(names)


def grammar_text(schema: dict[str, Any]) -> str:
    """The GBNF admitting only JSON that matches `schema`, properties in the
    schema's order (the converter's default is alphabetical). ValueError for a
    schema it cannot express: an error reply, not a crash."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    key = json.dumps(schema)
    if key not in _TEXTS:
        try:
            _TEXTS[key] = json_schema_to_gbnf(key, prop_order=property_names(schema))
        except Exception as exc:  # its converter raises whatever the schema trips on
            raise ValueError(f"cannot turn this JSON Schema into a grammar: {exc}") from None
    return _TEXTS[key]


class GrammarMask:
    """A logits processor (`logits_processor=[mask]`) leaving only the tokens
    the grammar allows; see the module docstring. One per reply; `close()` it."""

    def __init__(self, llama: Any, text: str, greedy: bool) -> None:
        import llama_cpp

        self._api = llama_cpp
        self._sampler = llama_cpp.llama_sampler_init_grammar(llama._model.vocab, text.encode(), b"root")
        if not self._sampler:
            raise ValueError("llama.cpp refused the grammar built from this JSON Schema")
        self._greedy = greedy
        self._seen: int | None = None  # tokens of input_ids the grammar has been fed
        self._one = (llama_cpp.llama_token_data * 1)()
        self._one_array = llama_cpp.llama_token_data_array(data=self._one, size=1, selected=-1, sorted=False)

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import numpy as np

        if self._seen is None:
            self._seen = len(input_ids)  # the prompt: nothing of it is the grammar's
        for token in input_ids[self._seen:]:  # what was sampled since the last call
            self._api.llama_sampler_accept(self._sampler, int(token))
        self._seen = len(input_ids)
        kept = np.full_like(scores, -np.inf)
        best = int(scores.argmax())
        if self._greedy and self._allows(best, float(scores[best])):  # most steps: the likeliest is allowed
            kept[best] = scores[best]
            return kept
        top = np.argpartition(scores, -TOP)[-TOP:]
        top = top[np.argsort(-scores[top])]
        allowed: list[int] = []
        for token in top:
            if self._allows(int(token), float(scores[token])):
                allowed.append(int(token))
                if self._greedy:
                    break
        chosen = np.array(allowed, dtype=np.intp) if allowed else self._allowed_anywhere(scores)
        kept[chosen] = scores[chosen]
        return kept

    def _allows(self, token: int, logit: float) -> bool:
        self._one[0] = self._api.llama_token_data(token, logit, 0.0)
        self._api.llama_sampler_apply(self._sampler, ctypes.byref(self._one_array))
        return not math.isinf(self._one[0].logit)

    def _allowed_anywhere(self, scores: Any) -> Any:
        """The whole vocabulary through the grammar: the slow path, when none of the likeliest is allowed."""
        import numpy as np

        n = len(scores)
        data = (self._api.llama_token_data * n)()
        view = np.ctypeslib.as_array(ctypes.cast(data, ctypes.POINTER(ctypes.c_float)), shape=(n * 3,))
        ids = view.view(np.int32)
        ids[0::3] = np.arange(n, dtype=np.int32)
        view[1::3] = scores
        array = self._api.llama_token_data_array(data=data, size=n, selected=-1, sorted=False)
        self._api.llama_sampler_apply(self._sampler, ctypes.byref(array))
        logits = view[1::3]
        return ids[0::3][np.isfinite(logits)].astype(np.intp)

    def close(self) -> None:
        sampler, self._sampler = self._sampler, None
        if sampler:
            self._api.llama_sampler_free(sampler)
