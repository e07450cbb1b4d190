"""The figures' pages (issue 17): ``/<cell>/figures`` with a chart and the tables of each figure,
the annual report for the municipal council (PDF) and the figures as CSV.

The three take the JSON API's query (``period``, ``figure``, ``breakdown``, ``municipality``,
:func:`livc.tenants.monitoring.reading.query_figures`) and show what the reader's scope allows:
the cell's figures, one municipality's with the cell's total (a mayor in a cell of several
municipalities), or the measures of one's own organisation (a partner). A wrong value answers
400 on the page with the field's message and what was typed; a mayor asking for another
municipality, 403. Every count below the threshold was hidden before this module sees it.
"""

from __future__ import annotations

from flask import g, make_response, render_template, request
from flask_babel import lazy_gettext as _l

from livc.platform import audit
from livc.platform.policy import Action, FigureScope, Person, decide
from livc.platform.timeutil import utcnow
from livc.tenants.access import guard
from livc.tenants.monitoring.charts import figure_chart
from livc.tenants.monitoring.figures import (
    BREAKDOWNS,
    Period,
    PeriodError,
    figures_for,
    parse_period,
    period_label,
)
from livc.tenants.monitoring.reading import Figures, query_figures, scope_for, territory_of
from livc.tenants.monitoring.report import annual_report, figures_csv, printed_report
from livc.tenants.monitoring.suppression import THRESHOLD
from livc.tenants.strategy.models import PolicyEntry
from livc.tenants.strategy.operations import recorded_entries, strategic_table
from livc.tenants.web import blueprint, no_store

QUERY = ("period", "figure", "breakdown", "municipality")
BREAKDOWN_LABELS = {
    "category": _l("What is counted"),
    "municipality": _l("Municipality of residence"),
    "organisation": _l("Organisation"),
}
YEAR_ONLY = _l("The annual report covers a whole year: give a year (2026).")


def _query() -> dict[str, str]:
    """The query as typed, for the form and for the links that keep it."""
    return {name: request.args[name] for name in QUERY if request.args.get(name)}


def _choices(found: Figures | None) -> dict:
    scope = scope_for(g.person, g.tenant)
    territory = territory_of(g.tenant)
    municipalities = []
    if scope.kind == FigureScope.CELL and len(territory.nis_codes) > 1:
        municipalities = [(nis, territory.label(nis)) for nis in territory.nis_codes]
    return {
        "figure_choices": [(figure.key, str(figure.title)) for figure in figures_for(scope)],
        "breakdown_choices": [] if scope.kind == FigureScope.ORGANISATION else
        [(key, str(BREAKDOWN_LABELS[key])) for key in BREAKDOWNS],
        "municipality_choices": municipalities,
        "organisation": _organisation_name(),
    }


def _organisation_name() -> str:
    return g.membership.organisation.name if g.membership.organisation is not None else ""


def _quick_periods(shown: Period | None) -> list[tuple[str, str]]:
    """This year, last year, and the begun quarters of the year shown: (period, label)."""
    now = utcnow().date()
    year = shown.year if shown is not None else now.year
    periods = [str(now.year), str(now.year - 1)]
    periods += [f"{year}-Q{q}" for q in range(1, 5) if Period(year, quarter=q).starts_on <= now]
    return [(period, period_label(period)) for period in dict.fromkeys(periods)]


def _page(found: Figures | None, status: int = 200, errors: dict | None = None):
    charts = {}
    if found is not None:
        for shown in found.views:
            charts[shown.key] = figure_chart(shown, found.period, chart_id=f"chart-{shown.key}",
                                             table_id=f"table-{shown.tables[0].key}" if shown.tables else "")
    query = _query()
    body = render_template(
        "tenants/figures.html", found=found, charts=charts, errors=errors or {}, typed=query,
        query=query, quick_periods=_quick_periods(found.period if found is not None else None),
        threshold=THRESHOLD, scopes=FigureScope, may_consent=bool(decide(g.person, Action.DECISIONS_TAKE)),
        period_text=period_label(found.period.key) if found is not None else "", municipality_name=_municipality_name(found), **_choices(found),
    )
    return no_store(make_response(body, status))


def _municipality_name(found: Figures | None) -> str:
    if found is None or not found.scope.municipality_nis:
        return ""
    return found.territory.label(found.scope.municipality_nis)


def _refused(status: int, fields: dict[str, list[str]]):
    """The page again with the messages: 400 for a wrong value, 403 for another municipality."""
    if status == 403:
        audit.record("access.denied", details={"action": str(Action.MONITORING_VIEW), "reason": "another municipality",
                                               "endpoint": request.endpoint})
        return _page(None, 403, {"_schema": [message for messages in fields.values() for message in messages]})
    return _page(None, status, fields)


def _figures() -> tuple[Figures | None, object | None]:
    found, error = query_figures(g.person, g.tenant, request.args)
    return found, (_refused(*error) if error is not None else None)


@blueprint.get("/figures")
@guard(Action.MONITORING_VIEW)
def figures():
    """A period's figures in the reader's scope: cases followed now first, then each figure."""
    found, refused = _figures()
    if refused is not None:
        return refused
    audit.record("monitoring.read", details={"period": found.period.key, "scope": found.scope.kind.value})
    return _page(found)


def policy_follow_up(person: Person, year: int) -> list[PolicyEntry] | None:
    """The strategic table's recorded entries of ``year`` for the report, or None for a reader
    who may not read the policy follow-up (its pages are the strategic table's)."""
    if not decide(person, Action.STRATEGY_VIEW, strategic_table()):
        return None
    return recorded_entries(year=year)


def _download(body: bytes, mimetype: str, filename: str):
    response = no_store(make_response(body))
    response.headers["Content-Type"] = mimetype
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@blueprint.get("/figures/report.pdf")
@guard(Action.MONITORING_VIEW)
def figures_report():
    """The annual report for the municipal council: a year's figures by quarter, and the policy
    follow-up of that year for whoever may read it (the strategic table)."""
    try:
        asked = parse_period(request.args.get("period"))
    except PeriodError:
        asked = None  # query_figures says why
    if asked is not None and (asked.quarter or asked.month):
        return _page(None, 400, {"period": [str(YEAR_ONLY)]})
    found, refused = _figures()
    if refused is not None:
        return refused
    entries = policy_follow_up(g.person, found.period.year)
    body = annual_report(printed_report(found, g.tenant.name, entries, organisation=_organisation_name()))
    audit.record("monitoring.report", details={"period": found.period.key, "scope": found.scope.kind.value})
    return _download(body, "application/pdf", f"figures-{g.tenant.slug}-{found.period.key}.pdf")


@blueprint.get("/figures/figures.csv")
@guard(Action.MONITORING_VIEW)
def figures_export():
    """Every number shown, one line per figure, table, row and column, for a spreadsheet."""
    found, refused = _figures()
    if refused is not None:
        return refused
    audit.record("monitoring.export", details={"period": found.period.key, "scope": found.scope.kind.value})
    return _download(figures_csv(found), "text/csv; charset=utf-8", f"figures-{g.tenant.slug}-{found.period.key}.csv")
