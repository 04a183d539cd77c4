"""What a provider declares about itself: one frozen `ProviderSpec` per provider.

Everything chinwag needs to know about a provider without building it is
here, in one row of `providers/registry.py` (or a plugin's, see `register`):
how the chat and the page name it, which environment variables it reads,
what it needs to be configured, which settings it takes, whether it continues
a partial reply (prefill), and what it accepts as attachments. Configuration,
`chinwag models`, `/model`, the page's model picker and the attachment checks
read these declarations; none of them names a provider.

This module imports nothing heavy, and defines one dataclass: it is read before
the prompt is drawn.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NamedTuple

if TYPE_CHECKING:
    from chinwag.config import Settings
    from chinwag.providers.base import Provider

IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
MAX_ATTACHMENT_BYTES = 32 * 1024 * 1024  # one attachment above this is refused before it is read whole


class ImageLimits(NamedTuple):  # a NamedTuple, as Attachments: a third of a dataclass's cost to define
    """What a provider takes in one image: over `max_edge` pixels or `max_bytes`
    of base64 it is downscaled to `long_edge` (the provider's recommended size)."""

    long_edge: int
    max_edge: int
    max_bytes: int


class Attachments(NamedTuple):
    """What a provider's models take besides text. A text-only model (`text_only`
    names it in the refusal) takes no images and no PDFs."""

    text_only: str | None = None  # e.g. "the bundled local model"; None: it sees images
    image_types: tuple[str, ...] = IMAGE_TYPES
    images: ImageLimits = ImageLimits(2048, 2048, 20 * 1024 * 1024)  # OpenAI's, and any compatible server's
    documents: bool = True  # PDFs sent as documents (else refused: send their text with --as-text)
    max_bytes: int = MAX_ATTACHMENT_BYTES  # one attachment, read and sent whole

    def refusal(self, kind: Literal["image", "document"], media: str = "") -> str | None:
        """Why this provider cannot take an attachment of `kind`, or None if it can."""
        if self.text_only:
            return f"{self.text_only} reads text only"
        if kind == "image" and media and media not in self.image_types:
            return f"it takes {', '.join(t.removeprefix('image/').upper() for t in self.image_types)} images only"
        if kind == "document" and not self.documents:
            return "it takes no PDFs"
        return None


Needs = Literal["key", "key or url", "nothing"]
Prefill = Literal["always", "per server", "never"]
# Settings a provider may honour; a request carries them all, a provider reads those it takes.
Setting = Literal["temperature", "max_tokens", "thinking", "tools", "prefill", "context_size",
                  "timeout", "retries"]
# The settings a user sets by name (a flag, a config.toml key, a variable), the keys
# they are set with, and what they are in words. A setting given to a provider that
# does not take it is refused or noted (`not_taken`), never silently dropped. Not
# here: "tools" (the chat says once that a model cannot call them) and "prefill"
# (set only in the table of the provider that takes it, [openai] prefill).
SETTING_KEYS: dict[Setting, tuple[str, ...]] = {
    "temperature": ("temperature",), "max_tokens": ("max_tokens",), "thinking": ("think",),
    "context_size": ("context_size",), "timeout": ("timeout",), "retries": ("retries", "max_retry_wait"),
}
SETTING_WORDS: dict[Setting, str] = {
    "temperature": "a temperature", "max_tokens": "a reply length (max_tokens)", "thinking": "thinking",
    "context_size": "a context size", "timeout": "a server timeout", "retries": "retries",
}


@dataclass(frozen=True)
class ProviderSpec:
    """One provider, declared: a new provider is a module plus one of these."""

    name: str  # as in "-m NAME:MODEL"
    build: Callable[[Settings], Provider]  # imports the provider's module and makes it (may raise UsageError)
    label: str = "Assistant"  # what the chat calls the model ("Claude: ...")
    group: str = ""  # what the page's picker calls the provider ("" = the label)
    prefixes: tuple[str, ...] = ()  # bare model names starting with these mean this provider
    key_variable: str | None = None  # where its API key is read from, if it takes one
    url_variable: str | None = None  # where its base URL is read from, if it has one
    default_model: str = ""  # "" means: the server's first model, or the bundled one
    needs: Needs = "nothing"  # what must be set for it to be configured
    servers_choose: bool = False  # at a base URL of the user's own, the server's first model is the default
    settings: frozenset[Setting] = frozenset({"temperature", "max_tokens"})
    prefill: Prefill = "never"  # whether a final assistant message is continued (/continue)
    attachments: Attachments = Attachments()
    unnamed_model: str = ""  # the picker's words for its default model when it has no name
    models_are_files: bool = False  # a model is a file's path (the picker shows its name)
    lists_models: bool = True  # the page asks its server for more models
    requires: str | None = None  # a module that must be importable for the page to offer it
    runs_here: bool = False  # each one built runs a model on this machine (the page keeps one idle)
    # Settings it takes, but not together: (one, the other that is then ignored, why).
    conflicts: tuple[tuple[Setting, Setting, str], ...] = ()

    @property
    def tools(self) -> bool:
        return "tools" in self.settings

    @property
    def picker_group(self) -> str:
        return self.group or self.label

    def picker_label(self, model: str) -> str:
        """How the page's model picker shows `model` ("" for the default one)."""
        if not model:
            return self.unnamed_model or f"{self.picker_group} · the server's first model"
        if self.models_are_files:
            return f"{self.name} · {Path(model).name}"
        return f"{model} · {self.picker_group}"


class NotTaken(NamedTuple):
    """A setting the user gave that the provider will not use, in one line."""

    line: str  # e.g. "--think: the openai provider does not take thinking (--think); anthropic does."
    from_flags: bool  # given on this command line (or to the API), not in a file or the environment


def not_taken(spec: ProviderSpec, find: Callable[..., tuple[object, str | None, str]],
              others: tuple[ProviderSpec, ...] = ()) -> list[NotTaken]:
    """Each setting given (`find(*keys)` -> value, layer label, where in words:
    config.Sources.find) that `spec` does not take, or takes but not with another
    one given (`conflicts`); `others` are named as the providers that do take it."""
    found: list[NotTaken] = []
    given: dict[Setting, tuple[str, bool]] = {}
    for setting, keys in SETTING_KEYS.items():
        value, label, where = find(*keys)
        if value is None:
            continue
        given[setting] = (where, label == "flags")
        if setting not in spec.settings:
            takers = [p.name for p in others if setting in p.settings and p.name != spec.name]
            also = f"; {', '.join(takers)} {'does' if len(takers) == 1 else 'do'}" if takers else ""
            found.append(NotTaken(f"{where}: the {spec.name} provider does not take {SETTING_WORDS[setting]}"
                                  f"{also}.", label == "flags"))
    for one, other, why in spec.conflicts:
        if one in given and other in given:
            (where_one, flag_one), (where_other, flag_other) = given[one], given[other]
            found.append(NotTaken(f"{where_other} is not used with {where_one}: {why}.", flag_one and flag_other))
    return found
