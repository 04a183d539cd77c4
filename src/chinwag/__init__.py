"""chinwag: a streaming chat client for the terminal."""

__version__ = "0.1.0"
