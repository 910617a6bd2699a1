"""Build the configured model."""

from __future__ import annotations

from llama_index.core.llms import LLM

from app.core.settings import LLMSettings
from app.llms.base import TokenCounter
from app.llms.fake import FakeStreamingLLM
from app.llms.llamacpp import LlamaCppLLM, bundled_smollm2_path
from app.llms.openai_compatible import CountingOpenAILike


def build_llm(settings: LLMSettings, on_tokens: TokenCounter) -> LLM:
    """The LLM named by `settings.provider`, reporting produced tokens to `on_tokens`."""
    if settings.provider == "fake":
        return FakeStreamingLLM(
            tokens=settings.fake_tokens,
            delay_ms=settings.fake_delay_ms,
            context_window=settings.context_window,
            num_output=settings.max_new_tokens,
            on_tokens=on_tokens,
        )
    if settings.provider == "openai":
        return CountingOpenAILike(
            model=settings.model,
            api_base=settings.base_url,
            api_key=settings.api_key.get_secret_value(),
            is_chat_model=True,
            context_window=settings.context_window,
            max_tokens=settings.max_new_tokens,
            temperature=settings.temperature,
            timeout=settings.request_timeout_s,
            max_retries=0,
            on_tokens=on_tokens,
        )
    model_path = settings.model_path or bundled_smollm2_path()
    return LlamaCppLLM(
        model_path=str(model_path),
        model_name=model_path.stem,
        context_window=settings.context_window,
        num_output=settings.max_new_tokens,
        max_new_tokens=settings.max_new_tokens,
        temperature=settings.temperature,
        repeat_penalty=settings.repeat_penalty,
        threads=settings.threads,
        on_tokens=on_tokens,
    )
