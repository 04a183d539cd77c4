"""Templates (issue 24) through the installed `chinwag`: every field reaching
the request, parameters, precedence (flags > template > config.toml), the
--save round trip, `chinwag templates ...`, both imports on sample files
written here, one-line errors, and /template in a real pty.

The model is the scripted fake server on 127.0.0.1 (tests/fakes): what
chinwag sends is read from its recorded requests."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

from tests.cli_helpers import anthropic_env, finish, run_chinwag, start_chat
from tests.fakes.reply import Reply
from tests.fakes.server import ScriptedServer

REVIEW = '''\
system = "You review $lang code for $team."
model = "anthropic:claude-template-model"
temperature = 0.3
max_tokens = 321
tools = ["read_file"]
schema = "name, age int"
prompt = """Review this $lang code:
$input"""

[defaults]
lang = "Python"
'''


def _write(home: Path, name: str, text: str) -> Path:
    path = home / "templates" / f"{name}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _system(request: Any) -> str:
    system = request.json.get("system")
    return system if isinstance(system, str) else "".join(block["text"] for block in system or [])


def _one_line_error(result: Any, *words: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("chinwag: "), result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def test_every_field_and_both_parameters_reach_the_request(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    _write(tmp_path, "review", REVIEW)
    scripted_server.enqueue(Reply(chunks=['{"name": "f", "age": 1}']))  # the template's schema: a JSON reply
    result = run_chinwag(["-t", "review", "-p", "team", "the web team", "def f(): pass"],
                         anthropic_env(tmp_path, scripted_server.base_url))
    assert result.returncode == 0, result.stderr
    assert result.stdout == '{"name": "f", "age": 1}\n'
    sent = scripted_server.requests[0]
    assert sent.json["output_config"]["format"]["schema"]["required"] == ["name", "age"]
    assert sent.json["model"] == "claude-template-model"
    assert sent.json["temperature"] == 0.3
    assert sent.json["max_tokens"] == 321
    assert [tool["name"] for tool in sent.json["tools"]] == ["read_file"]
    assert _system(sent) == "You review Python code for the web team."
    assert sent.json["messages"][0]["content"] == "Review this Python code:\ndef f(): pass"


def test_a_parameter_overrides_its_default_and_piped_text_is_the_input(scripted_server: ScriptedServer,
                                                                         tmp_path: Path) -> None:
    _write(tmp_path, "review", REVIEW)
    scripted_server.enqueue(Reply(chunks=['{"name": "main", "age": 0}']))  # the template's schema: a JSON reply
    result = run_chinwag(["-t", "review", "-p", "lang", "Go", "-p", "team", "ops"],
                         anthropic_env(tmp_path, scripted_server.base_url), input="func main() {}\n")
    assert result.returncode == 0, result.stderr
    sent = scripted_server.requests[0]
    assert _system(sent) == "You review Go code for ops."
    assert sent.json["messages"][0]["content"] == "Review this Go code:\nfunc main() {}"


def test_a_prompt_without_input_gets_the_text_after_it(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    _write(tmp_path, "joke", 'prompt = "Tell a joke about $topic."\n[defaults]\ntopic = "cats"\n')
    scripted_server.enqueue(Reply(chunks=["ok"]), Reply(chunks=["ok"]))
    env = anthropic_env(tmp_path, scripted_server.base_url)
    assert run_chinwag(["-t", "joke"], env, input="").returncode == 0
    assert run_chinwag(["-t", "joke", "keep it short"], env).returncode == 0
    first, second = scripted_server.requests
    assert first.json["messages"][0]["content"] == "Tell a joke about cats."
    assert second.json["messages"][0]["content"] == "Tell a joke about cats.\n\nkeep it short"


def test_a_missing_or_unknown_parameter_is_one_line_naming_it(scripted_server: ScriptedServer,
                                                              tmp_path: Path) -> None:
    _write(tmp_path, "review", REVIEW)
    env = anthropic_env(tmp_path, scripted_server.base_url)
    _one_line_error(run_chinwag(["-t", "review", "code"], env), "team", "-p team VALUE")
    _one_line_error(run_chinwag(["-t", "review", "-p", "team", "x", "-p", "colour", "red", "code"], env),
                    "no parameter colour", "lang, team")
    _one_line_error(run_chinwag(["-p", "team", "x", "code"], env), "-t NAME")
    _one_line_error(run_chinwag(["-t", "review", "-p", "team", "x"], env, input=None), "$input")
    assert scripted_server.requests == []


def test_flags_win_over_the_template_and_the_template_over_config(scripted_server: ScriptedServer,
                                                                 tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('system = "From config."\ntemperature = 0.9\nmax_tokens = 777\n')
    _write(tmp_path, "calm", 'system = "From the template."\ntemperature = 0.2\n')
    scripted_server.enqueue(*(Reply(chunks=["ok"]) for _ in range(3)))
    env = anthropic_env(tmp_path, scripted_server.base_url)
    assert run_chinwag(["hi"], env).returncode == 0
    assert run_chinwag(["-t", "calm", "hi"], env).returncode == 0
    assert run_chinwag(["-t", "calm", "--temperature", "0.5", "-s", "From the flag.", "hi"], env).returncode == 0
    config, template, flags = scripted_server.requests
    assert (_system(config), config.json["temperature"], config.json["max_tokens"]) == ("From config.", 0.9, 777)
    assert (_system(template), template.json["temperature"], template.json["max_tokens"]) == \
        ("From the template.", 0.2, 777)
    assert (_system(flags), flags.json["temperature"], flags.json["max_tokens"]) == ("From the flag.", 0.5, 777)


def test_the_template_wins_over_the_environment_and_is_named_in_notes(scripted_server: ScriptedServer,
                                                                     tmp_path: Path) -> None:
    """CHINWAG_MODEL loses to the template's model, -m beats both; a template setting the
    provider does not take (temperature while thinking) is a note naming the template's
    file, not a refusal of a flag nobody typed."""
    path = _write(tmp_path, "calm", 'model = "anthropic:claude-from-template"\ntemperature = 0.2\n')
    scripted_server.enqueue(*(Reply(chunks=["ok"]) for _ in range(3)))
    env = anthropic_env(tmp_path, scripted_server.base_url, CHINWAG_MODEL="anthropic:claude-from-env")
    assert run_chinwag(["-t", "calm", "hi"], env).returncode == 0
    assert run_chinwag(["-t", "calm", "-m", "anthropic:claude-from-flag", "hi"], env).returncode == 0
    thinking = run_chinwag(["--think", "-t", "calm", "hi"], env)
    assert thinking.returncode == 0, thinking.stderr
    assert f"note: temperature in template {path} is not used with --think" in thinking.stderr
    template, flag, think = scripted_server.requests
    assert (template.json["model"], template.json["temperature"]) == ("claude-from-template", 0.2)
    assert (flag.json["model"], flag.json["temperature"]) == ("claude-from-flag", 0.2)
    assert "temperature" not in think.json and think.json["thinking"]["type"] == "enabled"


def test_save_round_trip(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    env = anthropic_env(tmp_path, scripted_server.base_url)
    saved = run_chinwag(["-s", "You translate into $lang.", "-m", "anthropic:claude-saved", "--temperature", "0.4",
                         "--max-tokens", "99", "-T", "list_files", "-p", "lang", "French", "--save", "translate",
                         "Translate:\n$input"], env)
    assert saved.returncode == 0, saved.stderr
    path = tmp_path / "templates" / "translate.toml"
    assert saved.stdout == f"Saved template translate to {path}.\n"
    assert scripted_server.requests == []  # --save sends nothing
    shown = run_chinwag(["templates", "show", "translate"], env)
    assert shown.stdout == path.read_text()
    scripted_server.enqueue(Reply(chunks=["Bonjour."]))
    result = run_chinwag(["-t", "translate", "Hello"], env)
    assert result.returncode == 0, result.stderr
    sent = scripted_server.requests[0]
    assert (sent.json["model"], sent.json["temperature"], sent.json["max_tokens"]) == ("claude-saved", 0.4, 99)
    assert [tool["name"] for tool in sent.json["tools"]] == ["list_files"]
    assert _system(sent) == "You translate into French."
    assert sent.json["messages"][0]["content"] == "Translate:\nHello"
    # Saved on top of -t: a copy that keeps the schema, with the flag changed.
    _write(tmp_path, "people", 'schema = "name, age int"\nsystem = "Extract people."\n')
    copy = run_chinwag(["-t", "people", "--temperature", "0", "--save", "people2"], env)
    assert copy.returncode == 0, copy.stderr
    text = (tmp_path / "templates" / "people2.toml").read_text()
    assert 'schema = "name, age int"' in text and "temperature = 0" in text and "Extract people." in text


def test_save_refuses_a_bad_template_and_writes_nothing(tmp_path: Path) -> None:
    env = anthropic_env(tmp_path, "http://127.0.0.1:9")
    _one_line_error(run_chinwag(["-T", "rm_rf", "--save", "bad"], env), "rm_rf")
    _one_line_error(run_chinwag(["--save", "empty"], env), "--save NAME saves")
    _one_line_error(run_chinwag(["-s", "x", "--save", "../up"], env), "not a template name")
    assert not (tmp_path / "templates" / "bad.toml").exists()


def test_broken_templates_are_one_line_with_file_line_and_key(tmp_path: Path) -> None:
    env = anthropic_env(tmp_path, "http://127.0.0.1:9")
    broken = _write(tmp_path, "broken", 'system = "ok"\nprompt = "unclosed\n')
    _one_line_error(run_chinwag(["-t", "broken", "hi"], env), str(broken), "line 2")
    typo = _write(tmp_path, "typo", 'system = "ok"\n\ntemprature = 0.5\n')
    _one_line_error(run_chinwag(["-t", "typo", "hi"], env), f"{typo}, line 3", "temprature", "'temperature'")
    tool = _write(tmp_path, "tool", 'tools = ["read_file", "launch_rockets"]\n')
    _one_line_error(run_chinwag(["-t", "tool", "hi"], env), f"{tool}, line 1", "tools", "launch_rockets")
    hot = _write(tmp_path, "hot", 'temperature = 7\n')
    _one_line_error(run_chinwag(["-t", "hot", "hi"], env), f"{hot}, line 1", "temperature")
    dollar = _write(tmp_path, "dollar", 'prompt = "costs $5"\n')
    _one_line_error(run_chinwag(["-t", "dollar", "hi"], env), f"{dollar}, line 1", "$$")
    _one_line_error(run_chinwag(["-t", "revew", "hi"], env), "no template 'revew'")
    _one_line_error(run_chinwag(["templates", "show", "nope"], env), "no template 'nope'")


def test_list_and_path(tmp_path: Path) -> None:
    env = anthropic_env(tmp_path, "http://127.0.0.1:9")
    empty = run_chinwag(["templates", "list"], env)
    assert empty.returncode == 0 and "No templates yet" in empty.stdout
    _write(tmp_path, "review", REVIEW)
    _write(tmp_path, "typo", "modle = 1\n")
    listed = run_chinwag(["templates", "list"], env)
    assert listed.returncode == 0
    lines = listed.stdout.splitlines()
    assert lines[0].split()[:3] == ["review", "Review", "this"]
    assert lines[1].split()[0] == "typo" and "broken" in lines[1]
    path = run_chinwag(["templates", "path"], env)
    assert path.stdout == f"{tmp_path / 'templates'}\n"


def test_edit_runs_the_editor_and_checks_what_it_wrote(tmp_path: Path) -> None:
    editor = tmp_path / "fake-editor"
    editor.write_text('#!/bin/sh\nprintf \'system = "Edited."\\n\' > "$1"\n')
    editor.chmod(editor.stat().st_mode | stat.S_IEXEC)
    env = anthropic_env(tmp_path, "http://127.0.0.1:9", VISUAL=str(editor), EDITOR="false")
    result = run_chinwag(["templates", "edit", "fresh"], env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "templates" / "fresh.toml").read_text() == 'system = "Edited."\n'
    breaker = tmp_path / "breaker"
    breaker.write_text('#!/bin/sh\nprintf \'sytem = "x"\\n\' > "$1"\n')
    breaker.chmod(breaker.stat().st_mode | stat.S_IEXEC)
    broke = run_chinwag(["templates", "edit", "fresh"], {**env, "VISUAL": str(breaker)})
    _one_line_error(broke, "fresh.toml, line 1", "sytem")
    none = {k: v for k, v in env.items() if k not in ("VISUAL", "EDITOR")}
    _one_line_error(run_chinwag(["templates", "edit", "fresh"], none), "$VISUAL or $EDITOR")


def test_import_llm_templates(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    llm = tmp_path / "llm"
    (llm / "templates").mkdir(parents=True)
    (llm / "templates" / "summary.yaml").write_text(
        "system: You summarise for $audience.\nprompt: 'Summarise: $input'\nmodel: gpt-4o-mini\n"
        "defaults:\n  audience: managers\noptions:\n  temperature: 0.1\n  top_p: 0.5\n"
        "schema_object:\n  type: object\n  properties:\n    summary:\n      type: string\nextract: true\n")
    (llm / "templates" / "plain.yaml").write_text("'Just a prompt: $input'\n")
    (llm / "templates" / "broken.yaml").write_text("system: [unclosed\n")
    (llm / "templates" / "dollar.yaml").write_text("prompt: 'costs $ 5'\nmodel: gpt-4o\n")
    home = tmp_path / "home"
    env = anthropic_env(home, scripted_server.base_url, LLM_USER_PATH=str(llm))
    result = run_chinwag(["templates", "import", "llm"], env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("could not convert broken.yaml: cannot read it")
    assert lines[1] == "could not convert dollar.yaml: prompt has a $ that starts no parameter name" \
                       " (write $$ for a dollar sign)."
    assert lines[2] == "converted plain.yaml to plain"
    assert lines[3].startswith("converted summary.yaml to summary; left out:")
    assert "options.top_p" in lines[3] and "extract" in lines[3]
    assert lines[4] == f"2 of 4 llm templates converted from {llm / 'templates'}."
    assert not (home / "templates" / "dollar.toml").exists()
    summary = (home / "templates" / "summary.toml").read_text()
    assert 'model = "openai:gpt-4o-mini"' in summary and "temperature = 0.1" in summary
    assert json.loads(_toml(summary)["schema"]) == {"type": "object", "properties": {"summary": {"type": "string"}}}
    again = run_chinwag(["templates", "import", "llm"], env)
    assert "a template summary exists already" in again.stdout
    scripted_server.enqueue(Reply(chunks=["ok"]))
    assert run_chinwag(["-t", "plain", "-m", "anthropic:claude-x", "hello"], env).returncode == 0
    assert scripted_server.requests[0].json["messages"][0]["content"] == "Just a prompt: hello"


def test_import_from_a_folder_that_is_not_there_is_one_line(tmp_path: Path) -> None:
    env = anthropic_env(tmp_path, "http://127.0.0.1:9", LLM_USER_PATH=str(tmp_path / "no-llm"),
                        AICHAT_CONFIG_DIR=str(tmp_path / "no-aichat"))
    _one_line_error(run_chinwag(["templates", "import", "llm"], env), str(tmp_path / "no-llm" / "templates"),
                    "LLM_USER_PATH")
    _one_line_error(run_chinwag(["templates", "import", "aichat"], env), str(tmp_path / "no-aichat" / "roles"))
    _one_line_error(run_chinwag(["templates", "import", "fabric"], env), "invalid choice")


def test_import_aichat_roles(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    roles = tmp_path / "aichat" / "roles"
    roles.mkdir(parents=True)
    (roles / "shell.md").write_text("---\nmodel: claude:claude-3-5-haiku\ntemperature: 0.2\n"
                                    "use_tools: fs, read_file\ntop_p: 0.9\n---\n"
                                    "Turn this into one shell command (costs $0):\n__INPUT__\n")
    (roles / "pirate.md").write_text("Talk like a pirate.\n")
    (roles / "gemini.md").write_text("---\nmodel: gemini:gemini-pro\n---\nBe brief.\n")
    (roles / "bad.md").write_text("---\nmodel: [\n---\nx\n")
    home = tmp_path / "home"
    env = anthropic_env(home, scripted_server.base_url, AICHAT_CONFIG_DIR=str(tmp_path / "aichat"))
    result = run_chinwag(["templates", "import", "aichat"], env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("could not convert bad.md: cannot read it")
    assert lines[1].startswith("converted gemini.md to gemini; left out: model 'gemini:gemini-pro'")
    assert lines[2] == "converted pirate.md to pirate"
    assert lines[3].startswith("converted shell.md to shell; left out:") and "'fs'" in lines[3] \
        and "top_p" in lines[3]
    assert lines[4] == f"3 of 4 aichat roles converted from {roles}."
    shell = _toml((home / "templates" / "shell.toml").read_text())
    assert shell == {"model": "anthropic:claude-3-5-haiku", "temperature": 0.2, "tools": ["read_file"],
                     "prompt": "Turn this into one shell command (costs $$0):\n$input"}
    scripted_server.enqueue(Reply(chunks=["ls"]), Reply(chunks=["Arr"]))
    assert run_chinwag(["-t", "shell", "list files"], env).returncode == 0
    assert run_chinwag(["-t", "pirate", "hi"], env).returncode == 0
    shell_request, pirate_request = scripted_server.requests
    assert shell_request.json["model"] == "claude-3-5-haiku"
    assert shell_request.json["messages"][0]["content"] == "Turn this into one shell command (costs $0):\nlist files"
    assert _system(pirate_request) == "Talk like a pirate."


def test_t_without_a_prompt_starts_the_chat_with_its_settings(scripted_server: ScriptedServer,
                                                             tmp_path: Path) -> None:
    """A real pty: `chinwag -t terse` is the chat, each message sent with the template's settings."""
    _write(tmp_path, "terse", 'system = "You are terse."\ntemperature = 0.1\nmax_tokens = 64\n')
    scripted_server.enqueue(Reply(chunks=["Hi."]))
    child = start_chat(anthropic_env(tmp_path, scripted_server.base_url), ["-t", "terse"])
    child.sendline("hello")
    child.expect("Hi.")
    child.expect("You: ")
    child.sendline("quit")
    assert finish(child) == 0
    sent = scripted_server.requests[0]
    assert (_system(sent), sent.json["temperature"], sent.json["max_tokens"]) == ("You are terse.", 0.1, 64)


def test_template_in_the_chat_completes_and_applies(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    """A real pty: Tab completes the name, and the next message carries the template's settings."""
    _write(tmp_path, "reviewer", 'system = "You review $lang."\nmodel = "anthropic:claude-chat-template"\n'
                                 'temperature = 0.25\n[defaults]\nlang = "Rust"\n')
    scripted_server.enqueue(Reply(chunks=["Before."]), Reply(chunks=["After."]), Reply(chunks=["Third."]))
    child = start_chat(anthropic_env(tmp_path, scripted_server.base_url))
    child.sendline("hi")
    child.expect("Before.")
    child.expect("You: ")
    child.send("/template rev\t")
    child.expect("reviewer")
    child.sendline("")
    child.expect("Now using template reviewer: system prompt, anthropic:claude-chat-template, temperature 0.25.")
    child.expect("You: ")
    child.sendline("/template nope")
    child.expect("no template 'nope'")
    child.expect("You: ")
    child.sendline("again")
    child.expect("After.")
    child.expect("You: ")
    child.sendline("/model anthropic:claude-next")
    child.expect("Now using anthropic:claude-next")
    child.expect("You: ")
    child.sendline("third")
    child.expect("Third.")
    child.expect("You: ")
    child.sendline("quit")
    assert finish(child) == 0
    before, after, third = scripted_server.requests
    assert (third.json["model"], third.json["temperature"], _system(third)) == \
        ("claude-next", 0.25, "You review Rust.")  # /model keeps the template's options
    assert "temperature" not in before.json or before.json["temperature"] != 0.25
    assert (after.json["model"], after.json["temperature"], _system(after)) == \
        ("claude-chat-template", 0.25, "You review Rust.")
    assert [m["content"] for m in after.json["messages"]][-1] == "again"


def _toml(text: str) -> dict[str, Any]:
    import tomllib

    return tomllib.loads(text)
