"""Regenerate the sample PDFs in samples/corpus/ from samples/pdf-sources/*.md.

Source format: pages are separated by a line containing only ``---page---``.
The first line of each page is that page's heading; the rest is the body, with
paragraphs separated by blank lines (a line starting with ``- `` is a bullet).
One source page becomes exactly one PDF page; the script fails if a page's text
does not fit on a single page.

Usage (needs fpdf2):  python samples/build_pdfs.py
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "pdf-sources"
CORPUS = HERE / "corpus"
PAGE_BREAK = "---page---"
ORG = "Quillfen Software"
# Fixed date so that rebuilding gives the same metadata every time.
CREATED = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)

MARGIN = 20  # mm
FOOTER_Y = -15  # mm from the bottom
BODY_LIMIT = 297 - 25  # lowest y (mm) body text may reach on A4


def parse_pages(text: str) -> list[tuple[str, list[str]]]:
    pages = []
    chunks: list[list[str]] = [[]]
    for line in text.splitlines():
        if line.strip() == PAGE_BREAK:
            chunks.append([])
        else:
            chunks[-1].append(line)
    for lines in chunks:
        while lines and not lines[0].strip():
            lines.pop(0)
        if not lines:
            raise ValueError("empty page in source")
        heading, body = lines[0].strip(), lines[1:]
        paragraphs: list[str] = []
        current: list[str] = []
        for line in [*body, ""]:
            stripped = line.strip()
            if not stripped or stripped.startswith("- "):
                if current:
                    paragraphs.append(" ".join(current))
                    current = []
                if stripped:
                    current.append(stripped)
            else:
                current.append(stripped)
        pages.append((heading, paragraphs))
    return pages


def check_text(text: str, source: Path) -> None:
    for n, ch in enumerate(text):
        if ord(ch) > 126 or (ord(ch) < 32 and ch not in "\n\t"):
            raise ValueError(f"{source.name}: non-ASCII character {ch!r} at offset {n}")


class PolicyPDF(FPDF):
    doc_title = ""

    def footer(self) -> None:
        self.set_y(FOOTER_Y)
        self.set_font("Helvetica", size=8)
        self.cell(0, 5, f"{ORG} - {self.doc_title} - Page {self.page_no()} of {{nb}}", align="C")


def build(source: Path) -> Path:
    text = source.read_text(encoding="utf-8")
    check_text(text, source)
    pages = parse_pages(text)
    title = pages[0][0].split(":")[0].strip()

    pdf = PolicyPDF(format="A4")
    pdf.doc_title = title
    pdf.set_title(title)
    pdf.set_author(ORG)
    pdf.set_subject(f"{ORG} internal document")
    pdf.set_creator("samples/build_pdfs.py (fpdf2)")
    pdf.set_creation_date(CREATED)
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(False)
    pdf.alias_nb_pages()

    for number, (heading, paragraphs) in enumerate(pages, start=1):
        pdf.add_page()
        pdf.set_font("Helvetica", style="B", size=15)
        pdf.multi_cell(0, 8, heading, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(4)
        pdf.set_font("Helvetica", size=11)
        for para in paragraphs:
            if para.startswith("- "):
                pdf.set_x(MARGIN + 5)
                pdf.multi_cell(0, 5.5, para, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
                pdf.ln(1)
            else:
                pdf.multi_cell(0, 5.5, para, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
                pdf.ln(3)
        if pdf.get_y() > BODY_LIMIT or pdf.page_no() != number:
            raise ValueError(f"{source.name}: page {number} ({heading!r}) does not fit on one page")

    out = CORPUS / f"{source.stem}.pdf"
    pdf.output(str(out))
    return out


def main() -> int:
    sources = sorted(SOURCES.glob("*.md"))
    if not sources:
        print(f"no sources in {SOURCES}", file=sys.stderr)
        return 1
    for source in sources:
        out = build(source)
        print(f"built {out.relative_to(HERE.parent)} from {source.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
