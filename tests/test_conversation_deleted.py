"""A conversation deleted while a chat saves into it (`chinwag history delete`
or the page's delete, from another process): the store says so with its own
error, ConversationDeleted, and the recorder turns it into one notice and
stops saving that conversation, while the chat goes on."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import pytest

from chinwag.errors import ChinwagError, ConversationDeleted, UsageError
from chinwag.history.recorder import Recorder
from chinwag.history.store import Store

MODEL = "claude-x"


def test_conversation_deleted_is_its_own_error_not_a_usage_error(tmp_path: Path) -> None:
    with closing(Store.open(tmp_path / "history.db")) as store:
        cid = store.start_conversation()
        store.delete_conversation(cid)
        with pytest.raises(ChinwagError) as raised:
            store.begin_reply(cid)
    assert type(raised.value) is ConversationDeleted and not isinstance(raised.value, UsageError)


def test_a_conversation_deleted_meanwhile_is_told_once_and_no_longer_saved(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    recorder = Recorder(db)
    recorder.open()
    recorder.save_user("first", MODEL, None)
    cid = recorder.conversation_id
    assert cid is not None
    with closing(Store.open(db)) as other:  # another process deletes it
        assert other.delete_conversation(cid)
    recorder.save_user("second", MODEL, None)
    recorder.begin_reply(MODEL, "")
    recorder.save_user("third", MODEL, None)
    recorder.close()
    assert recorder.take_notices() == ["this conversation was deleted from the history; it is no longer saved"]
    with closing(Store.open(db)) as store:
        assert store.conversation(cid) is None
        assert store.list_conversations() == []
