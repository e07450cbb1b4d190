"""The platform-wide figures: the cells' anonymous figures summed over the cells that agreed.

For policy, the platform's administrators see the aggregates a strategic table sees, summed over
every cell (issue 17, part 7). The rules:

- a cell counts only while it is active and its last joint decision says it counts
  (:mod:`livc.tenants.monitoring.consent`); a cell that never decided does not;
- per figure, the leaf counts of the cells are summed (each cell's facts are read inside its
  own tenant context): what is counted and the month stay, the municipality of residence goes
  (the place is the platform as a whole: no breakdown by cell or municipality), and a measure
  keeps the kind of its organisation only, never the organisation;
- the sum is one cube per figure (:func:`livc.tenants.monitoring.figures.build` over a place
  dimension of one node), hidden as a whole exactly as a cell's figures are, before anything is
  shown: small counts as "< 5", and what would reveal them;
- how many cells count is said from :data:`MIN_CELLS` on; below, "fewer than 5 cells";
- nothing else leaves a cell: no case, no code, no date finer than the month.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from livc.platform.db import db, tenant_context
from livc.platform.policy import FigureScope, MonitoringScope
from livc.platform.tenancy import Tenant, TenantStatus
from livc.tenants.monitoring.consent import counts_in_platform_figures
from livc.tenants.monitoring.facts import Fact
from livc.tenants.monitoring.figures import (
    CELL,
    FIGURES,
    MEASURE_FIGURES,
    FigureCube,
    FigureDef,
    FigureView,
    Period,
    Territory,
    build,
    view,
)
from livc.tenants.monitoring.reading import all_facts
from livc.tenants.monitoring.suppression import THRESHOLD

MIN_CELLS = THRESHOLD  # fewer cells than this, and the page says "fewer than 5 cells"


class PlatformWide(Territory):
    """The place dimension of the platform's cubes: one node, the platform as a whole."""

    def __init__(self) -> None:
        super().__init__(())

    def node(self, residence: str) -> str:
        return CELL

    @property
    def leaves(self) -> list[str]:
        return []

    def label(self, node: str) -> str:
        return str(_l("Every cell that counts"))


PLATFORM = PlatformWide()
SCOPE = MonitoringScope(FigureScope.CELL)


@dataclass
class PlatformFigures:
    period: Period
    cells: int  # how many cells were summed: shown only from MIN_CELLS on
    views: list[FigureView]

    @property
    def cells_shown(self) -> int | None:
        return self.cells if self.cells >= MIN_CELLS else None

    @property
    def cells_text(self) -> str:
        if self.cells_shown is None:
            return str(_l("fewer than %(count)s cells", count=MIN_CELLS))
        return str(_l("%(count)s cells", count=self.cells))


def counting_cells() -> list[Tenant]:
    """The active cells whose joint decision says they count in the platform-wide figures."""
    counting = []
    for tenant in db.session.scalars(sa.select(Tenant).where(Tenant.status == TenantStatus.ACTIVE).order_by(Tenant.id)):
        with tenant_context(tenant.id):
            if counts_in_platform_figures():
                counting.append(tenant)
    return counting


def platform_fact(fact: Fact) -> Fact:
    """A cell's fact as the platform counts it: no municipality, a measure by kind of organisation."""
    category = fact.category
    if fact.figure in MEASURE_FIGURES:
        category = (category[0].split("/")[0],)
    return Fact(fact.figure, fact.month, "", category)


def platform_facts(tenants: Iterable[Tenant], today: date | None = None) -> Counter:
    """Every cell's facts (its live records and the counts erased records left), summed."""
    summed: Counter = Counter()
    for tenant in tenants:
        with tenant_context(tenant.id):
            for fact, count in all_facts(tenant.id, today):
                summed[platform_fact(fact)] += count
    return summed


def platform_definition(figure: FigureDef) -> FigureDef:
    """Measures by kind of organisation only: the platform never names an organisation."""
    return replace(figure, by_organisation=False)


def platform_cube(figure: FigureDef, year: int, facts: Counter) -> FigureCube:
    """The figure's platform cube over ``year``, hidden as a whole."""
    return build(platform_definition(figure), year, facts.items(), PLATFORM, {})


def platform_view(built: FigureCube, period: Period) -> FigureView:
    """Category x period tables, as on a cell's pages, without the (one-node) place table."""
    shown = view(built, period, SCOPE, PLATFORM)
    shown.tables = [table for table in shown.tables if table.breakdown != "municipality"]
    return shown


def sum_platform_figures(period: Period, today: date | None = None) -> PlatformFigures:
    cells = counting_cells()
    facts = platform_facts(cells, today)
    views = [platform_view(platform_cube(figure, period.year, facts), period) for figure in FIGURES]
    return PlatformFigures(period, len(cells), views)
