"""Split a parsed document into chunks that keep their page and heading, for citing."""

from __future__ import annotations

from dataclasses import dataclass

from llama_index.core.node_parser import SentenceSplitter

from app.ingestion.readers import ParsedDocument
from app.settings import IngestionSettings


@dataclass(frozen=True)
class ChunkDraft:
    """A chunk before it is stored: its text and where in the document it lies."""

    seq: int
    text: str
    page: int | None
    heading: str | None


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


def index_text(title: str, heading: str | None, text: str) -> str:
    """What retrieval indexes for a chunk: its text under the document title and heading, so
    a question that names the document or section finds it."""
    return "\n".join(part for part in (title, heading, text) if part)
