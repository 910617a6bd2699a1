"""Typed events of the citation chat workflow."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.schema import NodeWithScore
from llama_index.core.workflow import Event, StartEvent, StopEvent

Phase = Literal["condensing", "retrieving", "generating"]
# Where the answer's text goes as the model writes it: a plain call per piece, not an event on
# the workflow's stream (which would build and route a pydantic event per token).
DeltaSink = Callable[[str], None]


class ChatRequested(StartEvent):
    """A question, the conversation it follows, and where the answer's text goes."""

    question: str
    history: list[ChatMessage]
    collection: str
    deltas: DeltaSink


class QuestionCondensed(Event):
    """The follow-up rewritten as a standalone question (the question itself on a first turn)."""

    standalone_question: str
    collection: str
    deltas: DeltaSink


class PassagesRetrieved(Event):
    """What the knowledge base returned for the standalone question."""

    standalone_question: str
    passages: list[NodeWithScore]
    deltas: DeltaSink


# Written to the event stream for whoever watches a run, not routed between steps.


class PhaseStarted(Event):
    """The run entered a phase; lets callers and tests see where a run is."""

    phase: Phase


class CitationsPrepared(Event):
    """The numbered sources the answer may cite as `[n]`, before its first token."""

    sources: list[NodeWithScore]


class ChatAnswered(StopEvent):
    """The whole answer and the numbered sources it was written from."""

    answer: str
    sources: list[NodeWithScore]
    standalone_question: str
