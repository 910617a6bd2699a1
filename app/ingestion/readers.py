"""Read an uploaded or local file into plain-text sections that remember where they came from.

Markdown and HTML become sections under their heading path; a PDF becomes one section per page
(from its text layer). Nothing here touches the database: a file that cannot be read fails
before anything is stored.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass
from pathlib import PurePath

from bs4 import BeautifulSoup
from bs4.element import NavigableString
from llama_index.core.node_parser import MarkdownNodeParser
from llama_index.core.schema import Document as LlamaDocument
from pypdf import PdfReader

from app.core.errors import InvalidInput, UnsupportedMediaType

logger = logging.getLogger(__name__)

MARKDOWN = "text/markdown"
PLAIN_TEXT = "text/plain"
HTML = "text/html"
PDF = "application/pdf"

MEDIA_TYPES = {
    ".md": MARKDOWN,
    ".markdown": MARKDOWN,
    ".txt": PLAIN_TEXT,
    ".html": HTML,
    ".htm": HTML,
    ".pdf": PDF,
}
SUPPORTED_SUFFIXES = frozenset(MEDIA_TYPES)
HEADING_SEPARATOR = " > "


@dataclass(frozen=True)
class Section:
    """A run of text under one heading, or one PDF page."""

    text: str
    page: int | None = None
    heading: str | None = None


@dataclass(frozen=True)
class ParsedDocument:
    """What a file says, before it is chunked."""

    title: str
    media_type: str
    sections: list[Section]
    page_count: int | None = None


class UnreadableDocument(InvalidInput):
    """The file has a supported type but its content cannot be read (422)."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}", field_name="files")
        self.reason = reason


def media_type_of(name: str) -> str:
    """The media type Citestream reads a file name as; unsupported types are a 415."""
    suffix = PurePath(name).suffix.lower()
    media_type = MEDIA_TYPES.get(suffix)
    if media_type is None:
        supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise UnsupportedMediaType(
            f"{name}: files of type {suffix or '(no extension)'} cannot be ingested; "
            f"supported: {supported}."
        )
    return media_type


def parse(name: str, data: bytes) -> ParsedDocument:
    """Read `data` as the type its file name says. Blocking and CPU-bound: call off the loop."""
    media_type = media_type_of(name)
    if not data.strip():
        raise UnreadableDocument(name, "the file is empty")
    if media_type == PDF:
        parsed = _parse_pdf(name, data)
    else:
        text = _decode(name, data)
        if media_type == HTML:
            parsed = _parse_html(name, text)
        elif media_type == MARKDOWN:
            parsed = _parse_markdown(name, text, MARKDOWN)
        else:
            parsed = ParsedDocument(_stem_title(name), PLAIN_TEXT, [Section(text.strip())])
    if not any(section.text.strip() for section in parsed.sections):
        raise UnreadableDocument(name, "the file has no text to index")
    return parsed


def _decode(name: str, data: bytes) -> str:
    try:
        return _printable(data.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        raise UnreadableDocument(name, f"the file is not UTF-8 text ({error.reason})") from None


def _printable(text: str) -> str:
    # NUL is never meant as text, and PostgreSQL refuses to store it.
    return text.replace("\x00", "")


# -- Markdown ----------------------------------------------------------------------------------

# CommonMark: a closing run of '#' counts only after a space ("# C#" keeps its '#').
_HEADING_LINE = re.compile(r"^(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
_TILDE_FENCE = re.compile(r"^(\s*)~~~", re.MULTILINE)


def _parse_markdown(name: str, text: str, media_type: str) -> ParsedDocument:
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
    return ParsedDocument(title or _stem_title(name), media_type, sections)


# -- HTML --------------------------------------------------------------------------------------

_INVISIBLE = ("script", "style", "noscript", "template", "svg", "nav", "head", "iframe")
_BLOCKS = [
    "address",
    "article",
    "aside",
    "blockquote",
    "dd",
    "details",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "header",
    "hr",
    "li",
    "main",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "tbody",
    "thead",
    "tfoot",
    "tr",
    "ul",
    "br",
    "caption",
    "summary",
]
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
# A private-use character, removed from the page's own text first; split() keeps it.
_HEADING_MARK = "\ue000"


def _parse_html(name: str, text: str) -> ParsedDocument:
    soup = BeautifulSoup(text, "html.parser")
    page_title = soup.title.get_text(" ", strip=True) if soup.title else ""
    for element in soup.find_all(_INVISIBLE):
        element.decompose()
    root = soup.body or soup
    # As a browser does, line breaks in the source are spaces, except inside <pre>.
    for string in root.find_all(string=True):
        cleaned = str(string).replace(_HEADING_MARK, "")  # icon fonts do use private-use text
        if string.find_parent("pre") is None and "\n" in cleaned:
            cleaned = re.sub(r"\s+", " ", cleaned)
        if cleaned != string:
            string.replace_with(NavigableString(cleaned))
    # Headings become Markdown heading lines, so both formats share one way of sectioning;
    # a marker no text contains tells them from text that happens to start with '#'.
    for heading in root.find_all(_HEADINGS):
        words = " ".join(heading.get_text(" ", strip=True).split())
        heading.replace_with(NavigableString(f"\n\n{_HEADING_MARK}{heading.name[1]}{words}\n\n"))
    for cell in root.find_all(("td", "th")):
        cell.insert_after(NavigableString(" | "))
    for block in root.find_all(_BLOCKS):
        block.insert_before(NavigableString("\n"))
        block.insert_after(NavigableString("\n"))
    lines = []
    for raw in root.get_text().splitlines():
        line = " ".join(raw.split()).removesuffix(" |")
        if line.startswith(_HEADING_MARK):
            line = "#" * int(line[1]) + " " + line[2:]  # the level digit always follows
        elif line.startswith("#"):
            line = " " + line  # indented, a Markdown parser does not read it as a heading
        lines.append(line)
    markdown = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    parsed = _parse_markdown(name, markdown, HTML)
    title = page_title or parsed.title
    return ParsedDocument(title, HTML, parsed.sections)


# -- PDF ---------------------------------------------------------------------------------------


def _parse_pdf(name: str, data: bytes) -> ParsedDocument:
    if not data.lstrip().startswith(b"%PDF-"):
        raise UnreadableDocument(name, "the file is not a PDF (no %PDF- header)")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadableDocument(name, "the PDF is encrypted with a password")
        pages = [_printable(page.extract_text() or "") for page in reader.pages]
        metadata_title = (reader.metadata.title if reader.metadata else None) or ""
    except UnreadableDocument:
        raise
    except Exception as error:
        # pypdf raises many types for damaged files; each means the same thing to the user.
        logger.info("Could not read %s as a PDF: %r", name, error)
        raise UnreadableDocument(name, "the PDF is damaged and cannot be read") from None
    if not pages:
        raise UnreadableDocument(name, "the PDF has no pages")
    sections = [
        Section(_reflow(text), page=number)
        for number, text in enumerate(pages, start=1)
        if text.strip()
    ]
    if not sections:
        raise UnreadableDocument(name, "the PDF has no text layer (a scan?); run OCR on it first")
    first_line = sections[0].text.strip().splitlines()[0].strip()
    title = _printable(str(metadata_title)).strip() or first_line[:200] or _stem_title(name)
    return ParsedDocument(title, PDF, sections, page_count=len(pages))


def _reflow(text: str) -> str:
    """Join the lines a PDF wrapped at its margin back into paragraphs."""
    lines = [line.strip() for line in text.splitlines()]
    width = max((len(line) for line in lines), default=0)
    paragraphs: list[str] = []
    current = ""
    for line in lines:
        if not line:
            if current:
                paragraphs.append(current)
            current = ""
            continue
        current = f"{current} {line}" if current else line
        # A line that stops well short of the margin ends its paragraph (or is a heading).
        if len(line) < 0.7 * width:
            paragraphs.append(current)
            current = ""
    if current:
        paragraphs.append(current)
    return "\n\n".join(paragraphs)


def _stem_title(name: str) -> str:
    return PurePath(name).stem.replace("-", " ").replace("_", " ").strip() or name
