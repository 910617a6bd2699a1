"""A run's events as the shared log stores them (kind + JSON), and back."""

from __future__ import annotations

import json
import uuid
from typing import Any

from app.core.citations import Citation
from app.core.errors import CitestreamError
from app.services.answer_events import (
    AnswerDelta,
    AnswerEvent,
    AnswerFailed,
    AnswerSources,
    AnswerStarted,
)

FINAL_KINDS = frozenset({"source", "error"})


def encode(event: AnswerEvent) -> tuple[str, str]:
    """The event's kind and its data as JSON."""
    match event:
        case AnswerStarted(session_id=session_id, message_id=message_id, run_id=run_id):
            data: Any = {
                "session_id": str(session_id),
                "message_id": str(message_id),
                "run_id": None if run_id is None else str(run_id),
            }
            return "meta", json.dumps(data)
        case AnswerDelta(text=text):
            return "message", json.dumps(text)
        case AnswerSources(citations=citations):
            return "source", json.dumps([citation.as_dict() for citation in citations])
        case AnswerFailed(error=error):
            return "error", json.dumps({"code": error.code, "message": error.message})


def decode(kind: str, data: str) -> AnswerEvent:
    """The event `encode` stored."""
    value = json.loads(data)
    if kind == "meta":
        return AnswerStarted(
            session_id=uuid.UUID(value["session_id"]),
            message_id=uuid.UUID(value["message_id"]),
            run_id=None if value["run_id"] is None else uuid.UUID(value["run_id"]),
        )
    if kind == "message":
        return AnswerDelta(text=value)
    if kind == "source":
        return AnswerSources(citations=[Citation(**citation) for citation in value])
    if kind == "error":
        return AnswerFailed(CitestreamError(value["message"], value["code"]))
    raise ValueError(f"unknown event kind {kind!r}")
