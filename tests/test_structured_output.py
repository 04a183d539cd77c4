"""Structured output (issue 24): `--schema SCHEMA`, `--schema-multi`, `Chat.ask(schema=...)`.

Driven as a script meets it: the installed `chinwag` with pipes (stdout must be
the JSON and nothing else) against the scripted Anthropic/OpenAI server on
127.0.0.1, which records each request's body; and the bundled SmolLM2 model in
its own process, decoding under the grammar built from the schema.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import jsonschema
import pytest

from chinwag.errors import UsageError
from chinwag.schema_spec import concise, parse_schema
from tests.cli_helpers import anthropic_env, chinwag_env, run_chinwag
from tests.fakes.reply import Reply
from tests.fakes.server import ScriptedServer

PERSON = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
          "required": ["name", "age"]}


def _errors(stderr: str) -> list[str]:
    """stderr's lines but the notice of where the test server's base URL came from."""
    return [line for line in stderr.splitlines() if not line.startswith("chinwag: using ")]


def _db(home: Path) -> Path:
    found = list(home.rglob("*.db"))
    assert len(found) == 1, found
    return found[0]


# -- llm's concise syntax ------------------------------------------------------

def test_concise_syntax_reads_as_llm_reads_it() -> None:
    assert concise("name, age int, bio: a short biography") == {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"},
                       "bio": {"type": "string", "description": "a short biography"}},
        "required": ["name", "age", "bio"]}
    # Newlines separate fields when there is one: commas then belong to descriptions.
    assert concise("name\nscore float: from 0, to 1\nok bool") == {
        "type": "object",
        "properties": {"name": {"type": "string"}, "score": {"type": "number", "description": "from 0, to 1"},
                       "ok": {"type": "boolean"}},
        "required": ["name", "score", "ok"]}
    assert concise("title str")["properties"] == {"title": {"type": "string"}}


def test_multi_wraps_the_schema_as_llm_does() -> None:
    assert parse_schema("name, age int", multi=True) == {
        "type": "object", "properties": {"items": {"type": "array", "items": PERSON}}, "required": ["items"]}


@pytest.mark.parametrize(("text", "words"), [
    ("name, age integer", "unknown type 'integer'"),
    ("name, : a field without a name", "has no name"),
    ("full name str", "is not NAME [TYPE]"),
    ("  ,  ", "is empty"),
    ('{"type": "object",', "not valid JSON"),
    ('{"type": 12}', "not a valid JSON Schema"),
    ('[{"type": "object"}]', "a JSON Schema is a JSON object"),
    ("missing/schema.json", "no such file"),
    ('{"type": "object", "properties": {"a": {"$ref": "https://example.com/a.json"}}}', "points outside the schema"),
])
def test_a_bad_schema_is_one_line(text: str, words: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_schema(text)
    assert words in caught.value.message and "\n" not in caught.value.message


def test_a_ref_within_the_schema_is_followed_and_nothing_is_fetched() -> None:
    from chinwag.records import Reply as ChatReply
    from chinwag.structured import checked

    schema = parse_schema('{"$defs": {"age": {"type": "integer"}}, "type": "object",'
                          ' "properties": {"age": {"$ref": "#/$defs/age"}}, "required": ["age"]}')
    assert checked(ChatReply(text='{"age": 3}', status="complete"), schema).data == {"age": 3}
    assert "is not of type 'integer'" in (checked(ChatReply(text='{"age": "x"}', status="complete"), schema).error
                                          or "")
    dangling = {"type": "object", "properties": {"a": {"$ref": "#/$defs/missing"}}}
    failed = checked(ChatReply(text='{"a": 1}', status="complete"), dangling)
    assert failed.status == "error" and "names nothing in it" in (failed.error or "")


def test_a_schema_file_and_inline_json_are_read(tmp_path: Path) -> None:
    path = tmp_path / "person.schema.json"
    path.write_text(json.dumps(PERSON))
    assert parse_schema(str(path)) == PERSON
    assert parse_schema(json.dumps(PERSON)) == PERSON


def test_a_bad_schema_on_the_command_line_is_exit_2_before_anything_is_sent(
        scripted_server: ScriptedServer, tmp_path: Path) -> None:
    result = run_chinwag(["--schema", "age integer", "hi"], anthropic_env(tmp_path, scripted_server.base_url))
    assert result.returncode == 2
    assert result.stderr == "chinwag: --schema: unknown type 'integer' for 'age'; use one of int, float, str, bool.\n"
    assert scripted_server.requests == [] and result.stdout == ""
    lone = run_chinwag(["--schema-multi", "hi"], anthropic_env(tmp_path, scripted_server.base_url))
    assert lone.returncode == 2 and "--schema-multi needs --schema" in lone.stderr


# -- the wire formats ----------------------------------------------------------

def test_anthropic_gets_output_config_format_and_stdout_is_the_json_alone(
        scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=['{"name": "Ada', '", "age": 36}']))
    result = run_chinwag(["--stats", "--schema", "name, age int", "Invent a person"],
                         anthropic_env(tmp_path, scripted_server.base_url))
    assert result.returncode == 0, result.stderr
    assert result.stdout == '{"name": "Ada", "age": 36}\n'  # no stats, no markdown, one line
    assert " tok" in _errors(result.stderr)[-1]  # --stats' line is stderr's
    body = scripted_server.requests[0].json
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": {
        **PERSON, "additionalProperties": False}}}  # structured outputs want every object closed
    assert "anthropic-beta" not in scripted_server.requests[0].headers  # the GA field needs no beta header


def test_openai_gets_response_format_json_schema_strict(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=['{"items": [{"name": "Ada", "age": 36}]}']))
    env = chinwag_env(tmp_path, OPENAI_BASE_URL=scripted_server.base_url + "/v1")
    result = run_chinwag(["-m", "openai:m", "--schema", "name, age int", "--schema-multi", "two people"], env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"items": [{"name": "Ada", "age": 36}]}
    body = scripted_server.requests[-1].json
    closed = {**PERSON, "additionalProperties": False}
    assert body["response_format"] == {"type": "json_schema", "json_schema": {
        "name": "reply", "strict": True, "schema": {
            "type": "object", "properties": {"items": {"type": "array", "items": closed}},
            "required": ["items"], "additionalProperties": False}}}


def test_an_optional_property_is_sent_without_strict(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    """OpenAI's strict mode refuses a property that is not required: such a schema goes as it is, strict off."""
    optional = {"type": "object", "properties": {"name": {"type": "string"}, "nick": {"type": "string"}},
                "required": ["name"]}
    scripted_server.enqueue(Reply(chunks=['{"name": "Ada"}']))
    env = chinwag_env(tmp_path, OPENAI_BASE_URL=scripted_server.base_url + "/v1")
    result = run_chinwag(["-m", "openai:m", "--schema", json.dumps(optional), "hi"], env)
    assert result.returncode == 0, result.stderr
    assert scripted_server.requests[-1].json["response_format"]["json_schema"] == {
        "name": "reply", "strict": False, "schema": optional}


def test_a_server_refusing_json_schema_gets_json_object_and_the_schema_in_the_system_prompt_once(
        scripted_server: ScriptedServer, tmp_path: Path) -> None:
    """A server that answers 400 to response_format json_schema: asked again at once with
    json_object, the schema in words in the system prompt; said once on stderr."""
    from chinwag import Chat

    scripted_server.enqueue(Reply(status=400, error_message="response_format type json_schema is not supported"),
                            Reply(chunks=['```json\n{"name": "Ada", "age": 36}\n```']),
                            Reply(chunks=['{"name": "Bob", "age": 7}']))
    env = chinwag_env(tmp_path, OPENAI_BASE_URL=scripted_server.base_url + "/v1")
    with Chat("openai:m", environ=env, cwd=tmp_path, save=False) as chat:
        events = list(chat.stream("a person", schema="name, age int"))
        second = chat.ask("another", schema="name, age int")
    notices = [e.text for e in events if e.type == "notice"]
    assert len(notices) == 1 and "refused response_format json_schema" in notices[0]
    assert chat.messages[1].content.startswith("```json")  # the text kept as it came
    assert second.data == {"name": "Bob", "age": 7}
    refused, fallback, later = (r.json for r in scripted_server.requests if r.path.endswith("/chat/completions"))
    assert refused["response_format"]["type"] == "json_schema"
    for body in (fallback, later):  # the server is asked that way from then on, without another notice
        assert body["response_format"] == {"type": "json_object"}
        system = body["messages"][0]
        assert system["role"] == "system" and json.dumps(PERSON) in system["content"]


# -- invalid output --------------------------------------------------------------

def test_invalid_output_is_one_line_exit_1_and_the_raw_text_is_saved(
        scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=['{"name": "Ada", "age": "old"}']))
    result = run_chinwag(["--schema", "name, age int", "Invent a person"],
                         anthropic_env(tmp_path, scripted_server.base_url))
    assert result.returncode == 1
    assert result.stdout == ""
    assert _errors(result.stderr) == ["chinwag: the reply does not match the schema at age: 'old' is not of type"
                                      " 'integer'; its text is saved in the history."]
    with sqlite3.connect(_db(tmp_path)) as conn:
        content, status, schema = conn.execute(
            "SELECT content, status, schema FROM messages WHERE role = 'assistant'").fetchone()
    assert (content, status, json.loads(schema)) == ('{"name": "Ada", "age": "old"}', "error", PERSON)


def test_text_that_is_not_json_is_one_line_exit_1(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=["Sure! Here is a person: Ada, 36."]))
    result = run_chinwag(["--schema", "name, age int", "Invent a person"],
                         anthropic_env(tmp_path, scripted_server.base_url))
    assert (result.returncode, result.stdout) == (1, "")
    [line] = _errors(result.stderr)
    assert line.startswith("chinwag: the reply is not valid JSON (")


def test_json_events_still_work_and_done_carries_the_data(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=['{"name": "Ada",', ' "age": 36}']))
    result = run_chinwag(["--json", "--schema", "name, age int", "hi"], anthropic_env(tmp_path, scripted_server.base_url))
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["type"] for e in events] == ["text", "text", "usage", "stop", "done"]
    assert events[-1]["status"] == "complete" and events[-1]["data"] == {"name": "Ada", "age": 36}
    scripted_server.enqueue(Reply(chunks=['{"name": 1}']))
    bad = run_chinwag(["--json", "--schema", "name, age int", "hi"], anthropic_env(tmp_path, scripted_server.base_url))
    done = json.loads(bad.stdout.splitlines()[-1])
    assert bad.returncode == 1 and done["status"] == "error" and "does not match the schema" in done["error"]


# -- history -------------------------------------------------------------------

def test_history_keeps_the_schema_and_export_shows_a_json_code_block(
        scripted_server: ScriptedServer, tmp_path: Path) -> None:
    scripted_server.enqueue(Reply(chunks=['{"name":"Ada","age":36}']), Reply(chunks=["plain *words*"]))
    env = anthropic_env(tmp_path, scripted_server.base_url)
    assert run_chinwag(["--schema", "name, age int", "Invent a person"], env).returncode == 0
    assert run_chinwag(["-c", "thanks"], env).returncode == 0  # a free reply after it: no schema, no block
    exported = run_chinwag(["history", "export", "last"], env)
    assert exported.returncode == 0, exported.stderr
    assert '## Claude\n\n```json\n{\n  "name": "Ada",\n  "age": 36\n}\n```\n' in exported.stdout
    assert "## Claude\n\nplain *words*\n" in exported.stdout
    as_json = json.loads(run_chinwag(["history", "export", "last", "--format", "json"], env).stdout)
    assert [m.get("schema") for m in as_json["messages"]] == [None, PERSON, None, None]
    with sqlite3.connect(_db(tmp_path)) as conn:
        schemas = conn.execute("SELECT schema FROM messages WHERE role = 'assistant' ORDER BY id").fetchall()
        migrations = {name for (name,) in conn.execute("SELECT name FROM migrations")}
    assert [json.loads(s) if s else None for (s,) in schemas] == [PERSON, None]
    assert "m008_reply_schema" in migrations


# -- the Python API --------------------------------------------------------------

def test_chat_ask_with_a_schema_returns_data(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    from chinwag import Chat

    scripted_server.enqueue(Reply(chunks=['{"name": "Ada", "age": 36}']), Reply(chunks=["free text"]))
    env = anthropic_env(tmp_path, scripted_server.base_url)
    with Chat("anthropic:claude-x", environ=env, cwd=tmp_path, save=False) as chat:
        reply = chat.ask("a person", schema=PERSON)
        free = chat.ask("say something")
    assert reply.status == "complete" and reply.data == {"name": "Ada", "age": 36}
    assert free.data is None and free.text == "free text"
    first, second = (r.json for r in scripted_server.requests if r.path == "/v1/messages")
    assert "output_config" in first and "output_config" not in second  # a schema for that one question only


def test_chat_ask_raises_the_typed_error_for_invalid_output(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    from chinwag import Chat, InvalidStructuredOutput

    scripted_server.enqueue(Reply(chunks=['{"name": "Ada"}']))
    with Chat("anthropic:claude-x", environ=anthropic_env(tmp_path, scripted_server.base_url), cwd=tmp_path,
              save=False) as chat:
        with pytest.raises(InvalidStructuredOutput, match="'age' is a required property"):
            chat.ask("a person", schema="name, age int", raise_errors=True)
        assert chat.messages[-1].content == '{"name": "Ada"}'  # kept, as any reply is


# -- the bundled model, under a grammar --------------------------------------------

def test_the_bundled_model_returns_json_that_validates(tmp_path: Path) -> None:
    """The real 135M model in its own process: without a grammar it rarely writes
    this JSON; under the grammar built from the schema it must."""
    schema = parse_schema("name, age int, likes_tea bool, city: where they live")
    result = run_chinwag(["-m", "local", "--max-tokens", "120", "--schema", json.dumps(schema),
                          "Invent a person"], chinwag_env(tmp_path), timeout=120)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    jsonschema.validate(data, schema)
    assert list(data) == ["name", "age", "likes_tea", "city"]  # in the schema's order, not llama.cpp's sorted one


def test_the_bundled_model_with_schema_multi_returns_a_list(tmp_path: Path) -> None:
    from chinwag import Chat

    with Chat("local", environ=chinwag_env(tmp_path), cwd=tmp_path, save=False, max_tokens=200) as chat:
        reply = chat.ask("Name two colours", schema=parse_schema("colour, hex", multi=True))
    assert reply.status == "complete", reply.error
    jsonschema.validate(reply.data, parse_schema("colour, hex", multi=True))


def test_the_grammar_finds_tokens_the_model_would_never_rank_first(tmp_path: Path) -> None:
    """An enum of made-up words: none of the model's likeliest tokens spells them,
    so the mask must fall back to the whole vocabulary (grammar.py's slow path)."""
    schema = {"type": "object", "properties": {"code": {"enum": ["zqxv-kwp", "yyjq"]}, "n": {"type": "integer"}},
              "required": ["code", "n"]}
    result = run_chinwag(["-m", "local", "--temperature", "0", "--max-tokens", "60", "--schema", json.dumps(schema),
                          "Say hello"], chinwag_env(tmp_path), timeout=120)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    jsonschema.validate(data, schema)


def test_export_shows_a_fenced_reply_as_json_and_one_that_failed_as_it_came(
        scripted_server: ScriptedServer, tmp_path: Path) -> None:
    """A reply a json_object server wrapped in a fence was checked unwrapped, and is
    exported so; a reply that failed the schema is exported raw, in a fence longer than its own."""
    scripted_server.enqueue(Reply(chunks=['```json\n{"name": "Ada", "age": 36}\n```']),
                            Reply(chunks=["not JSON: ```x```"]))
    env = anthropic_env(tmp_path, scripted_server.base_url)
    assert run_chinwag(["--schema", "name, age int", "one"], env).returncode == 0
    assert run_chinwag(["-c", "--schema", "name, age int", "two"], env).returncode == 1
    exported = run_chinwag(["history", "export", "last"], env).stdout
    assert '```json\n{\n  "name": "Ada",\n  "age": 36\n}\n```\n' in exported
    assert "````\nnot JSON: ```x```\n````\n" in exported


def test_a_templates_schema_is_the_same_setting_as_schema(scripted_server: ScriptedServer, tmp_path: Path) -> None:
    """-t NAME with `schema` and `schema_multi` in the template: the request and the
    check are --schema's; a --schema typed wins over the template's."""
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "people.toml").write_text('schema = "name, age int"\nschema_multi = true\n')
    scripted_server.enqueue(Reply(chunks=['{"items": [{"name": "Ada", "age": 36}]}']),
                            Reply(chunks=['{"title": "Notes"}']))
    env = anthropic_env(tmp_path, scripted_server.base_url)
    result = run_chinwag(["-t", "people", "Ada is 36."], env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"items": [{"name": "Ada", "age": 36}]}
    sent = scripted_server.requests[-1].json["output_config"]["format"]["schema"]
    assert sent["properties"]["items"]["items"]["required"] == ["name", "age"]
    typed = run_chinwag(["-t", "people", "--schema", "title", "A title"], env)
    assert typed.returncode == 0, typed.stderr
    assert json.loads(typed.stdout) == {"title": "Notes"}
