"""Real PDFs for tests, written with reportlab: text on known pages, encrypted, image-only."""

from __future__ import annotations

import io


def text_pdf(pages: list[list[str]], *, encrypt_user_password: str | None = None, title: str = "",
             compress: bool = True) -> bytes:
    """A PDF with one page per entry of ``pages``, each line drawn as text; optionally password-protected.

    ``compress=False`` leaves the page streams readable in the raw bytes (for fakes that grep bodies)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, encrypt=encrypt_user_password, pageCompression=1 if compress else 0)
    if title:
        c.setTitle(title)
    for lines in pages:
        y = 800
        for line in lines:
            c.drawString(50, y, line)
            y -= 16
        c.showPage()
    c.save()
    return buf.getvalue()


def image_only_pdf(pages: int = 2) -> bytes:
    """A 'scanned' PDF: every page is filled shapes, no text layer."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    for n in range(pages):
        for i in range(20):
            c.setFillGray((i * 7 + n) % 10 / 10)
            c.rect(40 + i * 20, 100 + i * 30, 200, 12, fill=1, stroke=0)
        c.showPage()
    c.save()
    return buf.getvalue()
