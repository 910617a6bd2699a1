"""Language model providers. `build_llm` picks one from the settings and imports only its code:
the OpenAI client's types take seconds to import and the embedded model needs none of them."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

from app.core.settings import LLMSettings
from app.llms.tokens import TokenCounter

if TYPE_CHECKING:
    from app.llms.fake import FakeStreamingLLM
    from app.llms.llamacpp import LlamaCppLLM
    from app.llms.openai_compatible import CountingOpenAILike

    # Every provider is a LlamaIndex LLM that can also `open()` and `aclose()` itself.
    ConfiguredLLM: TypeAlias = FakeStreamingLLM | CountingOpenAILike | LlamaCppLLM


def build_llm(settings: LLMSettings, on_tokens: TokenCounter) -> ConfiguredLLM:
    """The LLM named by `settings.provider`, reporting produced tokens to `on_tokens`."""
    if settings.provider == "fake":
        from app.llms.fake import FakeStreamingLLM

        return FakeStreamingLLM(
            tokens=settings.fake_tokens,
            delay_ms=settings.fake_delay_ms,
            context_window=settings.context_window,
            num_output=settings.max_new_tokens,
            stall_after=settings.fake_stall_after,
            stall_s=settings.fake_stall_s,
            on_tokens=on_tokens,
        )
    if settings.provider == "openai":
        from app.llms.openai_compatible import CountingOpenAILike

        return CountingOpenAILike(
            model=settings.model,
            api_base=settings.base_url,
            api_key=settings.api_key.get_secret_value(),
            is_chat_model=True,
            context_window=settings.context_window,
            max_tokens=settings.max_new_tokens,
            temperature=settings.temperature,
            connect_timeout_s=settings.connect_timeout_s,
            # A backstop under the first-token and stall limits, which the answer step enforces
            # (and names) itself: httpx's read timeout applies to each read of the socket.
            timeout=max(settings.first_token_limit_s, settings.stall_timeout_s) + 5,
            max_retries=0,
            on_tokens=on_tokens,
        )
    from app.llms.llamacpp import LlamaCppLLM, bundled_smollm2_path

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
