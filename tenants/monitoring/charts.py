"""The figures as pictures: a chart per figure, drawn on the server as SVG (issue 17, part 3).

The charts are made with pygal and put in the page as markup. The cell's pages allow no script
and no inline style (the CSP: ``script-src 'self'; style-src 'self'``), so what pygal adds for
its tooltips and its looks (a ``<script>``, a ``<style>``, ``style`` attributes, a title and
description per point) is taken out, and the looks come back as SVG presentation attributes
(``fill``, ``stroke``, ``text-anchor``), which the CSP does not govern, in the design system's
colours.

A chart draws only what the table beside it shows: a count hidden there ("< 5" or "×") is no
value here, and the chart's text alternative (its ``<title>``, its ``<desc>`` and the table it
is described by) says so. The SVG has a ``viewBox`` and no size: it is as wide as its column,
from a phone's 360 px to a desktop's.
"""

from __future__ import annotations

import re
from datetime import date
from xml.etree import ElementTree

import pygal
from flask_babel import format_date
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from pygal.style import Style

from livc.tenants.monitoring.figures import FigureView, Period, Table, period_label
from livc.tenants.monitoring.suppression import THRESHOLD

# GOV.UK Frontend's colours, each at least 3:1 against white (WCAG 1.4.11): orange and yellow are not.
COLOURS = ("#1d70b8", "#00703c", "#4c2c92", "#d4351c", "#28a197", "#912b88", "#003078", "#b58840",
           "#d53880", "#505a5f", "#6f72af", "#0b0c0c")
TEXT, GUIDE, BACKGROUND = "#0b0c0c", "#b1b4b6", "#ffffff"
FONT_SIZE = 14  # in the viewBox's units: about 10 px at 360 px wide, 20 px on a desktop
WIDTH, HEIGHT = 480, 300

MONTH = re.compile(r"^\d{4}-\d{2}$")

TITLE = _l("%(figure)s per month, %(period)s: %(breakdown)s")
DRAWN = _l("One bar per row of the table “%(table)s” below, for each month.")
LINES = _l("One line per row of the table “%(table)s” below, through the months.")
NOT_DRAWN = _l("Counts the table shows as “< %(threshold)s” (fewer than %(threshold)s) or “×” (hidden so that a small "
               "count cannot be worked out) are not drawn.")
NOTHING = _l("No chart: no count of this period is large enough to be shown. The table below holds the figures.")


def _style() -> Style:
    """pygal's layout measures its texts by these sizes; the same sizes are then written on them."""
    return Style(
        colors=COLOURS, background=BACKGROUND, plot_background=BACKGROUND, foreground=TEXT,
        foreground_strong=TEXT, foreground_subtle=TEXT, opacity="1", opacity_hover="1", transition="0ms",
        font_family="inherit", label_font_size=FONT_SIZE, major_label_font_size=FONT_SIZE,
        legend_font_size=FONT_SIZE, no_data_font_size=FONT_SIZE + 4, value_font_size=FONT_SIZE,
        title_font_size=FONT_SIZE,
    )


def month_columns(table: Table) -> list[int]:
    """The indexes of the table's month columns (not the quarters, nor the year)."""
    return [index for index, column in enumerate(table.columns) if MONTH.match(column)]


def _month_label(column: str) -> str:
    year, month = column.split("-")
    return format_date(date(int(year), int(month), 1), "MMM")


def _ticks(top: int) -> list[int]:
    """Whole numbers from 0 to ``top`` or just past it, at most six, in steps of 1, 2 or 5 times a
    power of ten (pygal's own would be fractions for small counts)."""
    power = 1
    while True:
        for step in (power, 2 * power, 5 * power):
            if top <= 5 * step:
                return list(range(0, -(-top // step) * step + 1, step))
        power *= 10


def figure_chart(figure: FigureView, period: Period, *, chart_id: str, table_id: str) -> Markup | None:
    """The figure's first table as a chart (a bar per row and month), a sentence when no count of
    the period can be drawn, or None when the figure has no months (the cases followed today)."""
    if not figure.tables:
        return None
    table = figure.tables[0]
    months = month_columns(table)
    rows = [row for row in table.rows if not row.total]
    if not months or not rows:
        return None
    drawn = [[row.cells[index].value if row.cells[index].hidden is None else None for index in months] for row in rows]
    top = max((value for values in drawn for value in values if value is not None), default=0)
    if not top:
        return Markup('<p class="govuk-body figures-no-chart">{}</p>').format(NOTHING)
    hidden = any(row.cells[index].hidden is not None for row in rows for index in months)
    line = figure.figure.chart == "line" and len(months) > 1
    kind = pygal.Line if line else pygal.Bar
    chart = kind(
        style=_style(), width=WIDTH, height=HEIGHT, explicit_size=False, disable_xml_declaration=True, js=[],
        css=[], show_legend=True, legend_at_bottom=True, legend_at_bottom_columns=1, truncate_legend=-1,
        truncate_label=-1, print_values=False, show_y_guides=True, margin=8, allow_interruptions=True, dots_size=4,
    )
    chart.x_labels = [_month_label(table.columns[index]) for index in months]
    chart.y_labels = _ticks(top)
    for row, values in zip(rows, drawn, strict=True):
        chart.add(row.label, values)
    title = str(TITLE % {"figure": figure.figure.title, "period": period_label(period.key), "breakdown": table.title})
    description = " ".join(
        [str((LINES if line else DRAWN) % {"table": table.title})]
        + ([str(NOT_DRAWN % {"threshold": THRESHOLD})] if hidden else [])
    )
    return Markup(_without_script_or_style(chart.render_tree(), chart_id, table_id, title, description))


# --- what pygal writes, made fit for the CSP ----------------------------------------------------


def _tag(element: ElementTree.Element) -> str:
    tag = element.tag if isinstance(element.tag, str) else ""
    return tag.rsplit("}", 1)[-1]


def _classes(element: ElementTree.Element) -> set[str]:
    return set((element.get("class") or "").split())


def _drop(parent: ElementTree.Element, unwanted) -> None:
    for child in list(parent):
        if unwanted(child):
            parent.remove(child)
        else:
            _drop(child, unwanted)


def _unwanted(element: ElementTree.Element) -> bool:
    """Script, style, tooltips and their texts, comments, pygal's own title."""
    if not isinstance(element.tag, str):  # a comment
        return True
    return _tag(element) in ("script", "style", "title", "desc") or bool(
        _classes(element) & {"tooltip", "text-overlay", "title"})


def _paint(element: ElementTree.Element, inherited: set[str], series: int | None) -> None:
    classes = _classes(element)
    inside = inherited | classes
    for name in classes:
        if name.startswith("color-") and name[6:].isdigit():
            series = int(name[6:])
    element.attrib.pop("style", None)
    tag = _tag(element)
    colour = COLOURS[series % len(COLOURS)] if series is not None else None
    if tag == "rect" and "background" in classes:
        element.set("fill", BACKGROUND)
    elif tag == "text":
        element.set("fill", TEXT)
        element.set("font-size", str(FONT_SIZE + 4 if "no_data" in classes else FONT_SIZE))
        if "no_data" in classes or ("axis" in inside and "x" in inside):
            element.set("text-anchor", "middle")
        elif "axis" in inside and "y" in inside:
            element.set("text-anchor", "end")
    elif tag == "path" and "line" in classes and "axis" in inside:
        element.set("fill", "none")
        element.set("stroke", TEXT if "major" in classes and "guide" not in classes else GUIDE)
        if "x" in inside and "guide" in classes:
            element.set("stroke-opacity", "0")  # a vertical guide per month: noise
    elif colour is not None and tag == "path" and "line" in classes:
        element.set("fill", "none")
        element.set("stroke", colour)
        element.set("stroke-width", "3")
    elif colour is not None and tag in ("rect", "circle", "path"):
        element.set("fill", colour)
        element.set("stroke", colour)
    for child in element:
        _paint(child, inside, series)


def _without_script_or_style(root: ElementTree.Element, chart_id: str, table_id: str, title: str,
                             description: str) -> str:
    _drop(root, _unwanted)
    for defs in [child for child in root if _tag(child) == "defs" and not len(child)]:
        root.remove(defs)
    _paint(root, set(), None)
    root.set("id", chart_id)
    root.set("class", "livc-chart")
    root.set("width", "100%")
    root.set("role", "img")
    root.set("aria-labelledby", f"{chart_id}-title")
    root.set("aria-describedby", f"{chart_id}-desc {table_id}")
    root.set("focusable", "false")
    summary_title = ElementTree.Element("title", id=f"{chart_id}-title")
    summary_title.text = title
    summary = ElementTree.Element("desc", id=f"{chart_id}-desc")
    summary.text = description
    root.insert(0, summary)
    root.insert(0, summary_title)
    return ElementTree.tostring(root, encoding="unicode")
