"""The chat workflow: what CondenseQuestionChatEngine over a streaming CitationQueryEngine does,
as typed steps ending with the model's answer ready to be read.

The chat engine itself is not used because its `astream_chat` runs the model in a background
task that outlives a disconnect. Here the condensing call is awaited inside a step, so
`handler.cancel_run()` stops it; the answer's tokens come after the workflow has ended, as an
`AnswerStream` its one reader pulls and closes, so nothing writes when nobody reads.
"""

from __future__ import annotations

import logging
from contextlib import aclosing
from typing import Any, Protocol

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.llms.generic_utils import messages_to_history_str
from llama_index.core.base.llms.types import ChatResponseAsyncGen
from llama_index.core.base.response.schema import AsyncStreamingResponse
from llama_index.core.chat_engine.condense_question import DEFAULT_PROMPT as CONDENSE_PROMPT
from llama_index.core.indices.prompt_helper import ChatPromptHelper, PromptHelper
from llama_index.core.llms import LLM
from llama_index.core.query_engine import CitationQueryEngine
from llama_index.core.query_engine.citation_query_engine import (
    CITATION_REFINE_TEMPLATE,
    DEFAULT_CITATION_CHUNK_OVERLAP,
)
from llama_index.core.response_synthesizers import ResponseMode, get_response_synthesizer
from llama_index.core.schema import NodeWithScore, QueryBundle
from llama_index.core.workflow import Context, Workflow, step
from workflows.decorators import StepFunction

from app.core.errors import CitestreamError, LLMFailure, RetrievalFailure
from app.core.names import DEFAULT_COLLECTION
from app.llms.deadlines import TokenClock, TokenDeadlines
from app.workflows.answer_stream import AnswerStream, said
from app.workflows.citation_splits import RememberingSentenceSplitter
from app.workflows.citations import SOURCE_LABEL
from app.workflows.events import (
    AnswerReady,
    ChatRequested,
    Passages,
    PassagesRetrieved,
    QuestionCondensed,
)
from app.workflows.prompts import citation_qa_template
from app.workflows.runtime import UnjournaledRuntime
from app.workflows.token_counts import counting_tokenizer

logger = logging.getLogger(__name__)

NOTHING_FOUND_ANSWER = "I could not find anything about that in the knowledge base."


class PassageSearch(Protocol):
    """Port for retrieval: the best passages for a question in one collection."""

    async def search(self, question: str, collection: str) -> list[NodeWithScore]: ...


class CitationChatWorkflow(Workflow):
    """Condense the follow-up with the history, retrieve passages, answer citing them as `[n]`."""

    def __init__(
        self,
        *,
        llm: LLM,
        citation_engine: CitationQueryEngine,
        search: PassageSearch,
        deadlines: TokenDeadlines,
    ) -> None:
        self._steps: dict[str, StepFunction[..., Any]] | None = None
        # No timer of the workflow's own: the answer's time limit (`WorkflowAnswer`) starts
        # before the run, so it always fires first, and stops the run when it does.
        super().__init__(timeout=None, runtime=UnjournaledRuntime())
        self._llm = llm
        self._citation_engine = citation_engine
        self._search = search
        self._deadlines = deadlines

    def _get_steps(self) -> dict[str, StepFunction[..., Any]]:
        # The workflows library asks for the steps several times per run and finds them with
        # inspect.getmembers each time; this workflow's steps never change once it is built.
        if self._steps is None:
            self._steps = super()._get_steps()
        return self._steps

    @step
    async def condense(
        self, ctx: Context, ev: ChatRequested
    ) -> QuestionCondensed | PassagesRetrieved:
        """Rewrite the follow-up as a standalone question (CondenseQuestionChatEngine's prompt)."""
        if not ev.history:
            # As the chat engine does: a first question stands on its own. Its passages are
            # found here rather than by the next step: a step of the workflow's runtime cost
            # about half a millisecond before the first token, for nothing to condense.
            return await self._passages_for(ev.question, ev.collection)
        try:
            messages = CONDENSE_PROMPT.format_messages(
                llm=self._llm,
                question=ev.question,
                chat_history=messages_to_history_str(ev.history),
            )
            async with self._deadlines.watch() as clock:
                condensed = await _first_line_of(await self._llm.astream_chat(messages), clock)
        except CitestreamError:
            raise
        except Exception as error:
            raise LLMFailure("The language model failed while reading the conversation.") from error
        return QuestionCondensed(
            standalone_question=_standalone(condensed, ev.question),
            collection=ev.collection,
        )

    @step
    async def retrieve(self, ctx: Context, ev: QuestionCondensed) -> PassagesRetrieved:
        """Find the passages for the standalone question in the conversation's collection."""
        return await self._passages_for(ev.standalone_question, ev.collection)

    async def _passages_for(self, question: str, collection: str) -> PassagesRetrieved:
        try:
            passages = await self._search.search(question, collection)
        except CitestreamError:
            # Already a domain error, such as `storage_busy` when the search found no free
            # database connection: passed on as it is, so the user is told to try again
            # rather than that the knowledge base failed. The database logged its cause.
            raise
        except Exception as error:
            logger.exception("Retrieval failed")
            raise RetrievalFailure() from error
        return PassagesRetrieved(standalone_question=question, passages=Passages(passages))

    @step
    async def answer(self, ctx: Context, ev: PassagesRetrieved) -> AnswerReady:
        """Number the passages as `Source n` / `[n]` and have the model's answer ready."""
        if not ev.passages:
            # Said plainly rather than letting the model answer from nothing.
            return AnswerReady(
                stream=AnswerStream(said(NOTHING_FOUND_ANSWER), self._deadlines),
                sources=Passages(),
                standalone_question=ev.standalone_question,
            )
        try:
            # Under the model's limits: with more passages than its context holds, the
            # synthesizer asks the model to refine chunk by chunk before the streamed answer.
            async with self._deadlines.watch():
                response = await self._citation_engine.asynthesize(
                    QueryBundle(query_str=ev.standalone_question), ev.passages
                )
        except CitestreamError:
            raise
        except Exception as error:
            logger.exception("The language model failed before answering")
            raise LLMFailure() from error
        if not isinstance(response, AsyncStreamingResponse):
            raise LLMFailure("The answer could not be streamed.")
        # The synthesizer's own token stream, not `async_response_gen()`: that wraps it in two
        # more generators and a lock, and keeps the text so far by `+=` (a copy of the whole
        # answer per token).
        return AnswerReady(
            stream=AnswerStream(response.response_gen, self._deadlines),
            sources=Passages(response.source_nodes),
            standalone_question=ev.standalone_question,
        )


class SearchRetriever(BaseRetriever):
    """One collection through the workflow's search, as a LlamaIndex retriever. Async only."""

    def __init__(self, search: PassageSearch, collection: str) -> None:
        super().__init__()
        self._search = search
        self._collection = collection

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        raise NotImplementedError("Citestream retrieves asynchronously: use aretrieve()")

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return await self._search.search(query_bundle.query_str, self._collection)


class CompactCitationQueryEngine(CitationQueryEngine):
    """CitationQueryEngine whose passages reach the model as `[n] text`, with no metadata lines.

    The engine's own `Source n:` label comes after the passage's title and heading lines, so
    SmolLM2-135M answered by copying those lines (`Title: ...`) and rarely wrote `[n]`; shown
    the very marker it should write next to each passage, it cites far more often.
    """

    def _create_citation_nodes(self, nodes: list[NodeWithScore]) -> list[NodeWithScore]:
        numbered = super()._create_citation_nodes(nodes)
        for index, hit in enumerate(numbered, start=1):
            text = SOURCE_LABEL.sub("", hit.node.get_content()).strip()
            hit.node.set_content(f"[{index}] {text}")
            # The metadata stays for the citations; only the prompt no longer shows it.
            hit.node.excluded_llm_metadata_keys = list(hit.node.metadata)
        return numbered


def build_citation_engine(
    *, llm: LLM, search: PassageSearch, citation_chunk_size: int, prompt_style: str
) -> CitationQueryEngine:
    """CitationQueryEngine as `from_args(..., streaming=True)` builds it, without an index.

    Its plain constructor would hard-code streaming off; this passes a streaming synthesizer
    with the engine's own citation prompts. The workflow retrieves per collection itself and
    only asks the engine to number the passages and stream the answer; the default
    collection's retriever makes the engine whole for callers that query it directly.
    """
    tokenizer = counting_tokenizer()
    synthesizer = get_response_synthesizer(
        llm=llm,
        text_qa_template=citation_qa_template(prompt_style),
        refine_template=CITATION_REFINE_TEMPLATE,
        response_mode=ResponseMode.COMPACT,
        streaming=True,
        prompt_helper=PromptHelper.from_llm_metadata(llm.metadata, tokenizer=tokenizer),
        chat_prompt_helper=ChatPromptHelper.from_llm_metadata(llm.metadata, tokenizer=tokenizer),
    )
    engine_class = CompactCitationQueryEngine if prompt_style == "compact" else CitationQueryEngine
    return engine_class(
        retriever=SearchRetriever(search, DEFAULT_COLLECTION),
        llm=llm,
        response_synthesizer=synthesizer,
        citation_chunk_size=citation_chunk_size,
        text_splitter=RememberingSentenceSplitter(
            chunk_size=citation_chunk_size,
            chunk_overlap=DEFAULT_CITATION_CHUNK_OVERLAP,
            tokenizer=tokenizer,
        ),
    )


async def _first_line_of(responses: ChatResponseAsyncGen, clock: TokenClock) -> str:
    """Read the model's rewrite up to its first complete line, then stop the model."""
    text = ""
    async with aclosing(responses) as stream:  # closing it stops the model's generation
        async for response in stream:
            clock.tick()
            text += response.delta or ""
            if "\n" in text.lstrip():
                break
    return text.strip()


def _standalone(condensed: str, question: str) -> str:
    # Small models add chatter after the rewritten question: keep its first line, and fall back
    # to the user's own words when the rewrite is empty or runs on.
    first_line = next((line.strip() for line in condensed.splitlines() if line.strip()), "")
    if not first_line or len(first_line) > 4 * len(question) + 200:
        return question
    return first_line
