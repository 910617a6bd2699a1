"""Answering one prepared turn: store it, run the pipeline, and write how it ended exactly once,
as typed events, whatever the consumer does."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from datetime import timedelta

import anyio

from app.core.citations import Citation
from app.core.clock import Clock
from app.core.errors import CitestreamError, Conflict, StorageBusy, StorageFailure
from app.core.metrics import Metrics
from app.core.settings import ChatSettings
from app.memory.claims import SessionClaims
from app.memory.messages import MessageStatus, TurnOutcome
from app.memory.turns import TurnStore
from app.services.answer_events import (
    AnswerDelta,
    AnswerEvent,
    AnswerFailed,
    AnswerSources,
    AnswerStarted,
)
from app.services.intake import PreparedTurn
from app.workflows.answers import AnswerInProgress, AnswerPipeline, AnswerRequest

logger = logging.getLogger(__name__)

# A claim outlives the longest answer by this much; a claim left by a dead process then expires.
_CLAIM_MARGIN = timedelta(seconds=30)
# Failures that cut a sound answer short (the model went silent): what it wrote is kept as an
# interrupted answer, as after a cancellation, rather than as a failed one.
_CUT_SHORT = frozenset({"llm_timeout"})


@dataclass
class _Progress:
    """What one answer has produced so far, for the stored turn."""

    parts: list[str] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)
    status: MessageStatus = MessageStatus.INTERRUPTED
    error_code: str | None = None
    tokens: int = 0

    @property
    def text(self) -> str:
        return "".join(self.parts)


class TurnAnswerer:
    """Answers prepared turns, remembering each in its conversation."""

    def __init__(
        self,
        *,
        turns: TurnStore,
        claims: SessionClaims,
        pipeline: AnswerPipeline,
        metrics: Metrics,
        settings: ChatSettings,
        clock: Clock,
    ) -> None:
        self._turns = turns
        self._claims = claims
        self._pipeline = pipeline
        metrics.answers_starting.set_function(pipeline.starts_running)
        metrics.answers_waiting_to_start.set_function(pipeline.starts_waiting)
        self._metrics = metrics
        self._settings = settings
        self._clock = clock

    async def events(
        self, turn: PreparedTurn, *, run_id: uuid.UUID | None = None
    ) -> AsyncGenerator[AnswerEvent, None]:
        """Answer the turn as events: started, deltas, then sources or a failure.

        If the consumer goes away, the run is stopped (the model stops) and the partial
        answer is saved as interrupted; that clean-up is shielded from the cancellation.
        """
        # Started first: the follow-up is condensed and the passages found while the question
        # is being stored, rather than after.
        answer: AnswerInProgress = self._pipeline.start(
            AnswerRequest(turn.query, turn.history, turn.collection)
        )
        try:
            with anyio.CancelScope(shield=True):
                await self._turns.begin(
                    turn.session_id,
                    turn.message_id,
                    turn.query,
                    timedelta(seconds=self._settings.answer_timeout_s) + _CLAIM_MARGIN,
                    turn.session_collection,
                    new_session=not turn.claimed,
                    owner=turn.principal_id,
                )
        except Exception as error:
            # A conflict is the user's to resolve and a busy database was logged where it was
            # met; anything else is a storage failure nobody has heard of yet.
            if not isinstance(error, Conflict | StorageBusy):
                logger.exception("Could not store the turn of run %s", run_id)
            with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                await answer.stop()
                await self._claims.release(turn.session_id, turn.message_id)
            yield AnswerStarted(turn.session_id, turn.message_id, run_id)
            yield AnswerFailed(
                error if isinstance(error, Conflict | StorageBusy) else StorageFailure()
            )
            return
        progress = _Progress()
        failure: CitestreamError | None = None
        self._metrics.active_streams.inc()
        try:
            yield AnswerStarted(turn.session_id, turn.message_id, run_id)
            async for delta in answer.deltas():
                if not progress.parts:
                    self._metrics.time_to_first_token.observe(
                        self._clock.monotonic() - turn.received_at
                    )
                progress.parts.append(delta)
                yield AnswerDelta(text=delta)
            result = await answer.result()
            progress.citations = result.citations
            progress.status = MessageStatus.COMPLETE
        except CitestreamError as error:
            failure = error
        except Exception:
            logger.exception("Answer failed")
            failure = CitestreamError("Something went wrong while answering.")
        finally:
            if failure is not None:
                progress.status = (
                    MessageStatus.INTERRUPTED if failure.code in _CUT_SHORT else MessageStatus.ERROR
                )
                progress.error_code = failure.code
            saved = await self._finish(answer, turn, progress, run_id)
        if failure is None and not saved:
            # The user saw the answer, but the conversation does not hold it: say so. Not
            # `storage_busy` even when the database was only busy: a client that asks again
            # on that code would ask a question whose answer it has already shown.
            failure = StorageFailure("The answer could not be saved to the conversation.")
        if failure is None:
            yield AnswerSources(citations=progress.citations)
        else:
            yield AnswerFailed(failure)

    async def _finish(
        self,
        answer: AnswerInProgress | None,
        turn: PreparedTurn,
        progress: _Progress,
        run_id: uuid.UUID | None,
    ) -> bool:
        """Stop the run and save the turn, exactly once; False when it could not be saved.

        Runs on success, failure and disconnect alike. Shielded: under a cancelled scope every
        await would be cancelled again, and an unshielded stop leaves the model running. There
        is no deadline here: a busy database is waited for (and tried again), because reporting
        a saved answer as lost is worse than saving it late.
        """
        outcome = (
            "error"
            if progress.error_code is not None
            else {
                MessageStatus.COMPLETE: "completed",
                MessageStatus.INTERRUPTED: "cancelled",
                MessageStatus.ERROR: "error",
            }[progress.status]
        )
        saved = False
        with anyio.CancelScope(shield=True):
            try:
                if answer is not None:
                    if not answer.is_done():
                        await answer.stop()
                    progress.tokens = answer.tokens
                saved = await self._turns.finish(
                    turn.session_id,
                    turn.message_id,
                    TurnOutcome(
                        content=progress.text,
                        status=progress.status,
                        sources=[citation.as_dict() for citation in progress.citations],
                        error_code=progress.error_code,
                        token_count=progress.tokens,
                        latency_ms=round((self._clock.monotonic() - turn.received_at) * 1000),
                    ),
                )
                if not saved:
                    logger.error(
                        "The answer of run %s (session %s, message %s) was already written by "
                        "another process; this one is not saved",
                        run_id,
                        turn.session_id,
                        turn.message_id,
                    )
            except Exception:
                logger.exception(
                    "Could not save the answer of run %s (session %s, message %s)",
                    run_id,
                    turn.session_id,
                    turn.message_id,
                )
                # Free the session now rather than when the claim runs out; the next claim
                # marks the unsaved answer as interrupted.
                try:
                    await self._turns.release(turn.session_id, turn.message_id)
                except Exception:
                    logger.exception("Could not free session %s either", turn.session_id)
            finally:
                self._metrics.active_streams.dec()
                self._metrics.streams.labels(outcome=outcome).inc()
        return saved
