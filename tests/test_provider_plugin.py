"""A new provider is one module plus one row: a toy provider registered from
the tests, through the `chinwag.providers` entry-point group a user's plugin
would use, is found by `chinwag models`, the one-shot, the chat's `/model`,
the page's model picker and upload, and the attachment checks, with no file
of chinwag changed.

The plugin is installed the way pip leaves one: a `*.dist-info` directory
with an `entry_points.txt`, on the child's PYTHONPATH (with the toy module,
tests/plugins/chinwag_toy.py). Nothing is simulated: the real `chinwag`
command runs in a subprocess, a pseudo-terminal, or as `chinwag serve` driven
by Chromium. One test registers the toy in this process (`registry.register`)
to use it from the Python API."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from PIL import Image as PILImage

from chinwag import Chat
from chinwag.config import resolve
from chinwag.errors import UsageError
from chinwag.providers import registry
from tests.cli_helpers import chinwag_env, finish, run_chinwag, spawn_chinwag
from tests.test_web_support import serve

PLUGINS = Path(__file__).parent / "plugins"
ENTRY_POINTS = """\
[chinwag.providers]
toy = chinwag_toy:SPEC
toytext = chinwag_toy:TEXT_SPEC
"""


def plugin_env(tmp_path: Path, entry_points: str = ENTRY_POINTS, **extra: str) -> dict[str, str]:
    """chinwag's environment with the toy plugin installed (and its key set)."""
    site = tmp_path / "site"
    dist = site / "chinwag_toy-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: chinwag-toy\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(entry_points)
    path = os.pathsep.join(p for p in (os.environ.get("PYTHONPATH", ""), str(site), str(PLUGINS)) if p)
    return chinwag_env(tmp_path / "home", PYTHONPATH=path, TOY_API_KEY="toy-key", **extra)


def picture(path: Path, size: tuple[int, int]) -> Path:
    PILImage.new("RGB", size, (20, 120, 200)).save(path, "PNG")
    return path


def test_chinwag_models_lists_the_plugins_providers_and_a_broken_plugin_is_one_line(tmp_path: Path) -> None:
    env = plugin_env(tmp_path, ENTRY_POINTS + "broken = chinwag_toy:NO_SUCH_SPEC\n")
    result = run_chinwag(["models"], env)
    assert result.returncode == 0, result.stderr
    for spec in ("toy:toy-1", "toy:toy-2", "toytext:toy-1"):
        assert f"  {spec}\n" in result.stdout
    assert "provider plugin 'broken' (chinwag_toy:NO_SUCH_SPEC) failed to load" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_one_shot_talks_to_the_toy_by_name_and_by_its_prefix(tmp_path: Path) -> None:
    env = plugin_env(tmp_path)
    named = run_chinwag(["-m", "toy:toy-2", "hello there"], env)
    assert named.returncode == 0, named.stderr
    assert "toy-2 heard: hello there" in named.stdout
    bare = run_chinwag(["-m", "toy-1", "and again"], env)  # a bare name its prefix claims
    assert bare.returncode == 0, bare.stderr
    assert "toy-1 heard: and again" in bare.stdout


def test_an_image_is_downscaled_to_the_toys_limit_and_refused_by_the_text_only_toy(tmp_path: Path) -> None:
    env = plugin_env(tmp_path)
    image = picture(tmp_path / "pic.png", (300, 200))
    fitted = run_chinwag(["-m", "toy", "-a", str(image), "look"], env)
    assert fitted.returncode == 0, fitted.stderr
    assert "downscaled from 300×200 for toy" in fitted.stdout + fitted.stderr
    assert re.search(r"toy-1 heard: \[image 64x4\d\] ?look", fitted.stdout), fitted.stdout
    refused = run_chinwag(["-m", "toytext", "-a", str(image), "look"], env)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        "chinwag: the toy text model reads text only and cannot take pic.png (an image);"
        " use a model that sees images, e.g. -m anthropic:NAME."]
    assert refused.stdout == ""


def test_the_chat_switches_to_the_toy_with_slash_model(tmp_path: Path) -> None:
    env = plugin_env(tmp_path)
    image = picture(tmp_path / "pic.png", (300, 200))
    child = spawn_chinwag(["-m", "toy:toy-1"], env, cwd=tmp_path)
    child.expect("You: ")
    child.sendline("hi")
    child.expect("Toy: ")
    child.expect("toy-1 heard: hi")
    child.expect("You: ")
    child.send("/model toyt\t")  # Tab completes a plugin's name as it does a built-in one's
    child.expect("toytext:")
    child.sendcontrol("u")
    child.sendline("/model toy:toy-2")
    child.expect("Now using toy:toy-2")
    child.sendline("again")
    child.expect("toy-2 heard: again")
    child.expect("You: ")
    child.sendline("/model toytext:")
    child.expect("Now using toytext:toy-1")
    child.sendline(f"/attach {image}")
    child.expect("the toy text model reads text only and cannot take pic.png")
    child.expect("You: ")
    child.sendline("quit")
    assert finish(child) == 0


def test_the_pages_picker_offers_the_toy_and_its_uploads_meet_the_toys_limits(tmp_path: Path) -> None:
    env = plugin_env(tmp_path)
    image = picture(tmp_path / "pic.png", (300, 200)).read_bytes()
    with serve(env) as served:
        _, _, body = served.request("GET", "/api/models")
        models = json.loads(body)["models"]
        assert {"spec": "toy:toy-1", "label": "toy-1 · Toy models", "group": "Toy models"} in models
        _, _, body = served.request("GET", "/api/models?wait=1")
        listed = json.loads(body)["models"]
        assert {"spec": "toy:toy-2", "label": "toy-2 · Toy models", "group": "Toy models"} in listed

        status, _, data = served.request("POST", "/api/attach?name=pic.png&model=toy:toy-2", body=image)
        assert status == 200, data
        upload = json.loads(data)
        assert "downscaled from 300×200 for toy" in upload["line"]
        sent = json.dumps({"text": "see", "model": "toy:toy-2", "attachments": [upload["id"]]}).encode()
        status, _, stream = served.request("POST", "/api/chat", body=sent)
        assert status == 200 and re.search(rb"toy-2 heard: \[image 64x4\d\] ?see", stream), stream

        status, _, data = served.request("POST", "/api/attach?name=pic.png&model=toytext:toy-1", body=image)
        assert status == 400, data
        assert "the toy text model reads text only" in json.loads(data)["error"]


@pytest.mark.parametrize("model", ["anthropic:claude-test", "local", "openai:gpt-4o-mini"])
def test_a_built_in_model_never_reads_the_entry_points(tmp_path: Path, model: str) -> None:
    """Start-up stays fast: resolving a built-in model, as the chat does before
    its prompt, imports no importlib.metadata (the entry-point scan)."""
    env = plugin_env(tmp_path, ANTHROPIC_API_KEY="k", OPENAI_API_KEY="k")
    code = ("import sys, pathlib; from chinwag.config import resolve; "
            f"s = resolve(dict(__import__('os').environ), pathlib.Path('.'), {{'model': {model!r}}}); "
            "print(s.provider, 'importlib.metadata' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [model.partition(":")[0], "False"]


def test_register_from_python_and_the_declaration_decides_prefill_and_tools(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`registry.register` in this process (undone after: monkeypatch restores
    the table); the Python API chats with it, and what it can do is what its
    row declares, not a check elsewhere."""
    monkeypatch.syspath_prepend(str(PLUGINS))
    import chinwag_toy

    monkeypatch.setattr(registry, "PROVIDERS", registry.PROVIDERS)
    registry.register(chinwag_toy.SPEC)
    registry.register(replace(chinwag_toy.SPEC, name="toyplus", prefill="always",
                              settings=frozenset({"temperature", "max_tokens", "tools"})))
    env = chinwag_env(tmp_path, TOY_API_KEY="toy-key")
    with Chat("toyplus:toy-2", environ=env, save=False) as chat:
        assert chat.ask("hi").text == "toy-2 heard: hi"
    plain, plus = (registry.build(resolve(env, tmp_path, {"model": spec})) for spec in ("toy:", "toyplus:"))
    assert (plain.supports_prefill, plain.supports_tools) == (False, False)
    assert (plus.supports_prefill, plus.supports_tools) == (True, True)
    with pytest.raises(UsageError, match="built into chinwag"):
        registry.register(replace(chinwag_toy.SPEC, name="openai"))



def test_chromium_picks_the_toy_from_the_page_and_chats_with_it(tmp_path: Path, browser: Any) -> None:
    with serve(plugin_env(tmp_path)) as served:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        page.set_default_timeout(20_000)  # generous: the machine is shared
        page.goto(served.url)
        page.wait_for_selector("#model option[value='toy:toy-1']", state="attached")
        page.hover("#model")  # reaching for the picker lists each provider's models
        page.wait_for_selector("#model optgroup[label='Toy models'] option[value='toy:toy-2']", state="attached")
        page.select_option("#model", "toy:toy-2")
        page.fill("#input", "hello page")
        page.press("#input", "Enter")
        page.wait_for_selector(".msg.assistant:has-text('toy-2 heard: hello page')")
        context.close()
