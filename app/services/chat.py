"""The chat service: validates a question, runs the workflow, and streams typed domain events."""

from __future__ import annotations

import contextlib
import logging
import math
import time
import uuid
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import anyio
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.base.llms.types import MessageRole as LlamaRole
from llama_index.core.workflow import WorkflowTimeoutError
from workflows.handler import WorkflowHandler

from app.core.database import utcnow
from app.core.errors import (
    AnswerTimeout,
    CitestreamError,
    Conflict,
    InvalidInput,
    NotFound,
    StorageFailure,
)
from app.core.metrics import Metrics
from app.core.names import DEFAULT_COLLECTION, check_collection_name
from app.core.settings import ChatSettings
from app.memory.models import MessageRole, MessageStatus
from app.memory.store import ClaimResult, ConversationStore, HistoryMessage, TurnOutcome
from app.services.chat_events import (
    AnswerDelta,
    AnswerFailed,
    AnswerSources,
    AnswerStarted,
    ChatEvent,
    Source,
    sources_from_nodes,
)
from app.workflows.citation_chat import CitationChatWorkflow
from app.workflows.events import AnswerTokenProduced, ChatAnswered, ChatRequested

logger = logging.getLogger(__name__)

# Bound on the shielded clean-up after a disconnect: stopping the run and saving the turn.
_CLEANUP_TIMEOUT_S = 10.0
# How long a session stays reserved between the request and the start of its answer.
RESERVATION_S = 30.0


class KnownCollections(Protocol):
    """Port for the document registry: whether a collection exists (its generation if so)."""

    async def generation(self, collection: str) -> int | None: ...


@dataclass(frozen=True)
class PreparedTurn:
    """A validated question, ready to be answered. Nothing is stored yet."""

    query: str
    session_id: uuid.UUID
    history: list[HistoryMessage]
    collection: str = DEFAULT_COLLECTION
    message_id: uuid.UUID = field(default_factory=uuid.uuid4)
    received_at: float = field(default_factory=time.perf_counter)


@dataclass(frozen=True)
class Answer:
    """A whole answer, for clients that do not stream."""

    session_id: uuid.UUID
    message_id: uuid.UUID
    answer: str
    sources: list[Source]


@dataclass
class _Progress:
    """What one run has produced so far, for the stored turn."""

    parts: list[str] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    status: MessageStatus = MessageStatus.INTERRUPTED
    error_code: str | None = None

    @property
    def text(self) -> str:
        return "".join(self.parts)


class ChatService:
    """Answers questions over the knowledge base, remembering each conversation."""

    def __init__(
        self,
        *,
        store: ConversationStore,
        workflow: CitationChatWorkflow,
        collections: KnownCollections,
        metrics: Metrics,
        settings: ChatSettings,
    ) -> None:
        self._store = store
        self._collections = collections
        self._workflow = workflow
        self._metrics = metrics
        self._settings = settings

    async def prepare(
        self, query: str, session_id: uuid.UUID | None, collection: str | None = None
    ) -> PreparedTurn:
        """Check the question, reserve the session and load its history, before any stream opens.

        A session that is still answering another question is a conflict: one answer at a time.
        The collection searched is the one named, else the session's, else `default`.
        """
        text = query.strip()
        if not text:
            raise InvalidInput("The query is empty.", field_name="query")
        if len(text) > self._settings.max_query_chars:
            raise InvalidInput(
                f"The query has {len(text)} characters; at most "
                f"{self._settings.max_query_chars} are allowed.",
                field_name="query",
            )
        if collection is not None:
            check_collection_name(collection)
            await self._check_collection_exists(collection)
        if session_id is None:
            return PreparedTurn(
                query=text,
                session_id=uuid.uuid4(),
                history=[],
                collection=collection or DEFAULT_COLLECTION,
            )
        message_id = uuid.uuid4()
        # A short reservation: if the stream never starts (the client left before reading it),
        # the session frees itself soon. begin_turn extends it for the whole answer.
        claim = await self._store.claim(
            session_id, message_id, utcnow() + timedelta(seconds=RESERVATION_S)
        )
        if claim == ClaimResult.MISSING:
            raise NotFound(f"There is no session {session_id}.")
        if claim == ClaimResult.BUSY:
            raise Conflict(
                f"Session {session_id} is still answering a question; "
                "wait for that answer to end (or close its stream), then ask again."
            )
        try:
            history = await self._store.history(session_id, self._settings.history_messages)
            if collection is None:
                collection = await self._store.collection_of(session_id) or DEFAULT_COLLECTION
        except BaseException:
            await self._store.release(session_id, message_id)
            raise
        return PreparedTurn(
            query=text,
            session_id=session_id,
            history=fit_to_tokens(history, self._settings.history_tokens),
            message_id=message_id,
            collection=collection,
        )

    async def _check_collection_exists(self, collection: str) -> None:
        # `default` always exists, if only empty; another name must have had a document.
        if collection == DEFAULT_COLLECTION:
            return
        if await self._collections.generation(collection) is None:
            raise NotFound(
                f"There is no collection {collection!r}; upload a document into it first "
                "(POST /api/documents with collection=...)."
            )

    def _claim_deadline(self) -> datetime:
        # Long enough for any answer; a claim left by a dead process expires after it.
        return utcnow() + timedelta(seconds=self._settings.answer_timeout_s + 30)

    async def stream(self, turn: PreparedTurn) -> AsyncGenerator[ChatEvent, None]:
        """Answer the turn as events: started, deltas, then sources or a failure.

        If the consumer goes away, the run is cancelled (the model stops) and the partial
        answer is saved as interrupted; that clean-up is shielded from the cancellation.
        """
        try:
            with anyio.CancelScope(shield=True):
                await self._store.begin_turn(
                    turn.session_id,
                    turn.message_id,
                    turn.query,
                    self._claim_deadline(),
                    turn.collection,
                )
        except Exception as error:
            if not isinstance(error, Conflict):
                logger.exception("Could not store the turn")
            with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                await self._store.release(turn.session_id, turn.message_id)
            yield AnswerStarted(session_id=turn.session_id, message_id=turn.message_id)
            yield AnswerFailed(error if isinstance(error, Conflict) else StorageFailure())
            return
        progress = _Progress()
        failure: CitestreamError | None = None
        handler: WorkflowHandler | None = None
        self._metrics.active_streams.inc()
        try:
            handler = self._workflow.run(
                start_event=ChatRequested(
                    question=turn.query,
                    history=_as_chat(turn.history),
                    collection=turn.collection,
                )
            )
            yield AnswerStarted(session_id=turn.session_id, message_id=turn.message_id)
            async for event in handler.stream_events():
                if isinstance(event, AnswerTokenProduced):
                    if not progress.parts:
                        self._metrics.time_to_first_token.observe(
                            time.perf_counter() - turn.received_at
                        )
                    progress.parts.append(event.delta)
                    yield AnswerDelta(text=event.delta)
            result: object = await handler
            if not isinstance(result, ChatAnswered):
                raise CitestreamError("The answer ended without a result.")
            progress.sources = sources_from_nodes(result.sources, progress.text)
            progress.status = MessageStatus.COMPLETE
        except CitestreamError as error:
            failure = error
        except WorkflowTimeoutError:
            failure = AnswerTimeout(self._settings.answer_timeout_s)
        except Exception:
            logger.exception("Answer failed")
            failure = CitestreamError("Something went wrong while answering.")
        finally:
            if failure is not None:
                progress.status = MessageStatus.ERROR
                progress.error_code = failure.code
            saved = await self._finish(handler, turn, progress)
        if failure is None and not saved:
            # The user saw the answer, but the conversation does not hold it: say so.
            failure = StorageFailure("The answer could not be saved to the conversation.")
        if failure is None:
            yield AnswerSources(sources=progress.sources)
        else:
            yield AnswerFailed(failure)

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
                    case AnswerSources(sources=sources) if started is not None:
                        return Answer(
                            started.session_id, started.message_id, "".join(parts), sources
                        )
        raise CitestreamError("The answer ended without its sources.")

    async def _finish(
        self, handler: WorkflowHandler | None, turn: PreparedTurn, progress: _Progress
    ) -> bool:
        """Stop the run and save the turn; False when the turn could not be saved.

        Runs on success, failure and disconnect alike. Shielded: under a cancelled scope every
        await would be cancelled again, and an unshielded cancel_run() leaves the model running.
        """
        outcome = {
            MessageStatus.COMPLETE: "completed",
            MessageStatus.INTERRUPTED: "cancelled",
            MessageStatus.ERROR: "error",
        }[progress.status]
        saved = False
        with anyio.CancelScope(shield=True), anyio.move_on_after(_CLEANUP_TIMEOUT_S):
            try:
                if handler is not None and not handler.is_done():
                    await handler.cancel_run()
                await self._store.finish_turn(
                    turn.session_id,
                    turn.message_id,
                    TurnOutcome(
                        content=progress.text,
                        status=progress.status,
                        sources=[source.model_dump() for source in progress.sources],
                        error_code=progress.error_code,
                        token_count=len(progress.parts),
                        latency_ms=round((time.perf_counter() - turn.received_at) * 1000),
                    ),
                )
                saved = True
            except Exception:
                logger.exception("Could not save the turn")
                # Free the session now rather than when the claim runs out; the next claim
                # marks the unsaved answer as interrupted.
                with contextlib.suppress(Exception):
                    await self._store.release(turn.session_id, turn.message_id)
            finally:
                self._metrics.active_streams.dec()
                self._metrics.streams.labels(outcome=outcome).inc()
        return saved


def fit_to_tokens(history: list[HistoryMessage], budget: int) -> list[HistoryMessage]:
    """The most recent messages whose estimated tokens (4 characters each) fit the budget."""
    kept: list[HistoryMessage] = []
    for message in reversed(history):
        budget -= math.ceil(len(message.content) / 4)
        if budget < 0:
            break
        kept.append(message)
    kept.reverse()
    # An answer whose question did not fit would read as coming from nowhere.
    while kept and kept[0].role == MessageRole.ASSISTANT:
        kept.pop(0)
    return kept


def _as_chat(history: list[HistoryMessage]) -> list[ChatMessage]:
    roles = {MessageRole.USER: LlamaRole.USER, MessageRole.ASSISTANT: LlamaRole.ASSISTANT}
    return [ChatMessage(role=roles[m.role], content=m.content) for m in history]
