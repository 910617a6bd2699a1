"""Request bodies of the Vercel AI SDK endpoint: what `DefaultChatTransport` POSTs.

Only what Citestream uses is checked: the chat id, and the text of the last user message. The
SDK sends more (metadata, tool parts, keys from the transport's `body:` option) and may add
keys in later versions; unknown keys are ignored rather than refused.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field

from app.api.fields import StorableStr
from app.core.errors import InvalidInput
from app.core.names import COLLECTION_NAME_PATTERN

# A chat id is the client's own string (the SDK makes 16 characters): printable text that can
# name a path segment, since resume and stop put it in their URL (`/{id}/stream`): no `/`,
# and not only dots (`.` and `..` are not segments the SDK can reconnect with).
CHAT_ID_MAX_CHARS = 200
_SEGMENT_CHAR = "[^\\x00-\\x1f\\x7f/]"
CHAT_ID_PATTERN = f"^{_SEGMENT_CHAR}*[^\\x00-\\x1f\\x7f/.]{_SEGMENT_CHAR}*$"
_CHAT_ID_DESCRIPTION = (
    "The client's chat id (`useChat`'s `id`): 1 to 200 characters, no control characters, "
    "no `/`, not only dots. Each of your chat ids is one Citestream conversation."
)
ChatIdPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=CHAT_ID_MAX_CHARS,
        pattern=CHAT_ID_PATTERN,
        description=_CHAT_ID_DESCRIPTION,
    ),
]


class UIMessagePart(BaseModel):
    """One part of a `UIMessage`; only `text` parts are read."""

    model_config = ConfigDict(extra="allow")

    type: str
    text: StorableStr | None = None


class UIMessage(BaseModel):
    """A message as the AI SDK keeps it: an id, a role and its parts."""

    model_config = ConfigDict(extra="allow")

    id: str
    role: str
    parts: list[UIMessagePart]


class AiSdkChatRequest(BaseModel):
    """The body `DefaultChatTransport` sends, plus an optional `collection`."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "id": "Jd8fK2mQpL0sXw1z",
                    "messages": [
                        {
                            "id": "u1",
                            "role": "user",
                            "parts": [{"type": "text", "text": "How do I cancel a stream?"}],
                        }
                    ],
                    "trigger": "submit-message",
                }
            ]
        },
    )

    id: str = Field(
        min_length=1,
        max_length=CHAT_ID_MAX_CHARS,
        pattern=CHAT_ID_PATTERN,
        description=_CHAT_ID_DESCRIPTION,
    )
    messages: list[UIMessage] = Field(
        description="The chat as the client holds it. Only the last user message's text is "
        "read: it is the question; the conversation so far comes from Citestream's own store."
    )
    trigger: str | None = Field(
        default=None, description="`submit-message` or `regenerate-message`: both ask again."
    )
    messageId: str | None = Field(default=None, description="Ignored.")  # noqa: N815 - the SDK's
    collection: str | None = Field(
        default=None,
        pattern=COLLECTION_NAME_PATTERN,
        description="The document collection to search (send it with the transport's `body`). "
        "Omitted: the conversation's collection, or `default` for a new conversation.",
    )

    def question(self) -> str:
        """The text of the last user message (422 when there is none)."""
        for message in reversed(self.messages):
            if message.role == "user":
                return "".join(p.text or "" for p in message.parts if p.type == "text")
        raise InvalidInput("The chat has no user message to answer.", field_name="messages")
