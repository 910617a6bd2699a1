"""A whole answer out of a run's events, for clients that do not stream."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass

from app.core.citations import Citation
from app.core.errors import CitestreamError
from app.services.answer_events import (
    AnswerDelta,
    AnswerEvent,
    AnswerFailed,
    AnswerSources,
    AnswerStarted,
)


@dataclass(frozen=True)
class Answer:
    """A whole answer."""

    session_id: uuid.UUID
    message_id: uuid.UUID
    answer: str
    citations: list[Citation]


async def collect_answer(batches: AsyncGenerator[list[tuple[int, AnswerEvent]], None]) -> Answer:
    """Read a run to its end; its failure is raised as the domain error."""
    started: AnswerStarted | None = None
    parts: list[str] = []
    async with aclosing(batches):
        async for batch in batches:
            for _, event in batch:
                match event:
                    case AnswerStarted():
                        started = event
                    case AnswerDelta(text=text):
                        parts.append(text)
                    case AnswerFailed(error=error):
                        raise error
                    case AnswerSources(citations=citations) if started is not None:
                        text = "".join(parts)
                        return Answer(started.session_id, started.message_id, text, citations)
    raise CitestreamError("The answer ended without its sources.")
