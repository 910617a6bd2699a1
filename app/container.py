"""The dependency-injector container: every object that lives as long as the app.

Importing this module is cheap. The parts whose libraries take seconds to import (LlamaIndex,
the model runtimes, Qdrant, BM25) are built by the small functions below, which import their
code when they are first called: a provider's code is only imported when it is configured.
"""

from __future__ import annotations

import os
import socket
import uuid
from typing import TYPE_CHECKING

from dependency_injector import containers, providers

from app.core.changes import CollectionChanges
from app.core.clock import Clock, SystemClock
from app.core.database import Database
from app.core.metrics import Metrics
from app.core.settings import IngestionSettings, LimitsSettings, RetrievalSettings, Settings
from app.identity.keys import KeyStore
from app.knowledge.chunks import ChunkLookup
from app.knowledge.collections import CollectionCatalog
from app.knowledge.documents import DocumentLookup
from app.knowledge.versions import DocumentVersions
from app.llms import build_llm
from app.memory.cache import build_window_cache
from app.memory.claims import SessionClaims
from app.memory.history import ConversationHistory
from app.memory.sessions import SessionRepository
from app.memory.turns import TurnStore
from app.services.admission import build_admission
from app.services.answering import TurnAnswerer
from app.services.auth import AuthService
from app.services.documents import DocumentService
from app.services.ingest import IngestService
from app.services.intake import QuestionIntake
from app.services.keys import KeyService
from app.services.readiness import Readiness
from app.services.reembedding import ReembeddingService
from app.services.runs import RunService
from app.services.sessions import SessionService
from app.services.signing import build_signer
from app.services.stream_tokens import StreamTokenService
from app.workflows import build_answer_pipeline

if TYPE_CHECKING:
    from llama_index.core.llms import LLM

    from app.ingestion.isolation import IsolatedParser
    from app.retrieval.dense import VectorIndex
    from app.retrieval.lexical import LexicalIndex
    from app.retrieval.search import KnowledgeSearch, RetrievalMode
    from app.runs.redis_mirror import RedisRunMirror


def build_vector_index(settings: Settings) -> VectorIndex | None:
    """Qdrant and the embedding model, when dense retrieval is configured."""
    if settings.embeddings.provider == "none":
        return None
    from app.retrieval.dense import VectorIndex
    from app.retrieval.embeddings import build_embed_model, model_slug

    embeddings = build_embed_model(settings.embeddings)
    assert embeddings is not None
    return VectorIndex(
        settings.qdrant,
        embeddings,
        local_path=settings.qdrant_path,
        name_prefix=f"{settings.qdrant.collection_prefix}_{model_slug(settings.embeddings)}",
        remote_embeddings=settings.embeddings.provider == "openai",
    )


def build_document_parser(settings: IngestionSettings, limits: LimitsSettings) -> IsolatedParser:
    """Reading and chunking files (Markdown, HTML, PDF readers; LlamaIndex's splitter), each in
    a process of its own under the limits."""
    from app.ingestion.isolation import IsolatedParser

    return IsolatedParser(settings, limits)


def build_lexical_index(
    generations: CollectionCatalog,
    chunks: ChunkLookup,
    settings: RetrievalSettings,
    changes: CollectionChanges,
    clock: Clock,
) -> LexicalIndex:
    """BM25 per collection, in memory."""
    from app.retrieval.lexical import LexicalIndex

    return LexicalIndex(
        generations=generations,
        chunks=chunks,
        rebuild_wait_s=settings.rebuild_wait_s,
        check_every_s=settings.change_check_s,
        changes=changes,
        clock=clock,
    )


def build_knowledge_search(
    *,
    chunks: ChunkLookup,
    lexical: LexicalIndex,
    dense: VectorIndex | None,
    settings: RetrievalSettings,
    mode: RetrievalMode,
    llm: LLM,
) -> KnowledgeSearch:
    """Retrieval in the configured mode: lexical, dense, or both fused."""
    from app.retrieval.search import KnowledgeSearch

    return KnowledgeSearch(
        chunks=chunks, lexical=lexical, dense=dense, settings=settings, mode=mode, llm=llm
    )


def new_worker_id() -> str:
    """This process's name among the workers sharing Redis: host, pid and a random part (a pid
    is reused after a restart)."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def build_run_mirror(settings: Settings, clock: Clock, worker_id: str) -> RedisRunMirror | None:
    """Runs shared through Redis, when Redis is configured."""
    if not settings.redis.url:
        return None
    from app.runs.redis_mirror import RedisRunMirror

    return RedisRunMirror(
        settings.redis.url,
        worker_id=worker_id,
        clock=clock,
        retention_s=settings.runs.retention_s,
        max_events=settings.runs.max_events,
        liveness_ttl_s=settings.runs.liveness_ttl_s,
        write_timeout_s=settings.redis.timeout_s,
        retry_after_s=settings.redis.retry_after_s,
    )


class Container(containers.DeclarativeContainer):
    """Built by `create_app` (or the CLI) from its settings; opened and closed by
    `app.lifecycle.AppLifecycle`."""

    settings = providers.Dependency(instance_of=Settings)

    clock = providers.Singleton(SystemClock)
    metrics = providers.Singleton(Metrics)
    readiness = providers.Singleton(Readiness)
    database = providers.Singleton(Database, settings.provided.database)

    # Conversations. The window cache is Redis when CITESTREAM_REDIS__URL is set, else an
    # in-process LRU.
    window_cache = providers.Singleton(build_window_cache, settings.provided.redis, metrics, clock)
    session_claims = providers.Singleton(SessionClaims, database, clock)
    conversation_history = providers.Singleton(
        ConversationHistory, database, window_cache, settings.provided.chat.history_messages
    )
    turn_store = providers.Singleton(
        TurnStore, database, conversation_history, clock, metrics.provided.storage_retries.inc
    )
    session_repository = providers.Singleton(SessionRepository, database)

    # The knowledge base and retrieval.
    collection_catalog = providers.Singleton(CollectionCatalog, database)
    document_lookup = providers.Singleton(DocumentLookup, database)
    # Uploads through this process reach its indexes at once.
    collection_changes = providers.Singleton(CollectionChanges)
    document_versions = providers.Singleton(DocumentVersions, database, clock, collection_changes)
    chunk_lookup = providers.Singleton(ChunkLookup, database)
    # None unless an embedding model is configured.
    vector_index = providers.Singleton(build_vector_index, settings)
    lexical_index = providers.Singleton(
        build_lexical_index,
        collection_catalog,
        chunk_lookup,
        settings.provided.retrieval,
        collection_changes,
        clock,
    )
    llm = providers.Singleton(build_llm, settings.provided.llm, metrics.provided.llm_tokens.inc)
    knowledge_search = providers.Singleton(
        build_knowledge_search,
        chunks=chunk_lookup,
        lexical=lexical_index,
        dense=vector_index,
        settings=settings.provided.retrieval,
        mode=settings.provided.retrieval_mode,
        llm=llm,
    )
    # One workflow serves every answer: each run gets its own context.
    answer_pipeline = providers.Singleton(
        build_answer_pipeline,
        llm=llm,
        search=knowledge_search,
        citation_chunk_size=settings.provided.retrieval.citation_chunk_size,
        prompt_style=settings.provided.citation_prompt,
        answer_timeout_s=settings.provided.chat.answer_timeout_s,
        max_starting_answers=settings.provided.chat.max_starting_answers,
        first_token_timeout_s=settings.provided.llm.first_token_limit_s,
        stall_timeout_s=settings.provided.llm.stall_timeout_s,
    )

    # Services.
    question_intake = providers.Singleton(
        QuestionIntake,
        claims=session_claims,
        history=conversation_history,
        collections=collection_catalog,
        settings=settings.provided.chat,
        clock=clock,
    )
    turn_answerer = providers.Singleton(
        TurnAnswerer,
        turns=turn_store,
        claims=session_claims,
        pipeline=answer_pipeline,
        metrics=metrics,
        settings=settings.provided.chat,
        clock=clock,
    )
    admission = providers.Singleton(build_admission, settings, metrics, clock)
    worker_id = providers.Singleton(new_worker_id)
    # None without Redis: runs then live in this process only.
    run_mirror = providers.Singleton(build_run_mirror, settings, clock, worker_id)
    run_service = providers.Singleton(
        RunService,
        intake=question_intake,
        answerer=turn_answerer,
        turns=turn_store,
        admission=admission,
        mirror=run_mirror,
        worker_id=worker_id,
        settings=settings.provided.runs,
        metrics=metrics,
        clock=clock,
    )
    session_service = providers.Singleton(
        SessionService, repository=session_repository, cache=window_cache
    )
    document_parser = providers.Singleton(
        build_document_parser, settings.provided.ingestion, settings.provided.limits
    )
    ingest_service = providers.Singleton(
        IngestService,
        documents=document_lookup,
        collections=collection_catalog,
        versions=document_versions,
        parser=document_parser,
        vectors=vector_index,
        settings=settings.provided.ingestion,
        clock=clock,
    )
    document_service = providers.Singleton(
        DocumentService,
        documents=document_lookup,
        chunks=chunk_lookup,
        collections=collection_catalog,
        versions=document_versions,
        vectors=vector_index,
    )
    # Identity.
    key_store = providers.Singleton(KeyStore, database, clock)
    key_service = providers.Singleton(
        KeyService, store=key_store, clock=clock, cache_ttl_s=settings.provided.auth.key_cache_ttl_s
    )
    signer = providers.Singleton(build_signer, settings, clock)
    auth_service = providers.Singleton(
        AuthService,
        keys=key_service,
        signer=signer,
        settings=settings.provided.auth,
        server=settings.provided.server,
    )
    stream_token_service = providers.Singleton(
        StreamTokenService, auth=auth_service, runs=run_service, sessions=session_service
    )
    reembedding_service = providers.Singleton(
        ReembeddingService, chunks=chunk_lookup, vectors=vector_index
    )
