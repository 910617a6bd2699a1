"""Messages as the rest of the app sees them: roles, statuses, history entries and how a turn
ended. Plain values: nothing here touches the database."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

# What the condense step sees after an answer that was cut short.
INTERRUPTED_MARKER = " [answer interrupted]"


class MessageRole(enum.StrEnum):
    USER = "user"
    ASSISTANT = "assistant"


class MessageStatus(enum.StrEnum):
    """Where a message stands. `streaming` lasts only while its answer is being written."""

    STREAMING = "streaming"
    COMPLETE = "complete"
    INTERRUPTED = "interrupted"
    ERROR = "error"


class ClaimResult(enum.StrEnum):
    """How a claim on a session went."""

    CLAIMED = "claimed"
    BUSY = "busy"
    MISSING = "missing"
    # Another principal's session: answered as if it did not exist, but never created anew.
    FOREIGN = "foreign"


@dataclass(frozen=True)
class HistoryMessage:
    """One earlier message, as the condense step sees it."""

    role: MessageRole
    content: str


@dataclass(frozen=True)
class TurnOutcome:
    """How an answer ended, to be written to its assistant message."""

    content: str
    status: MessageStatus
    sources: list[dict[str, Any]]
    error_code: str | None
    token_count: int
    latency_ms: int
