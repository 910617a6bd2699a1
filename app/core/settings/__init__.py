"""The one settings tree. Every environment variable Citestream reads is declared in this package,
one module per concern; import the sections from here."""

from app.core.settings.knowledge import IngestionSettings, RetrievalSettings
from app.core.settings.models import EmbeddingSettings, LLMSettings
from app.core.settings.root import Settings
from app.core.settings.security import AdmissionSettings, AuthSettings, LimitsSettings
from app.core.settings.serving import ChatSettings, RunsSettings, ServerSettings
from app.core.settings.storage import DatabaseSettings, QdrantSettings, RedisSettings

__all__ = [
    "AdmissionSettings",
    "AuthSettings",
    "ChatSettings",
    "DatabaseSettings",
    "EmbeddingSettings",
    "IngestionSettings",
    "LLMSettings",
    "LimitsSettings",
    "QdrantSettings",
    "RedisSettings",
    "RetrievalSettings",
    "RunsSettings",
    "ServerSettings",
    "Settings",
]
