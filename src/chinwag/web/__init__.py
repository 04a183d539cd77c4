"""`chinwag serve`: the chats in a browser tab, streamed, over the same history.

Nothing here is imported unless `chinwag serve` runs. serve.py (the command),
security.py (token, Host/Origin checks, CSP), app.py (routes), streams.py
(the SSE responses), chats.py (a Session per conversation; webchat.py one open,
asks.py a turn it is asked for), saved.py (the history as the page reads it),
live.py (a turn in a worker thread, followed over SSE), html.py (markdown to
HTML, append-only), static/ (the page, no CDN).
"""
