"""Changes to collections, announced within the process: an upload through this server's API is
seen by its indexes at once, without each search asking the database whether anything changed.
(Changes made by another process are seen on the next check; see RetrievalSettings.)"""

from __future__ import annotations

from collections.abc import Callable

Listener = Callable[[str], None]


class CollectionChanges:
    """Who writes a collection calls `changed`; who keeps something derived from it listens."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def changed(self, collection: str) -> None:
        for listener in self._listeners:
            listener(collection)
