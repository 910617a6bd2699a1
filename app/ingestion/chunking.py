"""Split a parsed document into chunks that keep their page and heading, for citing."""

from __future__ import annotations

import re
from collections.abc import Iterator

from llama_index.core.node_parser import SentenceSplitter

from app.core.chunks import ChunkDraft
from app.core.settings import IngestionSettings
from app.ingestion.readers import ParsedDocument

# The splitter's sentence tokenizer runs regexes over everything it is given, under NLTK's
# 5-second time limit: a long section is handed over in blocks of about this many characters,
# cut at a blank line (else a line end, else a space), so its cost grows with the text.
_BLOCK_CHARS = 20_000
_CUTS = ("\n\n", "\n", " ")


class Chunker:
    """LlamaIndex's sentence-aware splitter, applied within each section so that no chunk
    straddles two pages or two headings."""

    def __init__(self, settings: IngestionSettings) -> None:
        self._chunk_size = settings.chunk_size
        self._splitter = SentenceSplitter(
            chunk_size=settings.chunk_size, chunk_overlap=settings.chunk_overlap
        )
        # Text without spaces longer than a chunk (base64, a minified line): the splitter would
        # fall back to one split per character, tokenizing each (measured: 6 s and 100 MB per
        # MB of such text). Such a run is cut at the chunk size in characters instead, which
        # never has more tokens than that.
        self._long_run = re.compile(rf"\S{{{settings.chunk_size + 1},}}")

    def split(self, document: ParsedDocument, limit: int | None = None) -> list[ChunkDraft]:
        """The document's chunks in reading order, stopping once there are more than `limit`.
        Blocking: call off the event loop."""
        drafts: list[ChunkDraft] = []
        for section in document.sections:
            for piece in self._pieces(section.text):
                for text in self._splitter.split_text(piece):
                    if text.strip():
                        drafts.append(
                            ChunkDraft(len(drafts), text.strip(), section.page, section.heading)
                        )
                if limit is not None and len(drafts) > limit:
                    return drafts
        return drafts

    def _pieces(self, text: str) -> Iterator[str]:
        """The text in blocks the splitter handles in time linear in their length."""
        start = 0
        for run in self._long_run.finditer(text):
            yield from _blocks(text[start : run.start()])
            for cut in range(run.start(), run.end(), self._chunk_size):
                yield text[cut : min(cut + self._chunk_size, run.end())]
            start = run.end()
        yield from _blocks(text[start:])


def _blocks(text: str) -> Iterator[str]:
    while len(text) > _BLOCK_CHARS:
        window = text[:_BLOCK_CHARS]
        cut = next(
            (at + len(mark) for mark in _CUTS if (at := window.rfind(mark)) > _BLOCK_CHARS // 2),
            _BLOCK_CHARS,
        )
        yield text[:cut]
        text = text[cut:]
    if text.strip():
        yield text
