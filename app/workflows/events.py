"""Typed events of the citation chat workflow."""

from __future__ import annotations

from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.schema import NodeWithScore
from llama_index.core.workflow import Event, StartEvent, StopEvent

from app.workflows.answer_stream import AnswerStream

# The workflow runtime writes a summary of every event a step takes or returns, for tracing:
# the repr of each field, in full for a list of up to three items. A passage's repr is its
# whole text, metadata and relationships, and retrieval returns three by default: those
# summaries cost more than the rest of the workflow's routing before the first token. The
# lists below are plain lists that summarize themselves by their length.


class Passages(list[NodeWithScore]):
    """Passages found or cited, as a list."""

    def __repr__(self) -> str:
        return f"<{len(self)} passages>"


class Conversation(list[ChatMessage]):
    """The conversation a question follows, as a list of messages."""

    def __repr__(self) -> str:
        return f"<{len(self)} messages>"


class ChatRequested(StartEvent):
    """A question, the conversation it follows, and the collection to search."""

    question: str
    history: Conversation
    collection: str


class QuestionCondensed(Event):
    """The follow-up rewritten as a standalone question (the question itself on a first turn)."""

    standalone_question: str
    collection: str


class PassagesRetrieved(Event):
    """What the knowledge base returned for the standalone question."""

    standalone_question: str
    passages: Passages


class AnswerReady(StopEvent):
    """The model's answer, ready to be read, and the numbered sources it is written from. The
    workflow ends here: its tokens are read after it (see `AnswerStream`)."""

    stream: AnswerStream
    sources: Passages
    standalone_question: str
