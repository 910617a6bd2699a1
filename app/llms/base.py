"""A LlamaIndex LLM built on one async token stream, for the providers Citestream runs itself."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.llms.custom import CustomLLM
from llama_index.core.prompts import BasePromptTemplate
from llama_index.core.types import TokenAsyncGen
from pydantic import PrivateAttr

from app.llms.tokens import TokenCounter, ignore_tokens


class AsyncStreamingLLM(CustomLLM):
    """Subclasses implement `stream_tokens`; chat, completion and their streams are derived from it.

    Only the async API is offered: Citestream never calls a model from a blocking context.
    """

    context_window: int = 8192
    num_output: int = 256
    model_name: str = "citestream"
    _count_tokens: TokenCounter = PrivateAttr()

    def __init__(self, *, on_tokens: TokenCounter | None = None, **data: Any) -> None:
        super().__init__(**data)
        self._count_tokens = on_tokens or ignore_tokens

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(
            context_window=self.context_window,
            num_output=self.num_output,
            model_name=self.model_name,
            is_chat_model=True,
        )

    @abstractmethod
    def stream_tokens(self, messages: Sequence[ChatMessage]) -> AsyncGenerator[str, None]:
        """Yield the answer's text piece by piece; stop producing as soon as the caller stops."""

    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        async def gen() -> ChatResponseAsyncGen:
            text = ""
            # aclosing: whoever closes this stream stops the model now, not at garbage collection.
            async with aclosing(self.stream_tokens(messages)) as tokens:
                async for delta in tokens:
                    text += delta
                    yield ChatResponse(
                        message=ChatMessage(role=MessageRole.ASSISTANT, content=text), delta=delta
                    )

        return gen()

    async def astream(self, prompt: BasePromptTemplate, **prompt_args: Any) -> TokenAsyncGen:
        """The answer's text straight from `stream_tokens`. LLM.astream would build a response
        object, a message holding all the text so far, and an instrumentation event for every
        token: work a 2,000-token answer does not need."""
        return self.stream_tokens(self._get_messages(prompt, **prompt_args))

    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        text = "".join([delta async for delta in self.stream_tokens(messages)])
        return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text))

    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        messages = [ChatMessage(role=MessageRole.USER, content=prompt)]

        async def gen() -> CompletionResponseAsyncGen:
            text = ""
            async with aclosing(self.stream_tokens(messages)) as tokens:
                async for delta in tokens:
                    text += delta
                    yield CompletionResponse(text=text, delta=delta)

        return gen()

    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        messages = [ChatMessage(role=MessageRole.USER, content=prompt)]
        return CompletionResponse(text="".join([d async for d in self.stream_tokens(messages)]))

    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        raise NotImplementedError("Citestream's models are async-only: use acomplete().")

    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        raise NotImplementedError("Citestream's models are async-only: use astream_complete().")

    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        raise NotImplementedError("Citestream's models are async-only: use achat().")

    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        raise NotImplementedError("Citestream's models are async-only: use astream_chat().")

    async def open(self) -> None:
        """Get ready to answer (load weights); nothing to do for most models."""
        return

    async def aclose(self) -> None:
        """Release what the model holds (threads, weights, connections)."""
        return
