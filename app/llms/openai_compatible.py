"""Any OpenAI-compatible server (vLLM, Ollama, llama.cpp's server, OpenAI), token-counted."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import aclosing
from typing import Any

import httpx
from llama_index.core.base.llms.types import ChatMessage, ChatResponseAsyncGen
from llama_index.llms.openai_like import OpenAILike
from openai import APITimeoutError
from pydantic import PrivateAttr

from app.core.errors import LLMTimeout
from app.llms.tokens import TokenCounter, ignore_tokens

logger = logging.getLogger(__name__)


class CountingOpenAILike(OpenAILike):
    """OpenAILike that reports each streamed delta to the token counter.

    Cancelling the task that reads the stream closes the upstream HTTP response, so a client
    that leaves stops the remote generation too.
    """

    connect_timeout_s: float = 5.0
    _count_tokens: TokenCounter = PrivateAttr()

    def __init__(self, *, on_tokens: TokenCounter | None = None, **data: Any) -> None:
        super().__init__(**data)
        self._count_tokens = on_tokens or ignore_tokens

    def _get_credential_kwargs(self, is_async: bool = False) -> dict[str, Any]:
        # A server that cannot be reached fails in seconds, not after the read timeout.
        kwargs = super()._get_credential_kwargs(is_async)
        kwargs["timeout"] = httpx.Timeout(self.timeout, connect=self.connect_timeout_s)
        return kwargs

    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        upstream = await super().astream_chat(messages, **kwargs)

        async def counted() -> ChatResponseAsyncGen:
            count_tokens = self._count_tokens  # once: a pydantic private attribute is slow
            try:
                async with aclosing(upstream) as responses:  # closing it closes the HTTP stream
                    async for response in responses:
                        if response.delta:
                            count_tokens(1)
                        yield response
            except APITimeoutError as error:
                timed_out = self._timed_out(error)
                logger.warning("%s", timed_out.message)  # an upstream condition: one line
                raise timed_out from error

        return counted()

    def _timed_out(self, error: APITimeoutError) -> LLMTimeout:
        if isinstance(error.__cause__, httpx.ConnectTimeout):
            return LLMTimeout(
                f"The language model server could not be reached within "
                f"{self.connect_timeout_s:g} seconds."
            )
        return LLMTimeout(f"The language model server sent nothing for {self.timeout:g} seconds.")

    async def open(self) -> None:
        """Nothing to load: the HTTP client connects on the first request."""
        return

    async def aclose(self) -> None:
        """Close the pooled connections to the server."""
        if self._aclient is not None:
            await self._aclient.close()
            self._aclient = None
