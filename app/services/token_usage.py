"""Token counts for clients that ask how much an answer used (OpenAI's `usage`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class TokenUsage:
    """Tokens of the question side and of the answer, as tiktoken counts them."""

    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def token_usage(sent: Iterable[str], answer: str) -> TokenUsage:
    """Count what the client sent and the answer it got with LlamaIndex's tokenizer (tiktoken,
    the one that packs our prompts). Not the model's own tokenizer, and not the whole prompt
    the model read (that adds the retrieved passages and our instructions): a stable,
    model-independent measure of the conversation itself."""
    # Imported here: the app (and the CLI) start without LlamaIndex, which the model loads.
    from llama_index.core.utils import get_tokenizer

    encode = get_tokenizer()
    return TokenUsage(
        prompt_tokens=sum(len(encode(text)) for text in sent),
        completion_tokens=len(encode(answer)),
    )
