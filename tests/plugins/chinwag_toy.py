"""A toy provider, as a plugin outside chinwag declares one: this module plus
one `ProviderSpec` per provider, listed under the `chinwag.providers` entry
points of a distribution (tests/test_provider_plugin.py writes its dist-info).

`toy` answers without any network, repeating what it was sent (an image as
its size), and takes images of 64 pixels at most: a larger one is downscaled.
`toytext` is the same model declared text only."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from chinwag.attach import image_size
from chinwag.events import Event, Stop, TextDelta, Usage
from chinwag.providers.base import BaseProvider
from chinwag.providers.spec import Attachments, ImageLimits, ProviderSpec
from chinwag.records import ChatRequest, Image

if TYPE_CHECKING:
    from chinwag.config import Settings

MODELS = ["toy-1", "toy-2"]


class ToyProvider(BaseProvider):
    """What it can do (prefill, tools) is read from its declaration, found by its name."""

    def __init__(self, settings: Settings) -> None:
        self.name, self.settings = settings.provider, settings

    @property
    def model_name(self) -> str:
        return self.settings.model or MODELS[0]

    def stream(self, request: ChatRequest) -> Iterator[Event]:
        parts = []
        for block in request.messages[-1].parts:
            if isinstance(block, Image):
                width, height = image_size(block.data) or (0, 0)
                parts.append(f"[image {width}x{height}]")
            else:
                parts.append(getattr(block, "text", ""))
        yield TextDelta(f"{request.model or self.model_name} heard: {' '.join(parts).strip()}")
        yield Usage(3, 5)
        yield Stop("end_turn")

    def list_models(self) -> list[str]:
        return list(MODELS)


SPEC = ProviderSpec(
    "toy", ToyProvider, label="Toy", group="Toy models",
    prefixes=("toy-",), key_variable="TOY_API_KEY", default_model=MODELS[0], needs="key",
    attachments=Attachments(images=ImageLimits(64, 64, 1024 * 1024)),
)
TEXT_SPEC = ProviderSpec(
    "toytext", ToyProvider, label="Toy", group="Toy models",
    key_variable="TOY_API_KEY", default_model=MODELS[0], needs="key",
    attachments=Attachments(text_only="the toy text model"),
)
