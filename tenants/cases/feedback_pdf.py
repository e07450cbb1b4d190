"""The released feedback form as a PDF, for the information officer to hand to the LTF.

It holds what the printed form holds and nothing else: the cell, the case's code, the revision
and its release date, and each question with its answer. No identity, no approvals, no note,
no title or subject in the file's metadata. Made with fpdf2 (pure Python) and its built-in
Helvetica in the Windows-1252 encoding, which covers Dutch, French and German; a character
outside it (rare in these answers) is printed as its closest plain letter, or "?".
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from fpdf import FPDF

ENCODING = "windows-1252"


@dataclass(frozen=True)
class PrintedForm:
    """What goes on paper, every text already in the reader's language."""

    title: str
    lines: list[str]  # the cell, the revision and its release, the confidentiality notice
    answers: list[tuple[str, str]]  # (question, answer)


def _printable(value: str) -> str:
    """``value`` in what Helvetica can print: each other character as its plain letter, or "?"."""
    out = []
    for character in value:
        try:
            character.encode(ENCODING)
            out.append(character)
        except UnicodeEncodeError:
            plain = unicodedata.normalize("NFKD", character).encode(ENCODING, "ignore").decode(ENCODING)
            out.append(plain or "?")
    return "".join(out)


def _paragraphs(pdf: FPDF, text: str, *, size: float, style: str = "") -> None:
    pdf.set_font("helvetica", style=style, size=size)
    for paragraph in text.split("\n\n"):
        pdf.multi_cell(0, size * 0.5, _printable(paragraph.strip()), align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1.5)


def feedback_pdf(form: PrintedForm, page_label: str = "{page}/{pages}") -> bytes:
    """The form as the bytes of a PDF file, A4, one or more pages numbered at the foot."""

    class Document(FPDF):
        def footer(self) -> None:
            self.set_y(-15)
            self.set_font("helvetica", size=8)
            self.cell(0, 10, page_label.format(page=self.page_no(), pages="{nb}"), align="C")

    pdf = Document(format="A4")
    pdf.core_fonts_encoding = ENCODING
    pdf.set_creator("livc")
    pdf.set_margins(20, 20, 20)
    pdf.set_auto_page_break(True, margin=20)
    pdf.add_page()
    _paragraphs(pdf, form.title, size=16, style="B")
    pdf.ln(2)
    for line in form.lines:
        _paragraphs(pdf, line, size=10)
    pdf.ln(4)
    for question, answer in form.answers:
        _paragraphs(pdf, question, size=11, style="B")
        _paragraphs(pdf, answer, size=11)
        pdf.ln(3)
    return bytes(pdf.output())


def printed_answers(questions: Iterable, feedback, unanswered: str) -> list[tuple[str, str]]:
    """(question, answer) of each question of ``feedback``, choices in words."""
    answers = []
    for question in questions:
        value = getattr(feedback, question.name)
        if question.choices:
            value = question.choices[value] if value else None
        answers.append((str(question.label), str(value) if value else unanswered))
    return answers
