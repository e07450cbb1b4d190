"""``GET /<cell>/api/monitoring``: the cell's anonymous figures, as the reader may see them.

Query: ``period`` (``2026``, ``2026-Q2``, ``2026-05``; the current year by default), ``figure``
(one figure's key), ``breakdown`` (``category``, ``municipality`` or ``organisation``: only
those tables) and ``municipality`` (a NIS code: that municipality's figures, for whoever sees
the whole cell, or a mayor's own). A wrong value answers 400 with the field's message; a
mayor asking for another municipality, 403. Small counts come as ``"< 5"``, counts hidden so
that a small one cannot be worked out as ``"×"``.
"""

from __future__ import annotations

from flask import g, request
from marshmallow import Schema, fields

from livc.platform import audit
from livc.platform.openapi import documented
from livc.platform.policy import Action
from livc.tenants.access import guard, json_error
from livc.tenants.monitoring.reading import Figures, FigureView, Table, query_figures
from livc.tenants.monitoring.suppression import THRESHOLD
from livc.tenants.web import blueprint, no_store_answer


class FiguresQuery(Schema):
    period = fields.String(metadata={"description": "2026, 2026-Q2 or 2026-05; the current year by default."})
    figure = fields.String(metadata={"description": "One figure's key."})
    breakdown = fields.String(metadata={"enum": ["category", "municipality", "organisation"]})
    municipality = fields.String(metadata={"description": "A NIS code of the cell."})


class ColumnOut(Schema):
    key = fields.String()
    label = fields.String()


class RowOut(Schema):
    key = fields.String()
    label = fields.String()
    total = fields.Boolean()
    values = fields.List(fields.Raw(), metadata={
        "description": 'A count, or "< 5" for a small one, or "×" for one hidden so that a small one cannot be worked out.'})


class TableOut(Schema):
    key = fields.String()
    title = fields.String()
    breakdown = fields.String(allow_none=True)
    columns = fields.List(fields.Nested(ColumnOut))
    rows = fields.List(fields.Nested(RowOut))


class FigureOut(Schema):
    key = fields.String()
    title = fields.String()
    description = fields.String()
    about_people = fields.Boolean()
    tables = fields.List(fields.Nested(TableOut))


class ScopeOut(Schema):
    kind = fields.String()
    municipality = fields.String(allow_none=True)
    municipality_name = fields.String(allow_none=True)


class FiguresAnswer(Schema):
    """What :func:`figures_json` answers."""

    period = fields.String()
    scope = fields.Nested(ScopeOut)
    threshold = fields.Integer()
    figures = fields.List(fields.Nested(FigureOut))
    active = fields.Nested(FigureOut, allow_none=True)


def table_json(table: Table) -> dict:
    return {
        "key": table.key,
        "title": table.title,
        "breakdown": table.breakdown,
        "columns": [{"key": key, "label": label} for key, label in zip(table.columns, table.column_labels, strict=True)],
        "rows": [
            {"key": row.key, "label": row.label, "total": row.total, "values": [cell.as_json() for cell in row.cells]}
            for row in table.rows
        ],
    }


def figure_json(figure: FigureView) -> dict:
    return {
        "key": figure.key,
        "title": str(figure.figure.title),
        "description": str(figure.figure.description),
        "about_people": figure.figure.about_people,
        "tables": [table_json(table) for table in figure.tables],
    }


def figures_json(found: Figures) -> dict:
    scope = found.scope
    return {
        "period": found.period.key,
        "scope": {
            "kind": scope.kind.value,
            "municipality": scope.municipality_nis,
            "municipality_name": found.territory.label(scope.municipality_nis) if scope.municipality_nis else None,
        },
        "threshold": THRESHOLD,
        "figures": [figure_json(figure) for figure in found.views],
        "active": figure_json(found.active) if found.active is not None else None,
    }


@blueprint.get("/api/monitoring")
@documented(answer=FiguresAnswer, query=FiguresQuery, summary="The cell's anonymous figures, as the reader may see them.", tags=("monitoring",))
@guard(Action.MONITORING_VIEW)
def api_monitoring():
    found, error = query_figures(g.person, g.tenant, request.args)
    if error is not None:
        status, fields = error
        return json_error(status, next(iter(fields.values()))[0], code="invalid_query" if status == 400 else "forbidden",
                          fields=fields)
    audit.record("monitoring.read", details={"period": found.period.key, "scope": found.scope.kind.value})
    return no_store_answer(**figures_json(found))
