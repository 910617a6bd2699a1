"""Conversations that the client sends whole with every question (OpenAI's `messages`): the
question is the last user message, the turns before it are the history. Nothing is read from
our store; the turn is answered in a new session (see QuestionIntake.prepare)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.core.errors import InvalidInput
from app.memory.messages import HistoryMessage, MessageRole

# The roles whose turns the condense step sees. System and developer messages are not used:
# Citestream's own citation prompt decides how it answers, and a client's instructions
# ("You are a helpful assistant") would only blur the search for passages. Tool results
# belong to tool calls, which Citestream never makes.
_CONVERSATION_ROLES = {"user": MessageRole.USER, "assistant": MessageRole.ASSISTANT}


@dataclass(frozen=True)
class SentMessage:
    """One message as the client sent it, its content already reduced to text."""

    role: str
    text: str


@dataclass(frozen=True)
class SentConversation:
    """The question to answer and the conversation before it."""

    question: str
    history: list[HistoryMessage]


def split_conversation(messages: Sequence[SentMessage], field_name: str) -> SentConversation:
    """The last message, which must be the user's, is the question; the user and assistant
    messages before it are the history (InvalidInput otherwise, naming `field_name`)."""
    if not messages or messages[-1].role != "user":
        raise InvalidInput(
            "The last message must be the user's question (role `user`).", field_name=field_name
        )
    history = [
        HistoryMessage(_CONVERSATION_ROLES[message.role], message.text)
        for message in messages[:-1]
        if message.role in _CONVERSATION_ROLES and message.text.strip()
    ]
    return SentConversation(question=messages[-1].text, history=history)
