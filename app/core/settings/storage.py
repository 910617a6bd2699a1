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
