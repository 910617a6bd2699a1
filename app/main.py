"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline

from app.api import chat, documents, health, sessions
from app.api.problems import install_problem_handlers
from app.api.streaming import EVENT_SCHEMAS
from app.container import Container
from app.core.names import DEFAULT_COLLECTION
from app.core.settings import Settings
from app.lifecycle import open_storage, release
from app.llms.llamacpp import LlamaCppLLM

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, container: Container | None = None) -> FastAPI:
    """Build an app from `settings` (the environment when omitted); tests pass their own."""
    settings = settings or Settings()
    container = container or Container(settings=settings)
    container.wire(modules=[chat, documents, health, sessions])

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            await _start(container, settings)
            yield
        finally:
            await _stop(container)  # also after a failed start: release what was opened

    # FastAPIOffline serves Swagger UI and ReDoc from the package, not a CDN: /docs works offline.
    app = FastAPIOffline(
        title="Citestream",
        summary="Answers from your documents, streamed token by token with citations.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.container = container
    if settings.server.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.server.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Content-Type", "Accept", "Last-Event-ID"],
            expose_headers=["X-Session-Id", "X-Message-Id"],
        )
    install_problem_handlers(app)
    app.include_router(chat.router)
    app.include_router(health.router)
    app.include_router(sessions.router)
    app.include_router(documents.router)
    _document_event_schemas(app)
    return app


async def _start(container: Container, settings: Settings) -> None:
    await open_storage(container)
    vectors = container.vector_index()
    if vectors is not None:
        await vectors.open()
        await _check_vectors(container)
    # The default collection's BM25 index is built now rather than at the first question.
    await container.lexical_index().warm(DEFAULT_COLLECTION)
    llm = container.llm()
    if isinstance(llm, LlamaCppLLM):
        await llm.load()
    if not settings.redis.url:
        logger.info(
            "Conversation cache: in-process LRU, right for one worker. Running several workers? "
            "Set CITESTREAM_REDIS__URL so they share one cache."
        )
    logger.info(
        "Citestream ready: %d documents, %s retrieval, LLM provider %s",
        await container.document_service().count(),
        settings.retrieval_mode,
        settings.llm.provider,
    )


async def _check_vectors(container: Container) -> None:
    # Documents ingested before dense retrieval was turned on (or under another embedding
    # model) have no vectors here: dense search cannot find them until they are re-embedded.
    vectors = container.vector_index()
    assert vectors is not None
    stored = await asyncio.to_thread(vectors.count)
    chunks = sum(c.chunk_count for c in await container.document_service().list_collections())
    if stored < chunks:
        logger.warning(
            "Qdrant collections %s__* hold %d vectors for %d chunks: run `citestream reembed` "
            "so dense retrieval finds every document.",
            vectors.name_prefix,
            stored,
            chunks,
        )


async def _stop(container: Container) -> None:
    await release(container)
    container.unwire()


def _document_event_schemas(app: FastAPI) -> None:
    # The SSE payloads are not response models, so add their schemas for /docs to reference.
    original = app.openapi

    def openapi() -> dict[str, object]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in EVENT_SCHEMAS:
            components.setdefault(
                model.__name__, model.model_json_schema(ref_template="#/components/schemas/{model}")
            )
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
