"""The root of the settings tree: one section per concern, read from `CITESTREAM_` variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.core.settings.knowledge import IngestionSettings, RetrievalSettings
from app.core.settings.models import EmbeddingSettings, LLMSettings
from app.core.settings.security import AdmissionSettings, AuthSettings, LimitsSettings
from app.core.settings.serving import ChatSettings, RunsSettings, ServerSettings
from app.core.settings.storage import DatabaseSettings, QdrantSettings, RedisSettings


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
    auth: AuthSettings = AuthSettings()
    admission: AdmissionSettings = AdmissionSettings()
    limits: LimitsSettings = LimitsSettings()

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
