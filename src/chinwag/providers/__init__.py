"""Providers: each turns a ChatRequest into an iterator of chinwag events."""
