"""Messages that cross from one part of the app to another."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:  # the follower's module loads when following starts, not with the app
    from mltui.store.follow import StoreChanges


class StoreChanged(Message):
    """The store changed while the app was open (from `store.follow.StoreFollower`, in its
    thread); the app publishes the changes to every page on `store_changed_signal`."""

    def __init__(self, changes: StoreChanges) -> None:
        super().__init__()
        self.changes = changes
