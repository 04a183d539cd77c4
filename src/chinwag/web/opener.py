"""`chinwag serve --open` without the token on a command line.

A browser started as `browser http://127.0.0.1:P/?token=...` shows the
token to every local user (`ps`, /proc/PID/cmdline). So, as Jupyter does
(its `jpserver-PID-open.html`), the browser is given a file instead: a page
that redirects to the address. Unlike Jupyter's (written with the umask's
mode into its runtime dir, holding the server's lasting token), this file:

- is created 0600, with O_EXCL and O_NOFOLLOW, in a fresh 0700 directory,
  so no other user can read it or plant one in its place;
- holds a one-shot token (see `security.Guard`), void once the page has
  exchanged it for its session key, so a copy read later opens nothing;
- is removed, with its directory, when the server stops.
"""

from __future__ import annotations

import html
import os
import shutil
import tempfile
import threading
from pathlib import Path

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="0;url={url}">
<title>Opening chinwag</title></head>
<body><p>Opening <a href="{url}">chinwag</a>…</p></body></html>
"""


def write_opener(url: str) -> Path:
    """The redirect page to `url`, readable by this user only."""
    directory = Path(tempfile.mkdtemp(prefix="chinwag-open-"))  # mode 0700
    path = directory / "open.html"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(PAGE.format(url=html.escape(url, quote=True)))
    return path


def open_in_browser(path: Path) -> None:
    """In a thread, as webbrowser waits for a $BROWSER command to exit and
    the server must be answering by then."""
    import webbrowser

    threading.Thread(target=webbrowser.open, args=(path.as_uri(),), name="chinwag-open", daemon=True).start()


def remove_opener(path: Path) -> None:
    shutil.rmtree(path.parent, ignore_errors=True)
