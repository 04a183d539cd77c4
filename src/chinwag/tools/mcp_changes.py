"""A server's lists changing while the chat runs: its tools, prompts or resources.

A server on a 2025 protocol revision says so with a notification
(`notifications/tools/list_changed` and the like), which reaches the client's
message_handler (`change_handler`); one on the 2026-07-28 revision says so only
on a `subscriptions/listen` stream (`listen_for_changes`). Either way the hub
lists again what changed (`refresh(tools=True)` for tools, False for prompts and
resources). A refresh that fails keeps the old list: the hub's watch finds a
dead server.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

Refresh = Callable[[bool], Awaitable[None]]  # tools: True; prompts and resources: False


def change_handler(refresh: Refresh) -> Callable[[Any], Awaitable[None]]:
    """The Client's message_handler: a list_changed notification refreshes that list now."""
    async def changed(message: Any) -> None:
        import mcp_types

        if isinstance(message, mcp_types.ToolListChangedNotification):
            await refresh(True)
        elif isinstance(message, (mcp_types.PromptListChangedNotification,
                                  mcp_types.ResourceListChangedNotification)):
            await refresh(False)

    return changed


async def listen_for_changes(client: Any, refresh: Refresh) -> None:
    """Refresh on each change a `subscriptions/listen` stream reports, until it ends; at
    once for a server whose protocol has no such stream (its notifications reach `change_handler`)."""
    from mcp.client.subscriptions import ListenNotSupportedError
    from mcp.shared.subscriptions import ToolsListChanged

    try:
        async with client.listen(tools_list_changed=True, prompts_list_changed=True,
                                 resources_list_changed=True) as events:
            async for event in events:
                await refresh(isinstance(event, ToolsListChanged))
    except ListenNotSupportedError:
        return
    except Exception:  # noqa: BLE001  a lost stream: the lists stay as they were; the hub's watch finds a dead server
        return
