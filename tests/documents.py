"""Builders for real document files the loader and fault-injection tests feed to ingest."""

from __future__ import annotations

from fpdf import FPDF

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"  # has the Finnish and Polish letters


def make_pdf(pages: list[str], user_password: str | None = None, title: str = "") -> bytes:
    """A text PDF with one page per string; a user password encrypts it."""
    pdf = FPDF()
    pdf.add_font("DejaVu", fname=FONT)
    pdf.set_font("DejaVu", size=12)
    if title:
        pdf.set_title(title)
    if user_password is not None:
        pdf.set_encryption(owner_password="owner-secret", user_password=user_password)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 8, text)
    return bytes(pdf.output())
