"""Templates: saved settings and prompts, one TOML file each in the config
directory's templates/ folder (store.py finds them, template.py reads, checks,
fills and writes them, imports.py converts llm's and aichat's).

Nothing here is imported before the chat's prompt is drawn: a template is read
when it is named (-t NAME, /template NAME, chinwag templates ...).
"""
