"""The history: every saved conversation, in one SQLite file, and the way a chat writes to it.

    store.py     the Store (one connection): its writes; built on
    connection.py  opening, migrating and recovering the database; transactions
    reads.py     conversations and messages read back, the history sent to a model
    search.py    full-text search, bounded in words and time
    branches.py  the tree: paths, the tree's records (chinwag.tree), moving the leaf, forking
    tree_migration.py  m007's data step: the lines saved before trees, linked as the chat sent them
    schema.py    the tables' ordered migrations and the records read back (StoredMessage, ...)
    blocks.py    content blocks to and from the `blocks` column; keeping a transcript sendable
    blobs.py     attachments, stored once per content hash
    check.py     faults (full, locked, damaged, read-only) named in a few words; `history check`
    writers.py   whether the process that began a streaming reply may still be writing it
    recorder.py  the Recorder, a chat's only way in: where the chat is, and StoreSink for replies
    branching.py the Recorder's moves in the tree: the tree, moving the leaf, forking
    ops.py       the writes the Recorder queues, one frozen dataclass per kind
    queue.py     the SaveQueue the Recorder owns: writes in order, never in the chat's way

Nothing is imported here, so `import chinwag.history.recorder` loads only what it needs.
The `chinwag history` commands that read it live in cli/history.py.
"""
