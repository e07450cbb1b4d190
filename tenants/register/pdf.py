"""The record of processing on paper: A4, made as the figures' annual report is (fpdf2,
Helvetica in Windows-1252, so Dutch, French and German accents print as they are)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from fpdf import FPDF

from livc.tenants.cases.feedback_pdf import ENCODING
from livc.tenants.cases.feedback_pdf import _printable as printable
from livc.tenants.register.content import Record, Section

MARGIN = 18
PAGE = _l("Page %(page)s of %(pages)s")
RECORD_HEADING = _l("Record of processing (GDPR, article 30)")
DPIA_HEADING = _l("Data protection impact assessment: a starting point (GDPR, article 35)")


def _text(pdf: FPDF, text: str, *, size: float, style: str = "", after: float = 1.5) -> None:
    pdf.set_font("helvetica", style=style, size=size)
    pdf.multi_cell(0, size * 0.5, printable(text), align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(after)


def _section(pdf: FPDF, section: Section) -> None:
    if pdf.get_y() > pdf.h * 0.75:  # a heading not alone at a page's foot
        pdf.add_page()
    _text(pdf, section.title, size=12, style="B", after=2)
    for entry in section.entries:
        _text(pdf, entry.label, size=9.5, style="B", after=0.3)
        _text(pdf, entry.text, size=9.5, after=2)
    pdf.ln(2)


def record_pdf(record: Record) -> bytes:
    """The record and the DPIA starting point as the bytes of a PDF file, pages numbered."""
    page_label = str(PAGE % {"page": "{page}", "pages": "{pages}"})

    class Document(FPDF):
        def footer(self) -> None:
            self.set_y(-12)
            self.set_font("helvetica", size=8)
            self.cell(0, 8, printable(page_label.format(page=self.page_no(), pages="{nb}")), align="C")

    pdf = Document(format="A4")
    pdf.core_fonts_encoding = ENCODING
    pdf.set_creator("livc")
    pdf.set_title(printable(f"{record.title} · {record.cell}"))
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(True, margin=MARGIN + 5)
    pdf.add_page()
    _text(pdf, record.cell, size=18, style="B", after=2)
    _text(pdf, record.title, size=15, style="B", after=3)
    _text(pdf, record.intro, size=9.5, after=6)
    _text(pdf, str(RECORD_HEADING), size=14, style="B", after=4)
    for section in record.record:
        _section(pdf, section)
    pdf.add_page()
    _text(pdf, str(DPIA_HEADING), size=14, style="B", after=4)
    for section in record.dpia:
        _section(pdf, section)
    return bytes(pdf.output())
