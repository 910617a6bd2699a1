"""Typed events of the citation chat workflow."""

from __future__ import annotations

from typing import Literal

from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.schema import NodeWithScore
from llama_index.core.workflow import Event, StartEvent, StopEvent

Phase = Literal["condensing", "retrieving", "generating"]


class ChatRequested(StartEvent):
    """A question and the conversation it follows."""

    question: str
    history: list[ChatMessage]
    collection: str


class QuestionCondensed(Event):
    """The follow-up rewritten as a standalone question (the question itself on a first turn)."""

    standalone_question: str
    collection: str


class PassagesRetrieved(Event):
    """What the knowledge base returned for the standalone question."""

    standalone_question: str
    passages: list[NodeWithScore]


# Written to the event stream for the caller, not routed between steps.


class PhaseStarted(Event):
    """The run entered a phase; lets callers and tests see where a run is."""

    phase: Phase


class CitationsPrepared(Event):
    """The numbered sources the answer may cite as `[n]`, before its first token."""

    sources: list[NodeWithScore]


class AnswerTokenProduced(Event):
    """A piece of the answer as the model wrote it."""

    delta: str


class ChatAnswered(StopEvent):
    """The whole answer and the numbered sources it was written from."""

    answer: str
    sources: list[NodeWithScore]
    standalone_question: str
