"""The figures on paper and in a spreadsheet: the annual report for the municipal council (PDF)
and every shown number as CSV (issue 17, part 3).

Both hold what the reader's page shows, hidden counts as the page shows them ("< 5", "×"), and
nothing else: no case code, no name, no date of a single case. The report prints the quarters and
the year (not the months: the tables fit an A4 page), then the strategic table's policy follow-up
of that year for whoever may read it, with each entry's owner as an organisation or an office,
never a person's name. It is made as the feedback form's PDF is (fpdf2, Helvetica in
Windows-1252: Dutch, French and German accents print as they are). The CSV is UTF-8 with a byte
order mark and ``;`` between fields, as a Belgian Excel opens it.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

from flask_babel import format_date
from flask_babel import lazy_gettext as _l
from fpdf import FPDF
from fpdf.fonts import FontFace

from livc.platform.roles import ROLE_LABELS
from livc.platform.timeutil import utcnow
from livc.tenants.cases.feedback_pdf import ENCODING
from livc.tenants.cases.feedback_pdf import _printable as printable
from livc.tenants.monitoring.figures import FigureView, Table, period_label
from livc.tenants.monitoring.reading import Figures
from livc.tenants.monitoring.suppression import THRESHOLD
from livc.tenants.strategy.models import ENTRY_KIND_LABELS, ENTRY_STATUS_LABELS, PolicyEntry

REPORT_TITLE = _l("Figures %(year)s")
REPORT_FOR = _l("Annual report of the local integrated security cell for the municipal council")
MADE_ON = _l("Made on %(date)s from the cell's records, including the counts kept of erased records.")
KEY_HEADING = _l("How to read the tables")
KEY_COUNTS = _l("Every figure is a count: it names no case and no person, and gives no date of a single case.")
KEY_SMALL = _l("“< %(threshold)s” means fewer than %(threshold)s, zero included.")
KEY_HIDDEN = _l("“×” means hidden, so that a small number cannot be worked out by subtracting from a total.")
SCOPE_CELL = _l("The figures of the whole cell.")
SCOPE_MUNICIPALITY = _l("The figures of %(municipality)s, with the total of the whole cell.")
SCOPE_ORGANISATION = _l("The figures of the measures carried by %(organisation)s only.")
POLICY_HEADING = _l("Policy follow-up of the strategic table in %(year)s")
POLICY_NONE = _l("The strategic table recorded no entry for %(year)s.")
ENTRY_LINE = _l("%(kind)s · %(status)s · carried by %(owner)s · decided on %(decided)s")
DUE_ON = _l("due on %(date)s")
NO_OWNER = _l("no owner any more")
PAGE = _l("Page %(page)s of %(pages)s")
CSV_HEADER = (_l("Figure"), _l("Figure key"), _l("Table"), _l("Table key"), _l("Row"), _l("Row key"),
              _l("Period"), _l("Period key"), _l("Shown value"))

PRINTED_COLUMN = re.compile(r"^(\d{4}|\d{4}-Q[1-4]|now)$")  # the year, its quarters, or "today"


# --- what goes on paper, in the reader's language ---------------------------------------------


@dataclass(frozen=True)
class PrintedTable:
    caption: str
    header: list[str]
    rows: list[tuple[str, list[str], bool]]  # (label, shown values, is a total)


@dataclass(frozen=True)
class PrintedFigure:
    title: str
    description: str
    tables: list[PrintedTable]


@dataclass(frozen=True)
class PrintedEntry:
    title: str
    line: str
    text: str


@dataclass
class PrintedReport:
    title: str
    cell: str
    cover: list[str]
    key: list[str]
    figures: list[PrintedFigure]
    policy_heading: str = ""
    policy: list[PrintedEntry] | None = None  # None: the reader is not at the strategic table
    policy_none: str = ""
    page_label: str = "{page}/{pages}"


def _printed_table(table: Table, caption: str) -> PrintedTable:
    kept = [index for index, column in enumerate(table.columns) if PRINTED_COLUMN.match(column)]
    return PrintedTable(
        caption,
        [table.title] + [table.column_labels[index] for index in kept],
        [(row.label, [row.cells[index].text for index in kept], row.total) for row in table.rows],
    )


def _printed_figure(shown: FigureView, period: str) -> PrintedFigure:
    title = str(shown.figure.title)
    return PrintedFigure(title, str(shown.figure.description),
                         [_printed_table(table, f"{title} · {table.title} · {period}") for table in shown.tables])


def _owner(entry: PolicyEntry) -> str:
    """An organisation, or the office of the member who carries it: never a person's name."""
    if entry.owner_organisation is not None:
        return entry.owner_organisation.name
    if entry.owner_membership is not None:
        return str(ROLE_LABELS[entry.owner_membership.role])
    return str(NO_OWNER)


def _printed_entry(entry: PolicyEntry) -> PrintedEntry:
    line = str(ENTRY_LINE % {"kind": ENTRY_KIND_LABELS[entry.kind], "status": ENTRY_STATUS_LABELS[entry.status],
                             "owner": _owner(entry), "decided": format_date(entry.decided_on)})
    if entry.due_on is not None:
        line += ", " + str(DUE_ON % {"date": format_date(entry.due_on)})
    return PrintedEntry(entry.title, line, entry.text or "")


def scope_sentence(found: Figures, organisation: str = "") -> str:
    if found.scope.municipality_nis:
        return str(SCOPE_MUNICIPALITY % {"municipality": found.territory.label(found.scope.municipality_nis)})
    if found.scope.organisation_id is not None:
        return str(SCOPE_ORGANISATION % {"organisation": organisation})
    return str(SCOPE_CELL)


def printed_report(found: Figures, cell: str, entries: Sequence[PolicyEntry] | None, organisation: str = "") -> PrintedReport:
    """The report of ``found`` (a year) for the cell named ``cell``; ``entries`` the policy
    follow-up of the year, or None for a reader who may not read it."""
    year = found.period.year
    period = period_label(found.period.key)
    shown = ([found.active] if found.active is not None else []) + list(found.views)
    return PrintedReport(
        title=str(REPORT_TITLE % {"year": year}),
        cell=cell,
        cover=[str(REPORT_FOR), scope_sentence(found, organisation), str(MADE_ON % {"date": format_date(utcnow().date())})],
        key=[str(KEY_HEADING), str(KEY_COUNTS), str(KEY_SMALL % {"threshold": THRESHOLD}), str(KEY_HIDDEN)],
        figures=[_printed_figure(figure, period if figure is not found.active else figure.tables[0].column_labels[0])
                 for figure in shown],
        policy_heading=str(POLICY_HEADING % {"year": year}),
        policy=[_printed_entry(entry) for entry in entries] if entries is not None else None,
        policy_none=str(POLICY_NONE % {"year": year}),
        page_label=str(PAGE % {"page": "{page}", "pages": "{pages}"}),
    )


# --- the PDF ---------------------------------------------------------------------------------------

MARGIN = 15
LABEL_WIDTH = 62
BOLD = FontFace(emphasis="BOLD")


def _text(pdf: FPDF, text: str, *, size: float, style: str = "", after: float = 1.5) -> None:
    pdf.set_font("helvetica", style=style, size=size)
    pdf.multi_cell(0, size * 0.5, printable(text), align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(after)


def _table(pdf: FPDF, table: PrintedTable) -> None:
    _text(pdf, table.caption, size=10, style="B", after=1)
    numbers = len(table.header) - 1
    width = min(24, (pdf.epw - LABEL_WIDTH) / max(numbers, 1))
    pdf.set_font("helvetica", size=9)
    with pdf.table(col_widths=(LABEL_WIDTH, *([width] * numbers)), width=LABEL_WIDTH + width * numbers, align="LEFT",
                   text_align=("LEFT", *(["RIGHT"] * numbers)), line_height=4.5, headings_style=BOLD,
                   borders_layout="HORIZONTAL_LINES", padding=1) as grid:
        heading = grid.row()
        for text in table.header:
            heading.cell(printable(text))
        for label, values, total in table.rows:
            row = grid.row()
            for text in (label, *values):
                row.cell(printable(text), style=BOLD if total else None)
    pdf.ln(4)


def annual_report(report: PrintedReport) -> bytes:
    """The report as the bytes of a PDF file: A4 portrait, pages numbered at the foot."""
    page_label = report.page_label

    class Document(FPDF):
        def footer(self) -> None:
            self.set_y(-12)
            self.set_font("helvetica", size=8)
            self.cell(0, 8, page_label.format(page=self.page_no(), pages="{nb}"), align="C")

    pdf = Document(format="A4")
    pdf.core_fonts_encoding = ENCODING
    pdf.set_creator("livc")
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(True, margin=MARGIN + 5)
    pdf.add_page()
    pdf.ln(40)
    _text(pdf, report.cell, size=22, style="B", after=3)
    _text(pdf, report.title, size=18, style="B", after=6)
    for line in report.cover:
        _text(pdf, line, size=11, after=2)
    pdf.ln(10)
    heading, *lines = report.key
    _text(pdf, heading, size=12, style="B", after=2)
    for line in lines:
        _text(pdf, line, size=10, after=1)
    for figure in report.figures:
        if pdf.get_y() > pdf.h * 0.6:  # a figure's heading not alone at a page's foot
            pdf.add_page()
        else:
            pdf.ln(6)
        _text(pdf, figure.title, size=14, style="B", after=1)
        _text(pdf, figure.description, size=9, after=3)
        for table in figure.tables:
            _table(pdf, table)
    if report.policy is not None:
        pdf.add_page()
        _text(pdf, report.policy_heading, size=14, style="B", after=4)
        if not report.policy:
            _text(pdf, report.policy_none, size=10)
        for entry in report.policy:
            _text(pdf, entry.title, size=11, style="B", after=0.5)
            _text(pdf, entry.line, size=9, after=1)
            if entry.text:
                _text(pdf, entry.text, size=9, after=1)
            pdf.ln(3)
    return bytes(pdf.output())


# --- the CSV --------------------------------------------------------------------------------------

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    """A text a spreadsheet will not run as a formula (an organisation named "=...")."""
    return f"'{text}" if text.startswith(FORMULA_START) else text


def figures_csv(found: Figures) -> bytes:
    """One line per figure, table, row and column, the value as shown ("< 5", "×" or a count)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([str(name) for name in CSV_HEADER])
    shown = ([found.active] if found.active is not None else []) + list(found.views)
    for figure in shown:
        for table in figure.tables:
            for row in table.rows:
                for column, label, cell in zip(table.columns, table.column_labels, row.cells, strict=True):
                    writer.writerow([_cell(str(figure.figure.title)), figure.key, _cell(table.title), table.key,
                                     _cell(row.label), row.key, label, column, cell.text])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
