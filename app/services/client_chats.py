"""Chats that clients name themselves (the AI SDK's chat id, AG-UI's thread id): each maps to one
Citestream session of the principal that names it, with no table to keep."""

from __future__ import annotations

import uuid

from app.core.principals import Principal

# Fixed forever: changing it would orphan every client-named conversation.
_CLIENT_CHATS = uuid.UUID("6f1d8a52-3c1e-4b7a-9d0e-5b2c7a9e4f10")


def session_for_chat(principal: Principal, chat_id: str) -> uuid.UUID:
    """The session of `principal`'s chat `chat_id`; two principals' equal ids never meet."""
    return uuid.uuid5(_CLIENT_CHATS, f"{principal.id}:{chat_id}")
