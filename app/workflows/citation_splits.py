"""The citation engine's splitter, remembering the splits of passages it has seen.

Before every answer the citation engine splits each retrieved passage into citation-sized
pieces (sentence by sentence, counting tokens). The same passages come back answer after
answer, and the split of a text never changes; under load that split was a few percent of the
CPU before the first token.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from llama_index.core.node_parser import SentenceSplitter
from pydantic import PrivateAttr

# Passages are a chunk of a document each (about a kilobyte by default): a thousand of them is
# about a megabyte of cached pieces, and more passages than a knowledge base's hot set.
_REMEMBERED_PASSAGES = 1024


class RememberingSentenceSplitter(SentenceSplitter):
    """A SentenceSplitter that splits each distinct text once (a bounded, least recently used
    memory of texts and their pieces)."""

    _pieces_of: Callable[[str], tuple[str, ...]] = PrivateAttr()

    def model_post_init(self, context: Any, /) -> None:
        super().model_post_init(context)
        split = super().split_text
        self._pieces_of = lru_cache(maxsize=_REMEMBERED_PASSAGES)(lambda text: tuple(split(text)))

    def split_text(self, text: str) -> list[str]:
        return list(self._pieces_of(text))
