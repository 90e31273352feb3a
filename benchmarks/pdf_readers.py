"""PDF text extraction: pypdf vs pypdfium2 vs pdfminer.six on the same generated PDFs.

The PDFs are generated here with reportlab (a real PDF writer: Type 1 fonts,
text objects, several pages), so anyone can re-run this without downloads.
Each reader extracts every page's text; we report ms per page and whether a
planted sentence on a known page came back on that page.

    .venv/bin/python benchmarks/pdf_readers.py                 # 3 documents x 40 pages, 3 repeats
    .venv/bin/python benchmarks/pdf_readers.py --pages 5 --repeats 1 --results-dir /tmp/r
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import sys
import time
from datetime import datetime, timezone

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LICENCES = {"pypdf": "BSD-3-Clause", "pypdfium2": "Apache-2.0 or BSD-3-Clause (PDFium: Apache-2.0/BSD-3)",
            "pdfminer.six": "MIT", "PyMuPDF": "AGPL-3.0 (not measured: copyleft over a network service)"}
PLANTED = "The annual report names Ottilie Brandauer as chief executive officer."


def make_pdf(pages: int, seed: int) -> bytes:
    """A text PDF of ``pages`` pages; page ``pages // 2 + 1`` carries ``PLANTED``."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    words = "revenue segment growth quarter market customers margin outlook capital operations".split()
    for p in range(1, pages + 1):
        y = 800
        lines = [" ".join(words[(seed + p + i + j) % len(words)] for j in range(12)) for i in range(45)]
        if p == pages // 2 + 1:
            lines[20] = PLANTED
        for line in lines:
            c.drawString(50, y, line)
            y -= 16
        c.showPage()
    c.save()
    return buf.getvalue()


def read_pypdf(data: bytes) -> list[str]:
    import pypdf

    return [page.extract_text() or "" for page in pypdf.PdfReader(io.BytesIO(data)).pages]


def read_pypdfium2(data: bytes) -> list[str]:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(data)
    try:
        return [doc[i].get_textpage().get_text_range() for i in range(len(doc))]
    finally:
        doc.close()


def read_pdfminer(data: bytes) -> list[str]:
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LTTextContainer

    # one parse of the whole document, text per page (extract_text per page would re-parse each time)
    return ["".join(el.get_text() for el in page if isinstance(el, LTTextContainer)) for page in extract_pages(io.BytesIO(data))]


READERS = {"pypdf": read_pypdf, "pypdfium2": read_pypdfium2, "pdfminer.six": read_pdfminer}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--documents", type=int, default=3)
    ap.add_argument("--pages", type=int, default=40)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--results-dir", default=os.path.join(ROOT, "benchmarks", "results"))
    args = ap.parse_args()
    docs = [make_pdf(args.pages, seed) for seed in range(args.documents)]
    planted_page = args.pages // 2  # 0-based
    rows = []
    for name, read in READERS.items():
        best = float("inf")
        found = True
        for _ in range(args.repeats):
            started = time.perf_counter()
            for data in docs:
                texts = read(data)
                found &= len(texts) == args.pages and "Ottilie Brandauer" in " ".join(texts[planted_page].split())
            best = min(best, time.perf_counter() - started)
        rows.append({"reader": name, "version": _version(name), "licence": LICENCES[name],
                     "ms_per_page": round(best * 1000 / (args.documents * args.pages), 3), "planted_on_its_page": found})
    machine = {"cores": os.cpu_count(), "python": platform.python_version(), "load_1m": os.getloadavg()[0],
               "date_utc": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    out = {"command": " ".join([os.path.basename(sys.executable), *sys.argv]), "machine": machine,
           "documents": args.documents, "pages": args.pages, "repeats": args.repeats, "results": rows}
    os.makedirs(args.results_dir, exist_ok=True)
    with open(os.path.join(args.results_dir, "pdf_readers.json"), "w") as fh:
        json.dump(out, fh, indent=2)
    table = ["| reader | version | licence | ms/page (best of repeats) | planted fact on its page |", "|---|---|---|---|---|"]
    table += [f"| {r['reader']} | {r['version']} | {r['licence']} | {r['ms_per_page']} | {r['planted_on_its_page']} |" for r in rows]
    with open(os.path.join(args.results_dir, "pdf_readers.md"), "w") as fh:
        fh.write("\n".join(table) + "\n")
    print("\n".join(table))


def _version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


if __name__ == "__main__":
    main()
