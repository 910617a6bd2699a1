"""The dependency-injector container: every object that lives as long as the app."""

from __future__ import annotations

from dependency_injector import containers, providers

from app.core.clock import SystemClock
from app.core.database import Database
from app.core.metrics import Metrics
from app.core.names import DEFAULT_COLLECTION
from app.core.settings import Settings
from app.ingestion.parser import DocumentParser
from app.knowledge.chunks import ChunkLookup
from app.knowledge.collections import CollectionCatalog
from app.knowledge.documents import DocumentLookup
from app.knowledge.versions import DocumentVersions
from app.llms import build_llm
from app.memory.cache import build_window_cache
from app.memory.sessions import SessionRepository
from app.memory.store import SqlConversationStore
from app.retrieval.dense import VectorIndex
from app.retrieval.embeddings import build_embed_model, model_slug
from app.retrieval.lexical import LexicalIndex
from app.retrieval.search import KnowledgeSearch
from app.services.chat import ChatService
from app.services.documents import DocumentService
from app.services.ingest import IngestService
from app.services.reembedding import ReembeddingService
from app.services.sessions import SessionService
from app.workflows.citation_chat import CitationChatWorkflow, build_citation_engine


def build_vector_index(settings: Settings) -> VectorIndex | None:
    """Qdrant and the embedding model, when dense retrieval is configured."""
    embed_model = build_embed_model(settings.embeddings)
    if embed_model is None:
        return None
    return VectorIndex(
        settings.qdrant,
        embed_model,
        local_path=settings.qdrant_path,
        name_prefix=f"{settings.qdrant.collection_prefix}_{model_slug(settings.embeddings)}",
        remote_embeddings=settings.embeddings.provider == "openai",
    )


class Container(containers.DeclarativeContainer):
    """Built by `create_app` (or the CLI) from its settings; started and stopped around use."""

    settings = providers.Dependency(instance_of=Settings)

    clock = providers.Singleton(SystemClock)
    metrics = providers.Singleton(Metrics)
    database = providers.Singleton(Database, settings.provided.database)
    # Redis when CITESTREAM_REDIS__URL is set, else an in-process LRU.
    window_cache = providers.Singleton(build_window_cache, settings.provided.redis, metrics)
    conversation_store = providers.Singleton(
        SqlConversationStore,
        database,
        window_cache,
        settings.provided.chat.history_messages,
    )

    collection_catalog = providers.Singleton(CollectionCatalog, database)
    document_lookup = providers.Singleton(DocumentLookup, database)
    document_versions = providers.Singleton(DocumentVersions, database, clock)
    chunk_lookup = providers.Singleton(ChunkLookup, database)
    # None unless an embedding model is configured.
    vector_index = providers.Singleton(build_vector_index, settings)
    lexical_index = providers.Singleton(
        LexicalIndex,
        generations=collection_catalog,
        chunks=chunk_lookup,
        rebuild_wait_s=settings.provided.retrieval.rebuild_wait_s,
    )
    llm = providers.Singleton(build_llm, settings.provided.llm, metrics.provided.llm_tokens.inc)
    knowledge_search = providers.Singleton(
        KnowledgeSearch,
        chunks=chunk_lookup,
        lexical=lexical_index,
        dense=vector_index,
        settings=settings.provided.retrieval,
        mode=settings.provided.retrieval_mode,
        llm=llm,
    )
    citation_engine = providers.Singleton(
        build_citation_engine,
        llm=llm,
        retriever=knowledge_search.provided.retriever_for.call(DEFAULT_COLLECTION),
        citation_chunk_size=settings.provided.retrieval.citation_chunk_size,
        prompt_style=settings.provided.citation_prompt,
    )
    # One workflow serves every answer: each run() gets its own context.
    chat_workflow = providers.Singleton(
        CitationChatWorkflow,
        llm=llm,
        citation_engine=citation_engine,
        search=knowledge_search,
        timeout=settings.provided.chat.answer_timeout_s,
    )
    chat_service = providers.Singleton(
        ChatService,
        store=conversation_store,
        workflow=chat_workflow,
        collections=collection_catalog,
        metrics=metrics,
        settings=settings.provided.chat,
    )
    session_repository = providers.Singleton(SessionRepository, database)
    session_service = providers.Singleton(
        SessionService,
        repository=session_repository,
        cache=window_cache,
    )
    document_parser = providers.Singleton(DocumentParser, settings.provided.ingestion)
    ingest_service = providers.Singleton(
        IngestService,
        documents=document_lookup,
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
    reembedding_service = providers.Singleton(
        ReembeddingService, chunks=chunk_lookup, vectors=vector_index
    )
