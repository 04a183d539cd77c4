"""The file tools: `read_file` and `list_files`, both confined to the working directory.

Reading inside the working directory runs without asking, except what likely
holds secrets: `.env` and `.env.*`, `*.pem`, `*.key`, ssh keys (`id_*`), and
anything the `.gitignore` files between the working directory and the file
ignore. Paths are judged after symlinks are resolved, so a link inside that
points outside counts as outside. `list_files` shows names only and refuses
patterns that would leave the directory.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chinwag.tools.output import ToolOutput, Verdict, cap, count_lines, plural, size

READ_LIMIT = 8 * 1024 * 1024  # bytes read from one file at most; the model gets max_output of them
LIST_LIMIT = 1000  # entries listed at most
SKIPPED_DIRS = {".git", ".hg", ".svn"}
_SECRET_NAMES = (".env", ".env.*", "*.pem", "*.key", "id_*")

READ_FILE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "path": {"type": "string", "description": "The file's path, relative to the working directory."},
        "offset": {"type": "integer", "minimum": 1,
                   "description": "The first line to read (1-based); default 1."},
        "limit": {"type": "integer", "minimum": 1, "description": "How many lines to read; default all."},
    },
    "required": ["path"],
    "additionalProperties": False,
}
LIST_FILES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "pattern": {"type": "string",
                    "description": "A glob relative to the working directory, e.g. 'src/**/*.py' or '*'; "
                                   "default '**/*' (everything)."},
    },
    "additionalProperties": False,
}


def resolve(cwd: Path, raw: str) -> tuple[Path, bool]:
    """The path `raw` names (relative to `cwd`, symlinks resolved) and whether it lies inside `cwd`."""
    root = cwd.resolve()
    path = Path(os.path.realpath(root / Path(raw).expanduser()))  # unlike Path.resolve, no error on a link loop
    return path, path == root or path.is_relative_to(root)


def read_verdict(cwd: Path, raw: str) -> Verdict:
    path, inside = resolve(cwd, raw)
    if not inside:
        return Verdict(True, "reads outside the working directory")
    secret = secret_reason(cwd.resolve(), path)
    if secret:
        return Verdict(True, secret)
    return Verdict(False, "reads inside the working directory")


def secret_reason(root: Path, path: Path) -> str | None:
    """Why `path` (inside `root`) may hold secrets, or None."""
    for pattern in _SECRET_NAMES:
        if fnmatch.fnmatchcase(path.name, pattern):
            return f"reads a file that may hold secrets ({path.name})"
    if _gitignored(root, path):
        return f"reads a file that may hold secrets (ignored by .gitignore: {path.relative_to(root)})"
    return None


def read_file(cwd: Path, args: Mapping[str, Any], max_output: int) -> ToolOutput:
    path, _ = resolve(cwd, args["path"])
    offset, limit = args.get("offset", 1), args.get("limit")
    if path.exists() and not path.is_file() and not path.is_dir():  # a FIFO would block, a device never end
        return ToolOutput.error(f"{args['path']} is not a regular file")
    try:
        with path.open("rb") as f:
            data = f.read(READ_LIMIT + 1)
    except IsADirectoryError:
        return ToolOutput.error(f"{args['path']} is a directory (list_files lists it)")
    except FileNotFoundError:
        return ToolOutput.error(f"no such file: {args['path']}")
    except OSError as exc:
        return ToolOutput.error(f"cannot read {args['path']}: {exc.strerror or exc}")
    truncated = len(data) > READ_LIMIT
    data = data[:READ_LIMIT]
    if b"\0" in data[:8192]:
        return ToolOutput.error(f"{args['path']} is not a text file (binary data)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if not (truncated and exc.start >= len(data) - 3):  # a character cut by READ_LIMIT is fine
            return ToolOutput.error(f"{args['path']} is not a text file (not UTF-8)")
        text = data[: exc.start].decode("utf-8")
    lines = text.splitlines(keepends=True)
    chosen = lines[offset - 1: None if limit is None else offset - 1 + limit]
    body = "".join(chosen)
    content = cap(body, max_output)
    summary = plural(len(chosen), "line")
    if (offset, limit) != (1, None):
        summary += f" ({offset}-{offset + len(chosen) - 1} of {len(lines):,}{'+' if truncated else ''})"
    if content != body or truncated:
        summary += f" · cut to {size(min(max_output, len(body.encode())))}"
        if truncated and content == body:
            content += f"\n[… the file goes on past {size(READ_LIMIT)}]"
    return ToolOutput(content, "ok", summary)


def list_files(cwd: Path, args: Mapping[str, Any]) -> ToolOutput:
    pattern = args.get("pattern") or "**/*"
    if Path(pattern).is_absolute() or ".." in Path(pattern).parts or pattern.startswith("~"):
        return ToolOutput.error(f"refused: {pattern!r} leaves the working directory "
                                "(use a pattern relative to it, without '..')")
    root = cwd.resolve()
    names: list[str] = []
    more = 0
    try:
        for path in sorted(root.glob(pattern)):
            rel = path.relative_to(root)
            if SKIPPED_DIRS.intersection(rel.parts) or not resolve(root, str(rel))[1]:
                continue
            if len(names) >= LIST_LIMIT:
                more += 1
                continue
            names.append(f"{rel}/" if path.is_dir() else str(rel))
    except (ValueError, OSError) as exc:
        return ToolOutput.error(f"bad pattern {pattern!r}: {exc}")
    content = "\n".join(names) if names else f"(nothing matches {pattern})"
    summary = plural(len(names) + more, "entry").replace("entrys", "entries")
    if more:
        content += f"\n[… {more:,} more entries cut]"
        summary += f" · first {LIST_LIMIT:,} shown"
    return ToolOutput(content, "ok", summary)


def _gitignored(root: Path, path: Path) -> bool:
    """Whether the `.gitignore` files from `root` down to `path`'s folder ignore `path`."""
    rel = path.relative_to(root)
    ignored = False
    for depth in range(len(rel.parts)):
        base = root.joinpath(*rel.parts[:depth])
        rules = _gitignore_rules(base / ".gitignore")
        sub = rel.parts[depth:]
        # A path is ignored when it, or any folder above it (below `base`), matches.
        for i in range(1, len(sub) + 1):
            candidate, is_dir = "/".join(sub[:i]), i < len(sub) or path.is_dir()
            for negate, anchored, dir_only, regex in rules:
                if dir_only and not is_dir:
                    continue
                target = candidate if anchored else sub[i - 1]
                if regex.fullmatch(target):
                    ignored = not negate
            if ignored and i < len(sub):
                return True  # git never looks inside an ignored folder
    return ignored


def _gitignore_rules(path: Path) -> list[tuple[bool, bool, bool, re.Pattern[str]]]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    rules = []
    for line in text.splitlines():
        line = line.rstrip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        line = line[1:] if negate else line
        dir_only = line.endswith("/")
        line = line.rstrip("/")
        anchored = "/" in line
        rules.append((negate, anchored, dir_only, _glob_regex(line.lstrip("/"))))
    return rules


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """A gitignore glob as a regex: `*` and `?` stay within a folder, `**` crosses folders."""
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("/**", i) and i + 3 == len(pattern):
            out.append("/.*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape("["))
                i += 1
            else:
                body = pattern[i + 1: end]
                out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
                i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))
