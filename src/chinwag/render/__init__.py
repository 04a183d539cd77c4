"""Renderers turn reply text into terminal output; they know nothing of HTTP."""
