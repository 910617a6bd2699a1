"""What an AG-UI `RunAgentInput` asks of Citestream: a question, in a thread, maybe of a
collection.

AG-UI clients send the whole conversation with every run. Citestream keeps its own: the
thread's session holds the history the answer sees, so only the last user message is read.
Earlier messages, `state`, `tools`, `context` and `resume` are ignored; the collection comes from
`forwardedProps.collection` (the application-specific values AG-UI passes through untouched).
"""

from __future__ import annotations

from ag_ui.core import RunAgentInput, TextPart, UserMessage

from app.api.fields import unstorable_character
from app.core.errors import InvalidInput


def question_of(run: RunAgentInput) -> str:
    """The text of the last user message (its text parts, for a multimodal one)."""
    asked = [message for message in run.messages if isinstance(message, UserMessage)]
    if not asked:
        raise InvalidInput("There is no user message to answer.", field_name="messages")
    content = asked[-1].content
    if isinstance(content, str):
        text = content
    else:
        text = "\n".join(part.text for part in content if isinstance(part, TextPart))
    if not text.strip():
        raise InvalidInput("The last user message has no text.", field_name="messages")
    return _storable(text, "messages")


def thread_of(run: RunAgentInput) -> str:
    """The client's name for the conversation (each principal's names are their own)."""
    if not run.thread_id.strip():
        raise InvalidInput("threadId is empty.", field_name="threadId")
    return _storable(run.thread_id, "threadId")


def collection_of(run: RunAgentInput) -> str | None:
    """`forwardedProps.collection` when given; other forwarded values are not ours to read."""
    props = run.forwarded_props
    if not isinstance(props, dict) or props.get("collection") is None:
        return None
    collection = props["collection"]
    if not isinstance(collection, str):
        raise InvalidInput(
            "forwardedProps.collection must be a collection name.",
            field_name="forwardedProps.collection",
        )
    return collection  # its name is checked with every other question's


def _storable(text: str, field_name: str) -> str:
    character = unstorable_character(text)
    if character is not None:
        raise InvalidInput(
            f"The text contains {character}, which cannot be stored; remove it.",
            field_name=field_name,
        )
    return text
