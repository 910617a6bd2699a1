"""Markdown: one section per heading, under the path of the headings above it."""

from __future__ import annotations

import re

from llama_index.core.node_parser import MarkdownNodeParser
from llama_index.core.schema import Document as LlamaDocument

from app.ingestion.readers.parsed import HEADING_SEPARATOR, MARKDOWN, ParsedDocument, Section
from app.ingestion.readers.text import stem_title

# CommonMark: a closing run of '#' counts only after a space ("# C#" keeps its '#').
_HEADING_LINE = re.compile(r"^(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
_TILDE_FENCE = re.compile(r"^(\s*)~~~", re.MULTILINE)


def read_markdown(name: str, text: str, media_type: str = MARKDOWN) -> ParsedDocument:
    """Sections under their heading path; the title is the first level-one heading.

    `media_type` is what the document records: HTML is read as Markdown once converted.
    """
    # LlamaIndex's parser splits at headings and ignores '#' inside ``` fences; it knows no
    # ~~~ fences, so they are given the other spelling first.
    text = _TILDE_FENCE.sub(r"\1```", text)
    nodes = MarkdownNodeParser().get_nodes_from_documents([LlamaDocument(text=text)])
    sections = []
    title = ""
    # Each split starts with its own heading; the path of open headings is kept here rather
    # than taken from the parser, so every level is spelled the same way.
    open_headings: list[tuple[int, str]] = []
    for node in nodes:
        body = node.get_content()
        first_line, _, rest = body.partition("\n")
        heading_match = _HEADING_LINE.match(first_line)
        if heading_match:
            level, own = len(heading_match.group(1)), heading_match.group(2).strip()
            if not title and level == 1:
                title = own
            while open_headings and open_headings[-1][0] >= level:
                open_headings.pop()
            open_headings.append((level, own))
            body = rest
        if body.strip():
            heading = HEADING_SEPARATOR.join(words for _, words in open_headings) or None
            sections.append(Section(body.strip(), heading=heading))
    return ParsedDocument(title or stem_title(name), media_type, sections)
