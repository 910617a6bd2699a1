"""Typed domain events of one answer, independent of how they travel (SSE, text, JSON)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from app.core.citations import Citation
from app.core.errors import CitestreamError


@dataclass(frozen=True, slots=True)
class AnswerStarted:
    """The turn is stored and the answer begins."""

    session_id: uuid.UUID
    message_id: uuid.UUID
    run_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class AnswerDelta:
    """A piece of the answer, as the model produced it (pieces may be joined)."""

    text: str


@dataclass(frozen=True, slots=True)
class AnswerSources:
    """The citations of a finished answer; the last event of a success."""

    citations: list[Citation]


@dataclass(frozen=True, slots=True)
class AnswerFailed:
    """Why the answer stopped; the last event of a failure."""

    error: CitestreamError


AnswerEvent = AnswerStarted | AnswerDelta | AnswerSources | AnswerFailed
