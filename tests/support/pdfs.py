"""Small PDFs built in the test, so the reader is checked against real PDF bytes."""

from __future__ import annotations

import io
import zlib
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


def shared_stream_pdf(pages: int = 200, stream_bytes: int = 5_000_000) -> bytes:
    """A small PDF (about 46 KB with the defaults) whose pages all draw one content stream of
    `stream_bytes` text operators, compressed: each page costs pypdf seconds and yields a
    megabyte of text, so reading it whole takes half an hour of CPU."""
    operator = b"BT /F1 12 Tf 72 700 Td (Citestream) Tj ET\n"
    packed = zlib.compress(operator * (stream_bytes // len(operator)), 9)
    kids = " ".join(f"{5 + page} 0 R" for page in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        f"<< /Length {len(packed)} /Filter /FlateDecode >>\nstream\n".encode()
        + packed
        + b"\nendstream",
    ]
    page = (
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 3 0 R >> >> /Contents 4 0 R >>"
    )
    objects += [page] * pages
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    out.write(b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets))
    out.write(
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return out.getvalue()
