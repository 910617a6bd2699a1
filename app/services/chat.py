"""The chat service: take a question in, then stream its answer or return it whole."""

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
from app.services.answering import TurnAnswerer
from app.services.intake import PreparedTurn, QuestionIntake


@dataclass(frozen=True)
class Answer:
    """A whole answer, for clients that do not stream."""

    session_id: uuid.UUID
    message_id: uuid.UUID
    answer: str
    citations: list[Citation]


class ChatService:
    """Answers questions over the knowledge base, remembering each conversation."""

    def __init__(self, *, intake: QuestionIntake, answerer: TurnAnswerer) -> None:
        self._intake = intake
        self._answerer = answerer

    async def prepare(
        self, query: str, session_id: uuid.UUID | None, collection: str | None = None
    ) -> PreparedTurn:
        """Check the question and claim its session, before any stream opens (4xx if not)."""
        return await self._intake.prepare(query, session_id, collection)

    def stream(self, turn: PreparedTurn) -> AsyncGenerator[AnswerEvent, None]:
        """The answer as events; closing the stream stops the model and saves what was said."""
        return self._answerer.events(turn)

    async def answer(self, turn: PreparedTurn) -> Answer:
        """The whole answer at once; a failure is raised as the domain error."""
        started: AnswerStarted | None = None
        parts: list[str] = []
        async with aclosing(self.stream(turn)) as events:
            async for event in events:
                match event:
                    case AnswerStarted():
                        started = event
                    case AnswerDelta(text=text):
                        parts.append(text)
                    case AnswerFailed(error=error):
                        raise error
                    case AnswerSources(citations=citations) if started is not None:
                        return Answer(
                            started.session_id, started.message_id, "".join(parts), citations
                        )
        raise CitestreamError("The answer ended without its sources.")
