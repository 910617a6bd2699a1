"""Small helpers for asyncio futures."""

from __future__ import annotations

import asyncio
from typing import Any


def look_at_exception(future: asyncio.Future[Any]) -> None:
    """A done-callback for a future whose waiters may all have gone: its error is looked at, so
    asyncio does not log "exception was never retrieved" for one its owner already reported."""
    if not future.cancelled():
        future.exception()
