"""Token counting for LlamaIndex's prompt packing, remembered per text.

Every answer, CitationQueryEngine cuts the passages into citation chunks and the synthesizer
packs them into the prompt twice, each step counting tokens with tiktoken: about a dozen
encodings of the same passages, words and prompt templates per answer, a sixth of the CPU an
answer took before its first token. LlamaIndex's splitters and prompt helpers only ever take
the `len()` of what the tokenizer returns, so this one returns a list of the right length (of
zeros: building it is far cheaper than encoding) and remembers counts, not tokens: the
templates and the popular passages are counted once.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from llama_index.core.utils import get_tokenizer

# Texts past this are counted each time, so the cache stays small (about 4,096 texts of at
# most 4 KB, some 16 MB at worst and far less in practice: most texts counted are words).
_LONGEST_REMEMBERED = 4096
_REMEMBERED = 4096


def counting_tokenizer() -> Callable[[str], list[int]]:
    """A tokenizer for LlamaIndex's splitters and prompt helpers: the same counts as its
    default (tiktoken), remembered."""
    encode = get_tokenizer()

    @lru_cache(maxsize=_REMEMBERED)
    def remembered(text: str) -> int:
        return len(encode(text))

    def count(text: str) -> list[int]:
        if len(text) > _LONGEST_REMEMBERED:
            return [0] * len(encode(text))
        return [0] * remembered(text)

    return count
