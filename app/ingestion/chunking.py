"""Split a parsed document into chunks that keep their page and heading, for citing."""

from __future__ import annotations

from llama_index.core.node_parser import SentenceSplitter

from app.core.chunks import ChunkDraft
from app.core.settings import IngestionSettings
from app.ingestion.readers import ParsedDocument


class Chunker:
    """LlamaIndex's sentence-aware splitter, applied within each section so that no chunk
    straddles two pages or two headings."""

    def __init__(self, settings: IngestionSettings) -> None:
        self._splitter = SentenceSplitter(
            chunk_size=settings.chunk_size, chunk_overlap=settings.chunk_overlap
        )

    def split(self, document: ParsedDocument) -> list[ChunkDraft]:
        """The document's chunks in reading order. Blocking: call off the event loop."""
        drafts: list[ChunkDraft] = []
        for section in document.sections:
            for text in self._splitter.split_text(section.text):
                if text.strip():
                    drafts.append(
                        ChunkDraft(len(drafts), text.strip(), section.page, section.heading)
                    )
        return drafts
