"""HTML: the visible text, sectioned by its h1-h6 headings as Markdown would be."""

from __future__ import annotations

import re

from bs4 import BeautifulSoup
from bs4.element import NavigableString

from app.ingestion.readers.markdown import read_markdown
from app.ingestion.readers.parsed import HTML, ParsedDocument

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


def read_html(name: str, text: str) -> ParsedDocument:
    """Sections under their heading path; the title is the <title>, else the first h1."""
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
    parsed = read_markdown(name, markdown, HTML)
    title = page_title or parsed.title
    return ParsedDocument(title, HTML, parsed.sections)
