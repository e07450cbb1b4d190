"""The platform-wide figures on the console: ``/admin/figures`` and ``GET /admin/api/figures``.

For the platform's administrators only (``OperatorAction.PLATFORM_FIGURES_VIEW``). Query:
``period`` (``2026``, ``2026-Q2``, ``2026-05``; the current year by default), refused with the
field's message (400) when it is in the future, before 2015 or not a period. Nothing but the
sums of :mod:`livc.admin.figures.platform`: small counts come as ``"< 5"``, counts hidden so
that a small one cannot be worked out as ``"×"``. Every reading is in the operator trail
(``figures.platform_read``, with the period).
"""

from __future__ import annotations

from flask import jsonify, make_response, render_template, request
from marshmallow import Schema, fields

from livc.admin.access import actor, operator_guard
from livc.admin.figures.platform import MIN_CELLS, PlatformFigures, sum_platform_figures
from livc.admin.operators.operations import record_action
from livc.admin.web import blueprint
from livc.platform.openapi import documented
from livc.platform.policy import OperatorAction
from livc.tenants.access import json_error
from livc.tenants.monitoring.api import figure_json
from livc.tenants.monitoring.figures import Period, PeriodError, parse_period
from livc.tenants.monitoring.suppression import THRESHOLD
from livc.tenants.web import no_store


class PeriodQuerySchema(Schema):
    period = fields.String(metadata={"description": "2026, 2026-Q2 or 2026-05; the current year when absent."})


class CellsCountedSchema(Schema):
    counted = fields.Integer(required=True, allow_none=True)  # null: fewer cells than at_least
    at_least = fields.Integer(required=True)
    text = fields.String(required=True)


class PlatformFiguresOutSchema(Schema):
    """The platform's figures: sums only, small counts as ``"< 5"``, hidden ones as ``"×"``."""

    period = fields.String(required=True)
    threshold = fields.Integer(required=True)
    cells = fields.Nested(CellsCountedSchema, required=True)
    figures = fields.List(fields.Dict(), required=True)  # as the cells' monitoring API shows a figure


def _read(period: Period) -> PlatformFigures:
    found = sum_platform_figures(period)
    record_action("figures.platform_read", actor=actor(), details={"period": period.key})
    return found


def _page(found: PlatformFigures | None, typed: dict, errors: dict | None = None, status: int = 200):
    page = render_template("admin/platform_figures.html", found=found, typed=typed, errors=errors or {},
                           threshold=THRESHOLD)
    return no_store(make_response(page, status))


@blueprint.get("/figures")
@operator_guard(OperatorAction.PLATFORM_FIGURES_VIEW)
def platform_figures():
    typed = {"period": request.args.get("period", "")}
    try:
        period = parse_period(request.args.get("period"))
    except PeriodError as error:
        return _page(None, typed, {"period": [str(error.args[0])]}, 400)
    return _page(_read(period), {"period": period.key})


@blueprint.get("/api/figures")
@documented(query=PeriodQuerySchema, answer=PlatformFiguresOutSchema, summary="The platform-wide figures of a period.")
@operator_guard(OperatorAction.PLATFORM_FIGURES_VIEW)
def api_platform_figures():
    try:
        period = parse_period(request.args.get("period"))
    except PeriodError as error:
        message = str(error.args[0])
        return json_error(400, message, code="invalid_query", fields={"period": [message]})
    found = _read(period)
    return no_store(jsonify(PlatformFiguresOutSchema().dump({
        "period": found.period.key,
        "threshold": THRESHOLD,
        "cells": {"counted": found.cells_shown, "at_least": MIN_CELLS, "text": found.cells_text},
        "figures": [figure_json(figure) for figure in found.views],
    })))
