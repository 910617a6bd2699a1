"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline

from app.api import (
    admission,
    ag_ui,
    ai_sdk,
    auth,
    chat,
    documents,
    health,
    identity,
    openai_compat,
    readiness,
    runs,
    sessions,
)
from app.api.admission import ADMIT_REQUEST
from app.api.ai_sdk_parts import AI_SDK_STREAM_HEADER
from app.api.body_limit import BodyLimit
from app.api.guarded_paths import GuardedPaths
from app.api.openapi import publish_contract
from app.api.problems import install_problem_handlers
from app.api.request_ids import REQUEST_ID_HEADER, RequestIdMiddleware
from app.api.url_limit import UrlLengthLimit
from app.api.web import install_page
from app.container import Container
from app.core.settings import Settings
from app.lifecycle import AppLifecycle

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, container: Container | None = None) -> FastAPI:
    """Build an app from `settings` (the environment when omitted); tests pass their own."""
    settings = settings or Settings()
    container = container or Container(settings=settings)
    container.wire(
        modules=[
            ag_ui,
            admission,
            ai_sdk,
            auth,
            chat,
            documents,
            health,
            identity,
            openai_compat,
            readiness,
            runs,
            sessions,
        ]
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            async with AppLifecycle(container) as lifecycle:
                # Storage first: a database that cannot be used stops the start here.
                await lifecycle.open_storage()
                await container.auth_service().announce()
                # The model and the indexes load while the server already answers probes;
                # requests that need them wait (see app/api/readiness.py).
                warming = asyncio.create_task(_warm_up(lifecycle))
                app.state.lifecycle = lifecycle
                try:
                    yield
                finally:
                    warming.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await warming
        finally:
            container.unwire()

    # FastAPIOffline serves Swagger UI and ReDoc from the package, not a CDN: /docs works offline.
    app = FastAPIOffline(
        title="Citestream",
        summary="Answers from your documents, streamed token by token with citations.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.container = container
    # Added before CORS, so CORS wraps it: a browser can read its 401 too.
    app.add_middleware(GuardedPaths, settings=settings.auth, auth=container.auth_service)
    # Added before CORS, so that a 413 still carries the CORS headers a browser needs to read it.
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.limits.max_body_bytes,
        exempt=[("POST", documents.UPLOAD_PATH)],
    )
    if settings.server.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.server.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            # Whatever headers a listed origin's client library sends (OpenAI's SDKs add their
            # X-Stainless-* headers): the origin is trusted already, and no credentials are
            # shared across origins, so naming each header would only break clients.
            allow_headers=["*"],
            expose_headers=[
                "X-Session-Id",
                "X-Message-Id",
                "X-Run-Id",
                "Retry-After",
                REQUEST_ID_HEADER,
                AI_SDK_STREAM_HEADER,
            ],
        )
    # Added last, so outermost of the user middleware: CORS answers carry the id too.
    app.add_middleware(RequestIdMiddleware)
    install_problem_handlers(app)
    app.add_middleware(UrlLengthLimit, limit=settings.server.max_url_chars)
    # Every API route needs a principal (401 when auth is enforced and none is proven), and
    # then counts toward its key's requests per minute; probes and /metrics do neither.
    # Handlers that act on owned resources also take the principal as `PrincipalDep`.
    api = [Depends(identity.current_principal), *ADMIT_REQUEST]
    app.include_router(chat.router, dependencies=api)
    app.include_router(runs.router, dependencies=api)
    app.include_router(ag_ui.router, dependencies=api)
    app.include_router(ai_sdk.router, dependencies=api)
    app.include_router(health.router)
    app.include_router(sessions.router, dependencies=api)
    app.include_router(documents.router, dependencies=api)
    app.include_router(openai_compat.router, dependencies=api)
    app.include_router(auth.router)
    # The chat page at `/`: outside the API (no principal needed to load it) and its schema.
    install_page(app)
    publish_contract(app, settings)
    return app


def settle_startup_objects() -> None:
    """Keep what start-up built out of the garbage collector's way, and collect less often.

    Under load a full collection walked every object of the process: LlamaIndex, the model's
    client, tiktoken's tables, pydantic's schemas, the BM25 index, which live as long as the
    process, beside the objects of every answer in flight. At 300 streams on PostgreSQL +
    Redis that was 12 full collections of up to 459 ms in one wave (2.8 s of its 14 s of CPU),
    and those pauses were the longest gaps between tokens. `gc.freeze()` moves start-up's
    objects to a generation that is never collected (the `gc` documentation's advice for
    servers), and a young generation of 50,000 objects instead of 700 lets an answer's
    short-lived objects die young rather than be promoted. Measured in docs/performance.md.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


async def _warm_up(lifecycle: AppLifecycle) -> None:
    container = lifecycle.container
    readiness = container.readiness()
    settings = container.settings()
    try:
        # The parse processes' fork server imports the readers (seconds): started beside the
        # model, not at the first upload, whose time limits would otherwise include it.
        await asyncio.gather(
            lifecycle.open_answering(), asyncio.to_thread(container.document_parser().warm)
        )
    except Exception as error:
        logger.error("Citestream could not start: %s", error, exc_info=logger.isEnabledFor(10))
        readiness.failed(str(error))
        return
    settle_startup_objects()
    readiness.ready()
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
