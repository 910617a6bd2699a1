"""How much of a conversation the condense step sees: the most recent messages that fit a
token budget."""

from __future__ import annotations

import math

from app.memory.messages import HistoryMessage, MessageRole

# A rough count that needs no tokenizer: about four characters per token in English.
CHARS_PER_TOKEN = 4


def fit_to_tokens(history: list[HistoryMessage], budget: int) -> list[HistoryMessage]:
    """The most recent messages whose estimated tokens fit the budget."""
    kept: list[HistoryMessage] = []
    for message in reversed(history):
        budget -= math.ceil(len(message.content) / CHARS_PER_TOKEN)
        if budget < 0:
            break
        kept.append(message)
    kept.reverse()
    # An answer whose question did not fit would read as coming from nowhere.
    while kept and kept[0].role == MessageRole.ASSISTANT:
        kept.pop(0)
    return kept
