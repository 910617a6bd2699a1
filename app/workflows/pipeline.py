"""The citation chat workflow behind the `AnswerPipeline` port: plain values in, plain values
out, LlamaIndex types kept inside this package."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.base.llms.types import MessageRole as LlamaRole
from workflows.handler import WorkflowHandler

from app.core.errors import AnswerTimeout, CitestreamError
from app.core.futures import look_at_exception
from app.memory.messages import HistoryMessage, MessageRole
from app.workflows.answers import AnswerRequest, AnswerResult
from app.workflows.citation_chat import CitationChatWorkflow
from app.workflows.citations import citations_of, marking_cited
from app.workflows.events import AnswerReady, ChatRequested, Conversation

logger = logging.getLogger(__name__)


class WorkflowAnswerPipeline:
    """Starts one run of the citation chat workflow per answer (the workflow is shared; each
    run has its own context), at most `max_starting` at a time.

    An answer's start (condensing the follow-up, finding the passages, building the prompt, up
    to the model's answer being ready) is where it holds the most: the passages, their rows
    and the prompt. Started all at once, a burst of a thousand answers holds a thousand of
    those together, and the allocator keeps the pages after they are freed; every start also
    shares the CPU with every other, so the first answer is ready no sooner than the last.
    Started in turn, in the order they were asked, the first answers start writing while the
    rest wait, holding only their request. 0 starts every answer at once.
    """

    def __init__(
        self, workflow: CitationChatWorkflow, *, answer_timeout_s: float, max_starting: int
    ) -> None:
        self._workflow = workflow
        self._answer_timeout_s = answer_timeout_s
        self._turns = StartTurns(max_starting)

    def start(self, request: AnswerRequest) -> WorkflowAnswer:
        start_event = ChatRequested(
            question=request.question,
            history=_as_chat(request.history),
            collection=request.collection,
        )
        return WorkflowAnswer(
            lambda: self._workflow.run(start_event=start_event),
            starting=self._turns,
            timeout_s=self._answer_timeout_s,
        )

    def starts_running(self) -> int:
        return self._turns.running

    def starts_waiting(self) -> int:
        return self._turns.waiting


class StartTurns:
    """Answers' turns to start: at most `limit` at once (0: no limit), the others waiting in
    the order they came; how many are in each state, for the metrics."""

    def __init__(self, limit: int) -> None:
        self._slots = asyncio.Semaphore(limit) if limit else None
        self.running = 0
        self.waiting = 0

    async def __aenter__(self) -> None:
        if self._slots is not None:
            self.waiting += 1
            try:
                await self._slots.acquire()
            finally:
                self.waiting -= 1
        self.running += 1

    async def __aexit__(self, *exc_info: object) -> None:
        self.running -= 1
        if self._slots is not None:
            self._slots.release()


class DeltaBuffer:
    """Pieces of an answer between the step that writes them and the reader, joined while the
    reader is busy. Single reader, which waits on a future of its own: an asyncio.Event looks
    up the running loop at every wait, a few percent of the CPU under load at one wait per
    token."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._closed = False
        self._waiter: asyncio.Future[None] | None = None
        self.written = 0

    def put(self, delta: str) -> None:
        self._parts.append(delta)
        self.written += 1
        self._wake()

    def close(self) -> None:
        self._closed = True
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():  # a reader that was cancelled is done
            waiter.set_result(None)

    async def drain(self) -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        while True:
            if self._parts:
                text = "".join(self._parts)
                self._parts = []
                yield text
                continue
            if self._closed:
                return
            self._waiter = loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None


class WorkflowAnswer:
    """One answer: a workflow run that ends with the model's answer ready, then that answer
    read into a buffer by a task of its own, so that pieces written while the reader is busy
    are joined. The answer's time limit covers all of it: waiting for its turn to start, the
    workflow, and the writing."""

    def __init__(
        self,
        run: Callable[[], WorkflowHandler],
        *,
        starting: StartTurns,
        timeout_s: float,
    ) -> None:
        self._run = run
        self._starting = starting
        self._buffer = DeltaBuffer()
        self._timeout_s = timeout_s
        self._deadline = asyncio.get_running_loop().time() + timeout_s
        self._ended: asyncio.Future[AnswerResult] = asyncio.ensure_future(self._settle())
        # Whoever stops a run may never ask for its result: the error is looked at either way.
        self._ended.add_done_callback(look_at_exception)

    async def _settle(self) -> AnswerResult:
        try:
            async with asyncio.timeout_at(self._deadline):
                ready = await self._ready()
                stream, citations = ready.stream, citations_of(ready.sources)
                del ready  # and with it the passages' nodes: the citations hold what is needed
                text = await stream.write(self._buffer.put)
            return AnswerResult(text, marking_cited(citations, text))
        except CitestreamError:
            raise
        except TimeoutError:
            raise AnswerTimeout(self._timeout_s) from None
        except Exception as error:
            logger.error("The answer failed", exc_info=error)
            raise CitestreamError("Something went wrong while answering.") from None
        finally:
            self._buffer.close()  # the reader's loop ends with the answer, however it ends

    async def _ready(self) -> AnswerReady:
        """The workflow's run, in this answer's turn among those starting; it has ended (and
        its queues, context and events are let go of) when this returns."""
        async with self._starting:
            handler = self._run()
            outcome = asyncio.ensure_future(handler)
            # A run stopped below ends with WorkflowCancelledByUser, which nobody else reads.
            outcome.add_done_callback(look_at_exception)
            try:
                # Shielded: cancelling this task (stop(), or the time limit) must not cancel
                # the handler as a plain future; the workflow is stopped in its own way below.
                ready: object = await asyncio.shield(outcome)
            finally:
                if not handler.is_done():
                    # The only call that stops a running step (and with it a condensing model).
                    await handler.cancel_run()
        if not isinstance(ready, AnswerReady):
            raise CitestreamError("The answer ended without a result.")
        return ready

    def deltas(self) -> AsyncIterator[str]:
        return self._buffer.drain()

    def is_done(self) -> bool:
        return self._ended.done()

    @property
    def tokens(self) -> int:
        return self._buffer.written

    async def result(self) -> AnswerResult:
        # Shielded: a reader that is cancelled while waiting does not end the answer; stop() does.
        return await asyncio.shield(self._ended)

    async def stop(self) -> None:
        if not self._ended.done():
            # Cancelling the answer's task stops the workflow if it is still running, or
            # closes the model's stream if it is writing: the model stops now.
            self._ended.cancel()
            await asyncio.wait([self._ended])
        self._buffer.close()


def _as_chat(history: list[HistoryMessage]) -> Conversation:
    roles = {MessageRole.USER: LlamaRole.USER, MessageRole.ASSISTANT: LlamaRole.ASSISTANT}
    return Conversation(ChatMessage(role=roles[m.role], content=m.content) for m in history)
