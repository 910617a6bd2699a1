"""Small PDFs built in the test, so the reader is checked against real PDF bytes."""

from __future__ import annotations

from collections.abc import Sequence

from fpdf import FPDF


def pdf_bytes(
    pages: Sequence[str],
    *,
    title: str | None = None,
    user_password: str | None = None,
) -> bytes:
    """A PDF with one page per text (Helvetica, ASCII), wrapped at the margin by fpdf2.

    An empty text gives a blank page. A paragraph break in a text is a blank line.
    """
    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    if title is not None:
        pdf.set_title(title)
    if user_password is not None:
        pdf.set_encryption(owner_password="owner-secret", user_password=user_password)
    for text in pages:
        pdf.add_page()
        if text:
            pdf.multi_cell(0, 6, text)
    return bytes(pdf.output())


def drawing_only_pdf() -> bytes:
    """A one-page PDF whose page holds a drawn rectangle and no text at all."""
    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 50, style="D")
    return bytes(pdf.output())
