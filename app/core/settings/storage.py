"""Settings of where things are kept: the database, Redis, the vector store."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr


class DatabaseSettings(BaseModel):
    """Where conversations are stored."""

    # Empty: a SQLite file in the data directory.
    url: str = ""
    # Apply migrations at start-up. Unset: yes for SQLite (embedded), no for PostgreSQL, where
    # `citestream db upgrade` is a deployment step and the server refuses a schema that is behind.
    auto_migrate: bool | None = None
    echo: bool = False
    # The connection pool of one process (SQLite files and PostgreSQL alike; an in-memory SQLite
    # database has a single connection and ignores these). Every answer borrows a connection
    # for a few short statements (the claim, the history, the search's generation, the turn's
    # two writes) and never across its stream, so the pool bounds concurrent statements, not
    # concurrent answers. Under load a borrowed connection is held longer than its statement,
    # while its coroutine waits its turn on a busy event loop: 5 + 10 (SQLAlchemy's own sizes)
    # ran dry at 500 streams. With several workers on one PostgreSQL, keep workers x
    # (pool_size + max_overflow) under the server's `max_connections` (100 by default: two
    # workers at 40 + 0 leave 20 for ingests and migrations).
    # All kept open rather than 20 plus 20 at peaks: under a burst of answers the demand
    # hovers around the pool's size, and every connection returned to a full pool was closed
    # and another opened a moment later: 10.7 ms of CPU per short answer at 300 at once on
    # PostgreSQL, 9.8 ms with the connections kept.
    pool_size: int = Field(default=40, ge=1)
    # Opened beyond `pool_size` at peaks and closed again when returned.
    max_overflow: int = Field(default=0, ge=0)
    # How long a statement waits for a free connection before the request is answered 503
    # `storage_busy` (with Retry-After) rather than being left to queue without end. Long: at a
    # thousand answers in one process the event loop is so busy that a borrowed connection is
    # held for seconds, and 10 s failed a quarter of them (bench/load.py, PostgreSQL); a slow
    # first token is better than a refusal the client can do nothing about.
    pool_timeout_s: float = Field(default=60.0, gt=0)
    # Connections older than this are replaced when next borrowed (for proxies and firewalls
    # that cut idle connections); unset keeps them.
    pool_recycle_s: int | None = Field(default=None, ge=1)


class RedisSettings(BaseModel):
    """The cache of recent conversation windows. Without a URL, an in-process LRU serves."""

    url: str = ""
    ttl_s: int = Field(default=3600, ge=1)
    # Short, so a Redis outage costs a request milliseconds, not seconds.
    timeout_s: float = Field(default=0.25, gt=0)
    # After a failure, Redis is left alone this long before it is tried again.
    retry_after_s: float = Field(default=2.0, ge=0)
    # Sessions the in-process LRU keeps when Redis is not configured.
    lru_sessions: int = Field(default=1024, ge=1)


class QdrantSettings(BaseModel):
    """Where vectors live. Without a URL, Qdrant runs embedded under the data directory."""

    url: str = ""
    api_key: SecretStr | None = None
    # Vectors of each embedding model go to their own Qdrant collection, `<prefix>_<model>`.
    collection_prefix: str = "citestream"
