"""`chinwag templates import llm|aichat`: each file converted, or said why not."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from chinwag.errors import ChinwagError, UsageError
from chinwag.render.sanitize import one_line, sanitize


def run_import(source: str, folder: Path, environ: Mapping[str, str], out: TextIO, *, force: bool) -> int:
    from chinwag.templates.imports import aichat_dir, from_aichat, from_llm, llm_dir
    from chinwag.templates.store import is_name, path_of
    from chinwag.templates.template import dump, from_mapping, write

    where = llm_dir(environ) if source == "llm" else aichat_dir(environ)
    if not where.is_dir():
        variable = "LLM_USER_PATH" if source == "llm" else "AICHAT_CONFIG_DIR"
        raise UsageError(f"no {source} templates: {where} is not a folder (set {variable} if yours is elsewhere).")
    conversions = list(from_llm(where) if source == "llm" else from_aichat(where))
    converted = 0
    for done in conversions:
        shown = sanitize(done.source.name)
        path = path_of(folder, done.name)
        if done.failed is None and not is_name(done.name):
            done.failed = "its name is not a template name (letters, digits, _ . -)"
        if done.failed is None and not done.fields:
            done.failed = "it sets nothing chinwag uses"
        if done.failed is None and path.exists() and not force:
            done.failed = f"a template {done.name} exists already; kept it (--force replaces it)"
        if done.failed is None:
            try:
                text = dump(done.fields)
                from_mapping(done.name, path, done.fields, text)
                write(path, text)
            except ChinwagError as exc:
                # The file was never written: its path and line would point nowhere.
                done.failed = re.sub(rf"^{re.escape(str(path))}(, line \d+)?: ", "", one_line(exc.message))
        if done.failed is not None:
            out.write(f"could not convert {shown}: {sanitize(done.failed)}\n")
            continue
        converted += 1
        left = f"; left out: {'; '.join(done.left_out)}" if done.left_out else ""
        out.write(f"converted {shown} to {done.name}{sanitize(left)}\n")
    out.write(f"{converted} of {len(conversions)} {source} {'templates' if source == 'llm' else 'roles'}"
              f" converted from {sanitize(str(where))}.\n")
    return 0
