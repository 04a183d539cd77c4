"""read_file and list_files on real directories: what runs without asking, what
asks and why, what is refused, and how big files and listings are cut."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chinwag.records import ToolCall
from chinwag.tools import Toolbox


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("print('hi')\n" * 3)
    (root / "README.md").write_text("# demo\nline two\n")
    (tmp_path / "outside.txt").write_text("secret plans\n")
    return root


def toolbox(cwd: Path, max_output: int = 32_768) -> Toolbox:
    return Toolbox(["read_file", "list_files"], {}, cwd, max_output=max_output, environ={})


def call(name: str, **args: object) -> ToolCall:
    return ToolCall("call-1", name, args)


def test_reading_a_file_inside_runs_without_asking(project: Path) -> None:
    box = toolbox(project)
    assert not box.verdict(call("read_file", path="README.md")).ask
    out = box.run(call("read_file", path="README.md"))
    assert (out.status, out.content, out.summary) == ("ok", "# demo\nline two\n", "2 lines")


def test_a_range_of_lines(project: Path) -> None:
    (project / "long.txt").write_text("".join(f"line {i}\n" for i in range(1, 101)))
    out = toolbox(project).run(call("read_file", path="long.txt", offset=10, limit=3))
    assert out.content == "line 10\nline 11\nline 12\n"
    assert out.summary == "3 lines (10-12 of 100)"


@pytest.mark.parametrize("path", ["../outside.txt", "ABSOLUTE", "src/../../outside.txt"])
def test_reading_outside_the_working_directory_asks(project: Path, path: str) -> None:
    path = str(project.parent / "outside.txt") if path == "ABSOLUTE" else path
    verdict = toolbox(project).verdict(call("read_file", path=path))
    assert verdict.ask and verdict.reason == "reads outside the working directory"


def test_a_symlink_that_escapes_counts_as_outside(project: Path) -> None:
    (project / "innocent.txt").symlink_to(project.parent / "outside.txt")
    (project / "linkdir").symlink_to(project.parent)
    box = toolbox(project)
    assert box.verdict(call("read_file", path="innocent.txt")).reason == "reads outside the working directory"
    assert box.verdict(call("read_file", path="linkdir/outside.txt")).ask


def test_a_symlink_within_the_directory_is_fine(project: Path) -> None:
    (project / "alias.md").symlink_to(project / "README.md")
    assert not toolbox(project).verdict(call("read_file", path="alias.md")).ask


@pytest.mark.parametrize("name", [".env", ".env.local", "server.pem", "tls.key", "id_ed25519", "id_rsa.pub"])
def test_likely_secrets_ask(project: Path, name: str) -> None:
    (project / name).write_text("TOKEN=abc\n")
    verdict = toolbox(project).verdict(call("read_file", path=name))
    assert verdict.ask and verdict.reason == f"reads a file that may hold secrets ({name})"


def test_gitignored_files_ask(project: Path) -> None:
    (project / ".gitignore").write_text("# build output\n/build/\n*.log\n!keep.log\nsecrets/**\n")
    (project / "build").mkdir()
    (project / "build" / "out.txt").write_text("x")
    (project / "debug.log").write_text("x")
    (project / "keep.log").write_text("x")
    (project / "src" / "deep.log").write_text("x")
    (project / "secrets" / "a").mkdir(parents=True)
    (project / "secrets" / "a" / "b.txt").write_text("x")
    (project / "src" / ".gitignore").write_text("generated.py\n")
    (project / "src" / "generated.py").write_text("x")
    box = toolbox(project)
    for path in ["build/out.txt", "debug.log", "src/deep.log", "secrets/a/b.txt", "src/generated.py"]:
        verdict = box.verdict(call("read_file", path=path))
        assert verdict.ask, path
        assert "ignored by .gitignore" in verdict.reason
    for path in ["keep.log", "src/app.py", "README.md", "generated.py"]:
        assert not box.verdict(call("read_file", path=path)).ask, path


def test_binary_and_non_utf8_files_are_errors(project: Path) -> None:
    (project / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (project / "latin1.txt").write_bytes("café".encode("latin-1"))
    box = toolbox(project)
    png = box.run(call("read_file", path="image.png"))
    assert png.status == "error" and "not a text file" in png.content
    latin = box.run(call("read_file", path="latin1.txt"))
    assert latin.status == "error" and "not UTF-8" in latin.content


def test_a_big_file_is_cut_with_a_note(project: Path) -> None:
    (project / "big.txt").write_text("é" * 5000)  # 10,000 bytes, two per character
    out = toolbox(project, max_output=1001).run(call("read_file", path="big.txt"))
    head, note = out.content.rsplit("\n", 1)
    assert head == "é" * 500  # never half a character
    assert note == "[… 9,000 more bytes cut]"
    assert "cut to" in out.summary


def test_missing_file_directory_and_bad_input_are_errors(project: Path) -> None:
    box = toolbox(project)
    assert "no such file" in box.run(call("read_file", path="nope.txt")).content
    assert "is a directory" in box.run(call("read_file", path="src")).content
    assert box.run(call("read_file")).content == "bad input for read_file: 'path' is required"
    assert "must be a string" in box.run(call("read_file", path=3)).content
    assert "must be an integer" in box.run(call("read_file", path="README.md", offset="2")).content
    assert "unknown field" in box.run(call("read_file", path="README.md", mode="w")).content


def test_list_files_runs_without_asking_and_lists_names(project: Path) -> None:
    (project / ".git").mkdir()
    (project / ".git" / "HEAD").write_text("ref")
    box = toolbox(project)
    assert not box.verdict(call("list_files")).ask
    out = box.run(call("list_files"))
    assert out.content.splitlines() == ["README.md", "src/", "src/app.py"]
    assert out.summary == "3 entries"
    assert box.run(call("list_files", pattern="src/*.py")).content == "src/app.py"
    assert "nothing matches" in box.run(call("list_files", pattern="*.rs")).content


@pytest.mark.parametrize("pattern", ["../*", "/etc/*", "src/../../*", "~/*"])
def test_list_files_never_leaves_the_directory(project: Path, pattern: str) -> None:
    out = toolbox(project).run(call("list_files", pattern=pattern))
    assert out.status == "error" and "leaves the working directory" in out.content


def test_list_files_skips_links_that_escape(project: Path) -> None:
    (project / "up").symlink_to(project.parent)
    assert "outside.txt" not in toolbox(project).run(call("list_files")).content


def test_list_files_caps_the_count(project: Path) -> None:
    many = project / "many"
    many.mkdir()
    for i in range(1100):
        (many / f"f{i:04}").touch()
    out = toolbox(project).run(call("list_files", pattern="many/*"))
    lines = out.content.splitlines()
    assert len(lines) == 1001 and lines[-1] == "[… 100 more entries cut]"
    assert out.summary == "1,100 entries · first 1,000 shown"


def test_disabled_builtins_are_not_offered_and_do_not_run(project: Path) -> None:
    box = Toolbox(["list_files"], {}, project, environ={})
    assert [s.name for s in box.specs()] == ["list_files"]
    out = box.run(call("read_file", path="README.md"))
    assert out.status == "error" and "unknown tool 'read_file'" in out.content
    assert os.path.exists(project / "README.md")


def test_fifos_and_impossible_paths_are_errors_not_hangs(project: Path) -> None:
    os.mkfifo(project / "pipe")
    box = toolbox(project)
    assert "not a regular file" in box.run(call("read_file", path="pipe")).content
    assert box.verdict(call("read_file", path="bad\0name")).reason == "bad input"
    assert box.run(call("read_file", path="bad\0name")).status == "error"
    (project / "loop").symlink_to(project / "loop")
    assert not box.verdict(call("read_file", path="loop")).ask
    assert box.run(call("read_file", path="loop")).status == "error"
    assert "loop" in box.run(call("list_files")).content
