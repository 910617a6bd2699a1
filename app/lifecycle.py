"""The one place where the app's long-lived resources are opened and closed: the database, the
window cache, the knowledge indexes, the vector store and the model. The server, the command
line, the benchmarks and the tests all go through it.

Each resource is registered for closing as soon as it is open, and knows how to close itself
(`aclose`); closing runs in reverse order, and only what was opened is closed, even when
opening failed half-way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from types import TracebackType
from typing import Protocol

from app.container import Container
from app.core.errors import CitestreamError
from app.core.names import DEFAULT_COLLECTION
from app.core.principals import LOCAL_PRINCIPAL
from app.core.schema import ensure_schema
from app.core.settings import Settings
from app.core.startup import database_unusable

logger = logging.getLogger(__name__)


class Closeable(Protocol):
    async def aclose(self) -> None: ...


class AppLifecycle:
    """Opens the container's resources in three steps, closes them in reverse."""

    def __init__(self, container: Container) -> None:
        self.container = container
        self._stack = AsyncExitStack()
        self._storage_open = False
        self._knowledge_open = False
        self._answering_open = False

    async def __aenter__(self) -> AppLifecycle:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close everything that was opened, in reverse order, each even if another fails."""
        await self._stack.aclose()

    def _closes(self, what: str, resource: Closeable) -> None:
        async def close() -> None:
            try:
                await resource.aclose()
            except Exception:
                logger.exception("Could not close the %s", what)

        self._stack.push_async_callback(close)

    def _on_close(self, what: str, close: Callable[[], Awaitable[object]]) -> None:
        async def run() -> None:
            try:
                await close()
            except Exception:
                logger.exception("Could not close the %s", what)

        self._stack.push_async_callback(run)

    async def open_storage(self) -> None:
        """The data folder, the database on a current schema (migrated first where the
        settings allow), the conversation window cache and admission control."""
        if self._storage_open:
            return
        settings: Settings = self.container.settings()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        database = self.container.database()
        self._closes("database", database)
        try:
            await ensure_schema(
                database.engine, settings.database.url, auto_migrate=settings.auto_migrate
            )
        except CitestreamError:
            raise  # already says what to do (an old schema)
        except Exception as error:
            raise database_unusable(error, settings.database.url) from error
        self._closes("window cache", self.container.window_cache())
        # Building it starts nothing; closing it kills parses still running, so a slow file
        # never holds up shutdown.
        self._closes("parse processes", self.container.document_parser())
        # Before the runs (closed after them): a run ending gives its slot back.
        admission = self.container.admission()
        self._closes("admission control", admission)
        await admission.open()
        self._storage_open = True

    async def open_knowledge(self) -> None:
        """The vector store (when dense retrieval is on) and the default collection's BM25
        index, built now rather than at the first question."""
        await self.open_storage()
        if self._knowledge_open:
            return
        self._knowledge_open = True
        # Built in a worker thread: the first build imports the retrieval libraries.
        vectors = await asyncio.to_thread(self.container.vector_index)
        if vectors is not None:
            self._closes("vector store", vectors)
            await vectors.open()
            await self._warn_if_vectors_are_missing()
        lexical = await asyncio.to_thread(self.container.lexical_index)
        self._closes("lexical index", lexical)
        await lexical.warm(DEFAULT_COLLECTION)

    async def open_answering(self) -> None:
        """The model, and the workflow and services that answer with it."""
        await self.open_knowledge()
        if self._answering_open:
            return
        self._answering_open = True
        # Built in a worker thread: LlamaIndex and the model's library take seconds to import,
        # and the event loop keeps serving meanwhile.
        llm = await asyncio.to_thread(self.container.llm)
        self._closes("language model", llm)
        await llm.open()
        runs = await asyncio.to_thread(self.container.run_service)
        mirror = self.container.run_mirror()
        if mirror is not None:
            self._closes("shared runs (Redis)", mirror)
        self._closes("runs", runs)
        await runs.open()

    async def drain(self, within_s: float) -> None:
        """Stop taking new questions; let answers in flight end for `within_s`, then cancel the
        rest (their partial answers are saved). Readiness reports `draining` meanwhile."""
        self.container.readiness().draining()
        if self._answering_open:
            await self.container.run_service().drain(within_s)

    async def _warn_if_vectors_are_missing(self) -> None:
        # Documents ingested before dense retrieval was turned on (or under another embedding
        # model) have no vectors here: dense search cannot find them until they are re-embedded.
        vectors = self.container.vector_index()
        assert vectors is not None
        stored = await asyncio.to_thread(vectors.count)
        # Every collection, whoever owns it: the operator's view.
        collections = await self.container.document_service().list_collections(LOCAL_PRINCIPAL)
        chunks = sum(collection.chunk_count for collection in collections)
        if stored < chunks:
            logger.warning(
                "Qdrant collections %s__* hold %d vectors for %d chunks: run `citestream reembed` "
                "so dense retrieval finds every document.",
                vectors.name_prefix,
                stored,
                chunks,
            )


@asynccontextmanager
async def running_container(
    settings: Settings, *, answering: bool = False
) -> AsyncIterator[Container]:
    """A container outside the HTTP server (command line, benchmarks, tests): storage and the
    knowledge indexes open, the model too with `answering`; everything closed afterwards."""
    container = Container(settings=settings)
    async with AppLifecycle(container) as lifecycle:
        await lifecycle.open_knowledge()
        if answering:
            await lifecycle.open_answering()
        yield container
