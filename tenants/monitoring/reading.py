"""The figures a member may see, for a period: what the pages, the API, the report and the CSV show.

Everything here runs inside the cell's tenant context; nothing names a case or a person.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from livc.platform.db import db
from livc.platform.policy import FigureScope, MonitoringScope, Person, monitoring_scope
from livc.platform.tenancy import Tenant
from livc.platform.timeutil import utcnow
from livc.tenants.cases.models import Case
from livc.tenants.cases.operations import stage_of
from livc.tenants.cell.models import TableKind
from livc.tenants.members.models import Organisation
from livc.tenants.monitoring.facts import Fact, live_facts
from livc.tenants.monitoring.figures import (
    ACTIVE_STAGES,
    BREAKDOWNS,
    CELL,
    FIGURES_BY_KEY,
    ROOT,
    FigureCube,
    FigureDef,
    FigureView,
    Period,
    PeriodError,
    Table,
    Territory,
    build,
    figures_for,
    parse_period,
    row_of,
    stage_labels,
    view,
)
from livc.tenants.monitoring.ledger import kept_facts
from livc.tenants.monitoring.suppression import Cube, Dimension
from livc.tenants.strategy.operations import policy_table, strategic_table


def scope_for(person: Person, tenant: Tenant) -> MonitoringScope:
    """A seat at a strategic table of its own opens the cell's figures; the one table of an
    integrated cell seats every partner, who see their own organisation's measures only."""
    table = policy_table()
    seats = strategic_table() if table is not None and table.kind == TableKind.STRATEGIC else None
    return monitoring_scope(person, seats, tenant.nis_codes)


def territory_of(tenant: Tenant) -> Territory:
    return Territory(tuple(tenant.nis_codes))


def organisation_names() -> dict[int, tuple[str, str]]:
    return {o.id: (o.name, o.kind.value) for o in db.session.scalars(sa.select(Organisation).order_by(Organisation.name))}


def all_facts(tenant_id: int, today: date | None = None) -> list[tuple[Fact, int]]:
    """The cell's facts: its live records and the counts its erased records left."""
    return [(fact, 1) for fact in live_facts(tenant_id, today)] + list(kept_facts())


@dataclass
class Figures:
    """What one reader sees for one period."""

    period: Period
    scope: MonitoringScope
    views: list[FigureView]
    active: FigureView | None  # cases followed now, by stage (the cell or the mayor's municipality)
    territory: Territory

    def find(self, key: str) -> FigureView | None:
        return next((figure for figure in self.views if figure.key == key), None)


def cubes(tenant: Tenant, year: int, keys: Iterable[str] | None = None, facts: list[tuple[Fact, int]] | None = None,
          scope: MonitoringScope | None = None) -> list[FigureCube]:
    facts = facts if facts is not None else all_facts(tenant.id)
    territory = territory_of(tenant)
    names = organisation_names()
    wanted = figures_for(scope) if scope is not None else None
    return [
        build(figure, year, facts, territory, names)
        for figure in (wanted or figures_for(MonitoringScope(FigureScope.CELL)))
        if keys is None or figure.key in keys
    ]


def own_organisation_leaves(scope: MonitoringScope) -> list[str]:
    if scope.organisation_id is None:
        return []
    organisation = db.session.get(Organisation, scope.organisation_id)
    return [f"{organisation.kind.value}/{organisation.id}"] if organisation is not None else []


def figures(person: Person, tenant: Tenant, period: Period, *, figure_keys: Iterable[str] | None = None) -> Figures:
    return figures_in(scope_for(person, tenant), tenant, period, figure_keys=figure_keys)


def figures_in(scope: MonitoringScope, tenant: Tenant, period: Period, *, figure_keys: Iterable[str] | None = None) -> Figures:
    territory = territory_of(tenant)
    built = cubes(tenant, period.year, figure_keys, scope=scope)
    own = own_organisation_leaves(scope)
    views = [view(cube, period, scope, territory, own_organisations=own) for cube in built]
    active = active_cases(tenant, scope, territory) if scope.kind != FigureScope.ORGANISATION else None
    return Figures(period, scope, views, active, territory)


def active_cases(tenant: Tenant, scope: MonitoringScope, territory: Territory, today: date | None = None) -> FigureView:
    """Cases followed now, by stage and municipality: one column, hidden as the other figures."""

    today = today or utcnow().date()
    counted: Counter = Counter()
    for case in db.session.scalars(sa.select(Case)):
        stage = stage_of(case, today)
        if stage in ACTIVE_STAGES:
            counted[(stage.value, "now", territory.node(case.residence_nis or ""))] += 1
    categories = Dimension("category", ROOT)
    categories.add(ROOT, [stage.value for stage in ACTIVE_STAGES])
    now = Dimension("period", "now")
    places = Dimension("municipality", CELL)
    places.add(CELL, territory.leaves)
    cube = Cube.from_facts([categories, now, places], counted).suppress()
    place = scope.municipality_nis if scope.kind == FigureScope.MUNICIPALITY else CELL
    label = str(_l("Today"))
    rows = [row_of(cube, key, place, ["now"], key, name) for key, name in stage_labels()]
    rows.append(row_of(cube, ROOT, place, ["now"], ROOT, str(_l("Total")), total=True))
    tables = [Table("active-stage", str(_l("Stage")), "stage", ["now"], [label], rows)]
    if scope.kind == FigureScope.CELL:
        by_place = [row_of(cube, ROOT, node, ["now"], node, territory.label(node)) for node in territory.leaves]
        by_place.append(row_of(cube, ROOT, CELL, ["now"], CELL, territory.label(CELL), total=True))
        tables.append(Table("active-municipality", str(_l("Municipality of residence")), "municipality", ["now"], [label], by_place))
    elif scope.kind == FigureScope.MUNICIPALITY:
        rows = [row_of(cube, ROOT, CELL, ["now"], CELL, territory.label(CELL), total=True)]
        tables.append(Table("active-cell", str(_l("The whole cell")), "municipality", ["now"], [label], rows))
    definition = FigureDef("cases_active", _l("Cases followed now"),
                           _l("Cases open today, or closed with reviews after closure still to hold, by stage."), ())
    return FigureView(definition, tables)




QueryError = tuple[int, dict[str, list[str]]]


def query_figures(person: Person, tenant: Tenant, args) -> tuple[Figures | None, QueryError | None]:
    """The figures a query asks for (``period``, ``figure``, ``breakdown``, ``municipality``), or
    the status and field messages that refuse it. Shared by the pages, the API and the exports."""
    errors: dict[str, list[str]] = {}
    try:
        period = parse_period(args.get("period"))
    except PeriodError as error:
        errors["period"] = [str(error.args[0])]
        period = None
    figure = args.get("figure") or None
    if figure is not None and figure not in FIGURES_BY_KEY:
        errors["figure"] = [str(_l("There is no such figure."))]
    breakdown = args.get("breakdown") or None
    if breakdown is not None and breakdown not in BREAKDOWNS:
        errors["breakdown"] = [str(_l("Break the figures down by category, municipality or organisation."))]
    scope = scope_for(person, tenant)
    wanted_place = args.get("municipality") or None
    if wanted_place is not None and wanted_place not in tenant.nis_codes:
        errors["municipality"] = [str(_l("This municipality is not one of the cell's."))]
    if errors:
        return None, (400, errors)
    if wanted_place is not None:
        if scope.kind == FigureScope.CELL:
            scope = MonitoringScope(FigureScope.MUNICIPALITY, municipality_nis=wanted_place)
        elif scope.municipality_nis != wanted_place:
            return None, (403, {"municipality": [str(_l("You see the figures of your own municipality only."))]})
    found = figures_in(scope, tenant, period, figure_keys=[figure] if figure else None)
    if breakdown is not None:
        for shown in found.views:
            shown.tables = [table for table in shown.tables if _breakdown_of(table) == breakdown]
    return found, None


def _breakdown_of(table: Table) -> str:
    return table.breakdown if table.breakdown in ("municipality", "organisation") else "category"
