"""Shell completion: `chinwag completion bash|zsh|fish` (script.py) and the
values its scripts ask for at Tab (values.py, model_cache.py).

Nothing is imported here: `python -m chinwag.completion.values` runs at each
Tab and pays only for what it lists.
"""
