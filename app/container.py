"""The dependency-injector container: every object that lives as long as the app."""

from __future__ import annotations

from dependency_injector import containers, providers

from app.llms import build_llm
from app.memory.cache import build_window_cache
from app.memory.database import Database
from app.memory.sessions import SessionRepository
from app.memory.store import SqlConversationStore
from app.metrics import Metrics
from app.retrieval.knowledge_base import KnowledgeBase
from app.retrieval.retriever import KnowledgeBaseRetriever
from app.services.chat import ChatService
from app.services.sessions import SessionService
from app.settings import Settings
from app.workflows.citation_chat import CitationChatWorkflow, build_citation_engine


class Container(containers.DeclarativeContainer):
    """Built by `create_app` from its settings; started and stopped by the app's lifespan."""

    settings = providers.Dependency(instance_of=Settings)

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

    knowledge_base = providers.Singleton(
        KnowledgeBase, settings.provided.index_dir, settings.provided.retrieval
    )
    retriever = providers.Singleton(KnowledgeBaseRetriever, knowledge_base)
    llm = providers.Singleton(build_llm, settings.provided.llm, metrics.provided.llm_tokens.inc)
    citation_engine = providers.Singleton(
        build_citation_engine,
        llm=llm,
        retriever=retriever,
        citation_chunk_size=settings.provided.retrieval.citation_chunk_size,
        prompt_style=settings.provided.citation_prompt,
    )
    # One workflow serves every answer: each run() gets its own context.
    chat_workflow = providers.Singleton(
        CitationChatWorkflow,
        llm=llm,
        citation_engine=citation_engine,
        timeout=settings.provided.chat.answer_timeout_s,
    )
    chat_service = providers.Singleton(
        ChatService,
        store=conversation_store,
        workflow=chat_workflow,
        metrics=metrics,
        settings=settings.provided.chat,
    )
    session_repository = providers.Singleton(SessionRepository, database)
    session_service = providers.Singleton(
        SessionService,
        repository=session_repository,
        cache=window_cache,
    )
